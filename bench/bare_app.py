"""The baseline of bench/serving_bench.py: FastAPI doing nothing but HTTP.

Two routes shaped like the real ones (a path parameter, the same query string) return
precomputed JSON bodies: real tagmatch answers captured by the driver, so the bytes on the
wire are the same size. No store, no model, no serialisation work per request: the
difference to tagmatch is everything tagmatch does for an answer.

    BARE_RECOMMEND_JSON=rec.json BARE_AUDIENCE_JSON=aud.json \
        uvicorn bare_app:app --app-dir bench --workers 2
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Response

app = FastAPI()
RECOMMEND_BODY = Path(os.environ["BARE_RECOMMEND_JSON"]).read_bytes()
AUDIENCE_BODY = Path(os.environ["BARE_AUDIENCE_JSON"]).read_bytes()


@app.get("/")
def ready() -> dict[str, bool]:
    return {"ok": True}


@app.get("/v1/users/{user_id}/recommendations")
def recommend(user_id: str, n: int = 10, exclude_seen: bool = True) -> Response:
    return Response(RECOMMEND_BODY, media_type="application/json")


@app.get("/v1/items/{item_id}/audience")
def audience(item_id: str, n: int = 1000, exclude_seen: bool = True) -> Response:
    return Response(AUDIENCE_BODY, media_type="application/json")
