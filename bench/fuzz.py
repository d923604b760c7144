"""Fuzz the API with schemathesis over openapi/openapi.json: count requests and status classes.

Every operation of the stored OpenAPI document gets --examples generated cases that fit its
schema (positive) and --examples that break it (negative), sent in-process to the app over
a trained synthetic store (tests/trained_world.py) on SQLite or PostgreSQL. Every answer
goes through schemathesis' `not_a_server_error` check; every 4xx must be problem+json. The
requests carry the configured API key (the security schemes' generated keys are replaced:
random wrong keys would only meet the failed-key limit's 429).

    .venv/bin/python bench/fuzz.py --examples 170 --backend sqlite|postgresql [--seed 0]

tests/api/test_fuzz.py runs the same fuzz() with a few examples per operation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from requests.models import RequestEncodingMixin
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPENAPI = ROOT / "openapi" / "openapi.json"
PROBLEM = "application/problem+json"
# Starts a `tagmatch train` process per call: the bench fuzzes it, the test suite does not.
TRAINING = "POST /v1/models/train"


@dataclass
class FuzzTally:
    """What the fuzz sent and what came back."""

    requests: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    # "METHOD url -> status: body" of each failure, to reproduce it
    server_errors: list[str] = field(default_factory=list)
    not_problem_4xx: list[str] = field(default_factory=list)

    def record(self, case: Case, response: httpx.Response) -> None:
        self.requests += 1
        self.by_class[f"{response.status_code // 100}xx"] += 1
        self.by_operation[case.operation.label] += 1
        seen = f"{case.method} {response.request.url} -> {response.status_code}: "
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (AssertionError, FailureGroup) as failure:  # one failure, or a group of them
            self.server_errors.append(seen + f"{response.text[:300]} ({failure})")
        if 400 <= response.status_code < 500 and response.headers.get("content-type") != PROBLEM:
            self.not_problem_4xx.append(seen + response.text[:300])


def load_schema() -> Any:
    """The stored OpenAPI document (what clients are told), not the app's live one."""
    return schemathesis.openapi.from_path(OPENAPI)


def send(client: TestClient, case: Case, api_key: str) -> httpx.Response:
    """The case as schemathesis would send it (its requests serialisation), through `client`.

    The app runs inside the caller's TestClient (its lifespan started once), not in a second
    application loop of schemathesis' own ASGI transport."""
    sent = case.as_transport_kwargs(base_url=str(client.base_url))
    headers = {k: v for k, v in sent["headers"].items() if k.lower() != "authorization"}
    headers["X-API-Key"] = api_key
    query = RequestEncodingMixin._encode_params(sent.get("params") or {})
    url = sent["url"] + ("?" + query if query else "")
    body: dict[str, Any] = {}
    if "json" in sent:
        body["content"] = json.dumps(sent["json"], allow_nan=False).encode()
    elif sent.get("data") is not None:
        data = sent["data"]
        body["content"] = data.encode() if isinstance(data, str) else data
    if sent.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in sent["cookies"].items())
    return client.request(sent["method"], url, headers=headers, **body)


def fuzz(
    client: TestClient,
    api_key: str,
    *,
    examples: int,
    random_seed: int = 0,
    skip: frozenset[str] = frozenset(),
) -> FuzzTally:
    """`examples` positive and `examples` negative cases per operation, each sent and tallied."""
    tally = FuzzTally()
    budget = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # count and report, never shrink
        suppress_health_check=list(HealthCheck),
    )
    for result in load_schema().get_all_operations():
        operation = result.ok()
        if operation.label in skip:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(random_seed)
            @budget
            @given(operation.as_strategy(generation_mode=mode))
            def run(case: Case) -> None:
                tally.record(case, send(client, case, api_key))

            try:
                run()
            except Unsatisfiable:  # no parameters to break: nothing negative to send
                continue
    return tally


def wait_for_training(client: TestClient, api_key: str, timeout: float = 300.0) -> None:
    """Let a training process the fuzz started finish before its store is torn down."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = client.get("/v1/jobs", headers={"X-API-Key": api_key}).json()["jobs"]
        if not any(job["status"] in ("queued", "running") for job in jobs):
            return
        time.sleep(1.0)
    raise TimeoutError(f"training still running after {timeout:.0f} s")


@contextmanager
def served_world(backend: str, directory: Path, api_key: str) -> Iterator[TestClient]:
    """The app over the tests' trained synthetic world, on a SQLite file or a fresh
    PostgreSQL schema ($TAGMATCH_TEST_POSTGRES_URL as in tests/conftest.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pydantic import SecretStr
    from trained_world import build_world, postgres_schema

    from api.app import create_app

    @contextmanager
    def database() -> Iterator[str]:
        if backend == "sqlite":
            yield f"sqlite:///{directory / 'tagmatch.db'}"
            return
        server = os.environ.get(
            "TAGMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
        with postgres_schema(server) as url:
            yield url

    with database() as url:
        world = build_world(url, directory)
        settings_ = world.settings.model_copy(update={"api_key": SecretStr(api_key)})
        # A 5xx is counted as an answer, not raised into the fuzz loop.
        with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
            yield client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=170, help="per operation and mode")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from bench.machine_stats import machine

    api_key = "fuzz-key-0123456789"
    with (
        tempfile.TemporaryDirectory() as directory,
        served_world(args.backend, Path(directory), api_key) as client,
    ):
        started = time.perf_counter()
        tally = fuzz(client, api_key, examples=args.examples, random_seed=args.seed)
        elapsed = time.perf_counter() - started
        wait_for_training(client, api_key)
    print(f"machine: {machine()}")
    print(
        f"backend {args.backend}, --examples {args.examples}, seed {args.seed}: "
        f"{tally.requests} requests in {elapsed:.0f} s over {len(tally.by_operation)} operations"
    )
    print("status classes:", dict(sorted(tally.by_class.items())))
    print(f"5xx: {len(tally.server_errors)}; 4xx not problem+json: {len(tally.not_problem_4xx)}")
    for line in (tally.server_errors + tally.not_problem_4xx)[:20]:
        print("  ", line)
    sys.exit(1 if tally.server_errors or tally.not_problem_4xx else 0)


if __name__ == "__main__":
    main()
