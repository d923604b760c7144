from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.push_lists_get_push_list_format import PushListsGetPushListFormat
from ...types import UNSET, Response, Unset


def _get_kwargs(
    list_id: str,
    *,
    format_: PushListsGetPushListFormat | Unset = PushListsGetPushListFormat.JSON,
    fields: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_format_: str | Unset = UNSET
    if not isinstance(format_, Unset):
        json_format_ = format_.value

    params["format"] = json_format_

    json_fields: None | str | Unset
    if isinstance(fields, Unset):
        json_fields = UNSET
    else:
        json_fields = fields
    params["fields"] = json_fields

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/push-lists/{list_id}".format(
            list_id=quote(str(list_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Problem | None:
    if response.status_code == 200:
        response_200 = response.json()
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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    list_id: str,
    *,
    client: AuthenticatedClient,
    format_: PushListsGetPushListFormat | Unset = PushListsGetPushListFormat.JSON,
    fields: None | str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Get Push List

    Args:
        list_id (str):
        format_ (PushListsGetPushListFormat | Unset):  Default: PushListsGetPushListFormat.JSON.
        fields (None | str | Unset): CSV columns beyond list_id,user_id,score: rank,reasons (admin
            scope)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        list_id=list_id,
        format_=format_,
        fields=fields,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    list_id: str,
    *,
    client: AuthenticatedClient,
    format_: PushListsGetPushListFormat | Unset = PushListsGetPushListFormat.JSON,
    fields: None | str | Unset = UNSET,
) -> Any | Problem | None:
    """Get Push List

    Args:
        list_id (str):
        format_ (PushListsGetPushListFormat | Unset):  Default: PushListsGetPushListFormat.JSON.
        fields (None | str | Unset): CSV columns beyond list_id,user_id,score: rank,reasons (admin
            scope)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return sync_detailed(
        list_id=list_id,
        client=client,
        format_=format_,
        fields=fields,
    ).parsed


async def asyncio_detailed(
    list_id: str,
    *,
    client: AuthenticatedClient,
    format_: PushListsGetPushListFormat | Unset = PushListsGetPushListFormat.JSON,
    fields: None | str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Get Push List

    Args:
        list_id (str):
        format_ (PushListsGetPushListFormat | Unset):  Default: PushListsGetPushListFormat.JSON.
        fields (None | str | Unset): CSV columns beyond list_id,user_id,score: rank,reasons (admin
            scope)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        list_id=list_id,
        format_=format_,
        fields=fields,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    list_id: str,
    *,
    client: AuthenticatedClient,
    format_: PushListsGetPushListFormat | Unset = PushListsGetPushListFormat.JSON,
    fields: None | str | Unset = UNSET,
) -> Any | Problem | None:
    """Get Push List

    Args:
        list_id (str):
        format_ (PushListsGetPushListFormat | Unset):  Default: PushListsGetPushListFormat.JSON.
        fields (None | str | Unset): CSV columns beyond list_id,user_id,score: rank,reasons (admin
            scope)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return (
        await asyncio_detailed(
            list_id=list_id,
            client=client,
            format_=format_,
            fields=fields,
        )
    ).parsed
