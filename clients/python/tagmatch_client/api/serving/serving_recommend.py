from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.recommendations_out import RecommendationsOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    n: int | Unset = 10,
    category: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["n"] = n

    json_category: None | str | Unset
    if isinstance(category, Unset):
        json_category = UNSET
    else:
        json_category = category
    params["category"] = json_category

    json_tag: None | str | Unset
    if isinstance(tag, Unset):
        json_tag = UNSET
    else:
        json_tag = tag
    params["tag"] = json_tag

    params["exclude_seen"] = exclude_seen

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/users/{user_id}/recommendations".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | RecommendationsOut | None:
    if response.status_code == 200:
        response_200 = RecommendationsOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | RecommendationsOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
    category: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> Response[Problem | RecommendationsOut]:
    """Recommend

     personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error.

    Args:
        user_id (str):
        n (int | Unset):  Default: 10.
        category (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RecommendationsOut]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        n=n,
        category=category,
        tag=tag,
        exclude_seen=exclude_seen,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
    category: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> Problem | RecommendationsOut | None:
    """Recommend

     personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error.

    Args:
        user_id (str):
        n (int | Unset):  Default: 10.
        category (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RecommendationsOut
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        n=n,
        category=category,
        tag=tag,
        exclude_seen=exclude_seen,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
    category: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> Response[Problem | RecommendationsOut]:
    """Recommend

     personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error.

    Args:
        user_id (str):
        n (int | Unset):  Default: 10.
        category (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | RecommendationsOut]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        n=n,
        category=category,
        tag=tag,
        exclude_seen=exclude_seen,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 10,
    category: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> Problem | RecommendationsOut | None:
    """Recommend

     personal for a user with history; cold_start for a user known only by declared
    attributes/tags; popular otherwise. An unknown user is not an error.

    Args:
        user_id (str):
        n (int | Unset):  Default: 10.
        category (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | RecommendationsOut
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            n=n,
            category=category,
            tag=tag,
            exclude_seen=exclude_seen,
        )
    ).parsed
