from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.similar_items_out import SimilarItemsOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    item_id: str,
    *,
    n: int | Unset = 10,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["n"] = n

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/items/{item_id}/similar".format(
            item_id=quote(str(item_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | SimilarItemsOut | None:
    if response.status_code == 200:
        response_200 = SimilarItemsOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

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
) -> Response[Problem | SimilarItemsOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    item_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
) -> Response[Problem | SimilarItemsOut]:
    """Similar Items

     Items close to this one in the joint space; an item without events is placed by
    its tags and text.

    Args:
        item_id (str):
        n (int | Unset):  Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | SimilarItemsOut]
    """

    kwargs = _get_kwargs(
        item_id=item_id,
        n=n,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    item_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
) -> Problem | SimilarItemsOut | None:
    """Similar Items

     Items close to this one in the joint space; an item without events is placed by
    its tags and text.

    Args:
        item_id (str):
        n (int | Unset):  Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | SimilarItemsOut
    """

    return sync_detailed(
        item_id=item_id,
        client=client,
        n=n,
    ).parsed


async def asyncio_detailed(
    item_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
) -> Response[Problem | SimilarItemsOut]:
    """Similar Items

     Items close to this one in the joint space; an item without events is placed by
    its tags and text.

    Args:
        item_id (str):
        n (int | Unset):  Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | SimilarItemsOut]
    """

    kwargs = _get_kwargs(
        item_id=item_id,
        n=n,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    item_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
) -> Problem | SimilarItemsOut | None:
    """Similar Items

     Items close to this one in the joint space; an item without events is placed by
    its tags and text.

    Args:
        item_id (str):
        n (int | Unset):  Default: 10.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | SimilarItemsOut
    """

    return (
        await asyncio_detailed(
            item_id=item_id,
            client=client,
            n=n,
        )
    ).parsed
