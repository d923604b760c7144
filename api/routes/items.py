"""PUT /v1/items, GET and DELETE /v1/items/{item_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from api import ingest
from api.deps import SessionDep, batch_limit, require_scope
from api.errors import ProblemError
from api.schemas.common import ID_MAX, Upserted, problem_responses
from api.schemas.items import ItemBatch, ItemOut
from api.store import items

router = APIRouter(
    prefix="/v1/items",
    tags=["items"],
    dependencies=[require_scope("ingest")],
    responses=problem_responses(401),
)

ItemId = Annotated[str, Path(min_length=1, max_length=ID_MAX)]


@router.put(
    "",
    summary="Insert or update items in one batch",
    dependencies=[Depends(batch_limit("items"))],
    responses=problem_responses(413, 422),
)
def put_items(batch: ItemBatch, session: SessionDep) -> Upserted:
    """All or nothing. Keywords are extracted from title and text. Sending a deleted item
    again publishes it again."""
    written = ingest.write_items(session, [item.to_record() for item in batch.items])
    return Upserted(upserted=written)


@router.get("/{item_id}", responses=problem_responses(404, 422))
def get_item(item_id: ItemId, session: SessionDep) -> ItemOut:
    item = items.get_item(session, item_id)
    if item is None:
        raise ProblemError(404, "Item not found", f"no item {item_id!r}")
    return ItemOut.from_row(item)


@router.delete(
    "/{item_id}",
    status_code=204,
    summary="Delete an item: it is not recommended from now on",
    responses=problem_responses(404, 422),
)
def delete_item(item_id: ItemId, session: SessionDep) -> Response:
    if not items.soft_delete_item(session, item_id):
        raise ProblemError(404, "Item not found", f"no item {item_id!r}")
    return Response(status_code=204)
