from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.job_accepted import JobAccepted
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    force: bool | Unset = False,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["force"] = force

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/models/train",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> JobAccepted | Problem | None:
    if response.status_code == 202:
        response_202 = JobAccepted.from_dict(response.json())

        return response_202

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[JobAccepted | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
) -> Response[JobAccepted | Problem]:
    """Train

     Start a training run in its own process (a crash there never touches serving).
    One run at a time: while a job is queued or running, its id is returned with 409; so is
    a run without a job (a scheduled `tagmatch train`) holding the training lock. A job whose
    process is gone is marked failed first and does not block.

    Args:
        force (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobAccepted | Problem]
    """

    kwargs = _get_kwargs(
        force=force,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
) -> JobAccepted | Problem | None:
    """Train

     Start a training run in its own process (a crash there never touches serving).
    One run at a time: while a job is queued or running, its id is returned with 409; so is
    a run without a job (a scheduled `tagmatch train`) holding the training lock. A job whose
    process is gone is marked failed first and does not block.

    Args:
        force (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobAccepted | Problem
    """

    return sync_detailed(
        client=client,
        force=force,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
) -> Response[JobAccepted | Problem]:
    """Train

     Start a training run in its own process (a crash there never touches serving).
    One run at a time: while a job is queued or running, its id is returned with 409; so is
    a run without a job (a scheduled `tagmatch train`) holding the training lock. A job whose
    process is gone is marked failed first and does not block.

    Args:
        force (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobAccepted | Problem]
    """

    kwargs = _get_kwargs(
        force=force,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
) -> JobAccepted | Problem | None:
    """Train

     Start a training run in its own process (a crash there never touches serving).
    One run at a time: while a job is queued or running, its id is returned with 409; so is
    a run without a job (a scheduled `tagmatch train`) holding the training lock. A job whose
    process is gone is marked failed first and does not block.

    Args:
        force (bool | Unset):  Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobAccepted | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            force=force,
        )
    ).parsed
