"""How long after DELETE /v1/users/{id} the id is gone from every file of the model directory
(the served version included), and what the keyed pseudonym costs per call.

For each size: a SQLite store with a synthetic catalogue, two trained versions (both hold the
user), the app in this process (its erasure purger running), then DELETE and a byte search of
every file under the model directory every 10 ms until the id is in none. Beside it, in the
same run: a purge process with nothing due (the cost of starting `tagmatch models
purge-erased`), so the figure splits into process start and purge work.

    .venv/bin/python bench/erasure_bench.py --users 200 20000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import timeit
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.ingest import write_catalogue
from api.jobs.erasure_purger import run_purge_process
from api.jobs.train import run_training
from api.pseudonyms import person_ref, unkeyed_ref, use_key
from api.settings import Settings
from api.store.db import create_db_engine, make_session_factory
from api.store.migrate import upgrade_to_head
from matching.synthetic import generate_catalogue

SMALL_MODEL = {"als": {"factors": 16, "iterations": 5}, "search": {"trials": 0}}


def holding(directory: Path, needle: bytes) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


def one_size(n_users: int, root: Path) -> dict[str, float | int]:
    url = f"sqlite:///{root / 'tagmatch.db'}"
    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine)
        catalogue = generate_catalogue(n_users, max(80, n_users // 10), n_users * 15, seed=1)
        write_catalogue(make_session_factory(engine), catalogue)
    finally:
        engine.dispose()
    config = root / "model.json"
    config.write_text(json.dumps(SMALL_MODEL))
    settings = Settings(
        database_url=url,
        model_dir=root / "models",
        model_config_file=config,
        log_level="WARNING",
    )
    run_training(settings, force=True, evaluate=False)
    run_training(settings, force=True, evaluate=False)
    users = json.loads(next((root / "models").glob("*/users.json")).read_text())
    person = users[len(users) // 2]
    with TestClient(create_app(settings)) as client:
        assert holding(settings.model_dir, person.encode())
        started = time.perf_counter()
        assert client.delete(f"/v1/users/{person}").status_code == 204
        while holding(settings.model_dir, person.encode()):
            time.sleep(0.01)
        gone = time.perf_counter() - started
    started = time.perf_counter()
    assert run_purge_process(settings) == 0  # nothing due: start-up and one check
    idle = time.perf_counter() - started
    return {"users": n_users, "delete_to_gone_s": round(gone, 2), "idle_purge_s": round(idle, 2)}


def pseudonym_cost(calls: int = 200_000) -> dict[str, float]:
    use_key("k" * 64)
    ids = [f"user-{n:07d}@example.com" for n in range(calls)]

    def unkeyed() -> None:
        for user_id in ids:
            unkeyed_ref(user_id)

    def keyed() -> None:
        for user_id in ids:
            person_ref(user_id)

    unkeyed_s = min(timeit.repeat(unkeyed, number=1, repeat=5))
    keyed_s = min(timeit.repeat(keyed, number=1, repeat=5))
    return {
        "unkeyed_us": round(unkeyed_s / calls * 1e6, 3),
        "keyed_us": round(keyed_s / calls * 1e6, 3),
        "ratio": round(keyed_s / unkeyed_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[200, 20_000])
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    print(json.dumps({"load_average": os.getloadavg()[0]}))
    print(json.dumps({"pseudonym": pseudonym_cost()}))
    for n_users in args.users:
        with tempfile.TemporaryDirectory() as directory:
            print(json.dumps(one_size(n_users, Path(directory))), flush=True)
    print(json.dumps({"load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
