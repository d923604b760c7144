from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.event_batch import EventBatch
from ...models.events_accepted import EventsAccepted
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    *,
    body: EventBatch,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/events",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> EventsAccepted | Problem | None:
    if response.status_code == 200:
        response_200 = EventsAccepted.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[EventsAccepted | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: EventBatch,
) -> Response[EventsAccepted | Problem]:
    """Record interactions, idempotently by event id

     All or nothing. A resent event id is counted as a duplicate and not stored again.
    Users and items not seen before are created on the fly. An event type that is neither
    weighted in the model configuration nor in TAGMATCH_EXTRA_EVENT_TYPES is a 422.

    Args:
        body (EventBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EventsAccepted | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: EventBatch,
) -> EventsAccepted | Problem | None:
    """Record interactions, idempotently by event id

     All or nothing. A resent event id is counted as a duplicate and not stored again.
    Users and items not seen before are created on the fly. An event type that is neither
    weighted in the model configuration nor in TAGMATCH_EXTRA_EVENT_TYPES is a 422.

    Args:
        body (EventBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EventsAccepted | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: EventBatch,
) -> Response[EventsAccepted | Problem]:
    """Record interactions, idempotently by event id

     All or nothing. A resent event id is counted as a duplicate and not stored again.
    Users and items not seen before are created on the fly. An event type that is neither
    weighted in the model configuration nor in TAGMATCH_EXTRA_EVENT_TYPES is a 422.

    Args:
        body (EventBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EventsAccepted | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: EventBatch,
) -> EventsAccepted | Problem | None:
    """Record interactions, idempotently by event id

     All or nothing. A resent event id is counted as a duplicate and not stored again.
    Users and items not seen before are created on the fly. An event type that is neither
    weighted in the model configuration nor in TAGMATCH_EXTRA_EVENT_TYPES is a 422.

    Args:
        body (EventBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EventsAccepted | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
