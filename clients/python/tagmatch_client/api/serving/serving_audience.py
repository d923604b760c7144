from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.audience_out import AudienceOut
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    item_id: str,
    *,
    n: int | Unset = 1000,
    segment: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["n"] = n

    json_segment: None | str | Unset
    if isinstance(segment, Unset):
        json_segment = UNSET
    else:
        json_segment = segment
    params["segment"] = json_segment

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
        "url": "/v1/items/{item_id}/audience".format(
            item_id=quote(str(item_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> AudienceOut | Problem | None:
    if response.status_code == 200:
        response_200 = AudienceOut.from_dict(response.json())

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
) -> Response[AudienceOut | Problem]:
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
    n: int | Unset = 1000,
    segment: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> Response[AudienceOut | Problem]:
    """Audience

     The users most likely to engage with this item (works for an item with tags and no
    events yet), optionally only inside a segment or among users with a tag.

    Args:
        item_id (str):
        n (int | Unset):  Default: 1000.
        segment (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AudienceOut | Problem]
    """

    kwargs = _get_kwargs(
        item_id=item_id,
        n=n,
        segment=segment,
        tag=tag,
        exclude_seen=exclude_seen,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    item_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 1000,
    segment: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> AudienceOut | Problem | None:
    """Audience

     The users most likely to engage with this item (works for an item with tags and no
    events yet), optionally only inside a segment or among users with a tag.

    Args:
        item_id (str):
        n (int | Unset):  Default: 1000.
        segment (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AudienceOut | Problem
    """

    return sync_detailed(
        item_id=item_id,
        client=client,
        n=n,
        segment=segment,
        tag=tag,
        exclude_seen=exclude_seen,
    ).parsed


async def asyncio_detailed(
    item_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 1000,
    segment: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> Response[AudienceOut | Problem]:
    """Audience

     The users most likely to engage with this item (works for an item with tags and no
    events yet), optionally only inside a segment or among users with a tag.

    Args:
        item_id (str):
        n (int | Unset):  Default: 1000.
        segment (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AudienceOut | Problem]
    """

    kwargs = _get_kwargs(
        item_id=item_id,
        n=n,
        segment=segment,
        tag=tag,
        exclude_seen=exclude_seen,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    item_id: str,
    *,
    client: AuthenticatedClient,
    n: int | Unset = 1000,
    segment: None | str | Unset = UNSET,
    tag: None | str | Unset = UNSET,
    exclude_seen: bool | Unset = True,
) -> AudienceOut | Problem | None:
    """Audience

     The users most likely to engage with this item (works for an item with tags and no
    events yet), optionally only inside a segment or among users with a tag.

    Args:
        item_id (str):
        n (int | Unset):  Default: 1000.
        segment (None | str | Unset):
        tag (None | str | Unset):
        exclude_seen (bool | Unset):  Default: True.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AudienceOut | Problem
    """

    return (
        await asyncio_detailed(
            item_id=item_id,
            client=client,
            n=n,
            segment=segment,
            tag=tag,
            exclude_seen=exclude_seen,
        )
    ).parsed
