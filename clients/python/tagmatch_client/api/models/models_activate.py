from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.model_version_out import ModelVersionOut
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    version: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/models/{version}/activate".format(
            version=quote(str(version), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ModelVersionOut | Problem | None:
    if response.status_code == 200:
        response_200 = ModelVersionOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ModelVersionOut | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    version: str,
    *,
    client: AuthenticatedClient,
) -> Response[ModelVersionOut | Problem]:
    """Activate

     Make a stored version the active one (e.g. roll back). Every replica picks it up at
    its next poll; this one at once. Segment members are re-evaluated on it, as after a
    training run, so segments, audiences and push lists agree with the model served.

    Args:
        version (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ModelVersionOut | Problem]
    """

    kwargs = _get_kwargs(
        version=version,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    version: str,
    *,
    client: AuthenticatedClient,
) -> ModelVersionOut | Problem | None:
    """Activate

     Make a stored version the active one (e.g. roll back). Every replica picks it up at
    its next poll; this one at once. Segment members are re-evaluated on it, as after a
    training run, so segments, audiences and push lists agree with the model served.

    Args:
        version (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ModelVersionOut | Problem
    """

    return sync_detailed(
        version=version,
        client=client,
    ).parsed


async def asyncio_detailed(
    version: str,
    *,
    client: AuthenticatedClient,
) -> Response[ModelVersionOut | Problem]:
    """Activate

     Make a stored version the active one (e.g. roll back). Every replica picks it up at
    its next poll; this one at once. Segment members are re-evaluated on it, as after a
    training run, so segments, audiences and push lists agree with the model served.

    Args:
        version (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ModelVersionOut | Problem]
    """

    kwargs = _get_kwargs(
        version=version,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    version: str,
    *,
    client: AuthenticatedClient,
) -> ModelVersionOut | Problem | None:
    """Activate

     Make a stored version the active one (e.g. roll back). Every replica picks it up at
    its next poll; this one at once. Segment members are re-evaluated on it, as after a
    training run, so segments, audiences and push lists agree with the model served.

    Args:
        version (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ModelVersionOut | Problem
    """

    return (
        await asyncio_detailed(
            version=version,
            client=client,
        )
    ).parsed
