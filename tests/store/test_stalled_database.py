"""A PostgreSQL that accepts TCP and never answers (a stalling proxy in front of the real
one): every store-backed request answers 503 within its bound instead of hanging, /healthz
answers throughout, and the service recovers without a restart when the database answers
again. Bounds here are set small so the test stays quick; a hang fails through the futures'
timeout rather than blocking the suite.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from stalling_proxy import stalling_proxy

from api.app import create_app
from api.settings import Settings
from api.store.db import create_db_engine
from api.store.migrate import upgrade_to_head

REQUESTS = 24  # more than the pool holds (5 + 10 overflow)
LIVENESS_SECONDS = 30  # far above every bound: only a hang reaches it


def test_stalled_database_answers_503_and_recovers(postgres_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(postgres_url)
    upgrade_to_head(engine)
    engine.dispose()
    url = make_url(postgres_url)
    with stalling_proxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        settings = Settings(
            database_url=proxied.render_as_string(hide_password=False),
            model_dir=tmp_path / "models",
            db_connect_timeout_seconds=2,
            db_statement_timeout_seconds=1,
            db_pool_timeout_seconds=0.5,
        )
        with TestClient(create_app(settings)) as client:
            assert client.put("/v1/users", json={"users": [{"id": "u1"}]}).status_code == 200

            proxy.stalled.set()
            calls = [
                ("GET", "/v1/users/u1", None),
                ("PUT", "/v1/users", {"users": [{"id": "u2"}]}),
                ("GET", "/readyz", None),
            ]
            with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
                futures = [
                    pool.submit(client.request, method, path, json=body)
                    for i in range(REQUESTS)
                    for method, path, body in [calls[i % len(calls)]]
                ]
                health = client.get("/healthz")
                answers = [future.result(timeout=LIVENESS_SECONDS) for future in futures]
            assert health.status_code == 200
            assert {answer.status_code for answer in answers} == {503}
            assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
            assert all("retry-after" in a.headers for a in answers if a.url.path != "/readyz")

            proxy.stalled.clear()
            recovered = [client.get("/v1/users/u1").status_code for _ in range(3)]
            assert recovered[-1] == 200, recovered
            assert client.get("/v1/users/u2").status_code == 404  # the stalled PUT wrote nothing
