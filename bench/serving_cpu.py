"""CPU per serving request inside one process: tagmatch's app and bench/bare_app.py, driven
through ASGI directly (no HTTP, no server), optionally under cProfile.

wrk against uvicorn (bench/serving_bench.py) measures what a deployment gets; this measures
only the app's own CPU per answer, on the thread that runs it, and a profile sees every call
(TestClient would run the app in another thread). Requests are for random ids from the
prepared store (bench/serving_data.py), one at a time in one event loop; rounds alternate
tagmatch and bare; each figure is the median (and min) over rounds of thread CPU per request.
A busy machine still inflates CPU time (shared caches and cores): compare two versions by
alternating runs and read the minimums. It runs the code of the checkout it lives in (copy
it into an older checkout to measure that one against the same store, --cache-dir).

    .venv/bin/python bench/serving_cpu.py --quick                # 10k users x 2k items
    .venv/bin/python bench/serving_cpu.py --profile audience     # cProfile of one kind
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from serving_data import Sizes, prepare  # noqa: E402

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
PATHS = {
    "recommend": ("/v1/users/{}/recommendations", "n={n}&exclude_seen=true", "user"),
    "audience": ("/v1/items/{}/audience", "n={n}&exclude_seen=true", "item"),
}


async def get(app: App, path: str, query: str) -> tuple[int, bytes]:
    """One GET through the app's ASGI interface: (status, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def cpu_per_request(app: App, kind: str, n: int, ids: list[str], count: int) -> float:
    """Thread CPU microseconds per request over `count` requests for random ids."""
    template, query, _ = PATHS[kind]
    picks = random.Random(count).choices(ids, k=count)
    began = time.thread_time()
    for i in picks:
        status, _ = await get(app, template.format(i), query.format(n=n))
        if status != 200:
            raise RuntimeError(f"{kind} {i}: HTTP {status}")
    return (time.thread_time() - began) / count * 1e6


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="10k users x 2k items x 200k")
    parser.add_argument("--requests", type=int, default=2000, help="per round and kind")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--audience-n", type=int, default=100)
    parser.add_argument("--recommend-n", type=int, default=10)
    parser.add_argument("--profile", choices=sorted(PATHS), help="cProfile one kind instead")
    parser.add_argument("--cache-dir", type=Path, default=BENCH / ".cache")
    args = parser.parse_args()
    if args.quick:
        args.users, args.items, args.events = 10_000, 2_000, 200_000
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prepared = prepare(Sizes(args.users, args.items, args.events), args.cache_dir)
    from api.app import create_app
    from api.settings import Settings

    settings = Settings(
        database_url=prepared.database_url, model_dir=prepared.model_dir, log_level="WARNING"
    )
    app = create_app(settings)
    ids = {
        kind: [line for line in path.read_text("utf-8").splitlines() if line]
        for kind, path in (("user", prepared.user_ids_file), ("item", prepared.item_ids_file))
    }
    sizes = {"recommend": args.recommend_n, "audience": args.audience_n}
    async with app.router.lifespan_context(app):
        while app.state.model_holder.serving.live.age() is None:  # the first poll
            await asyncio.sleep(0.1)
        bodies = {}
        for kind, (template, query, id_kind) in PATHS.items():
            status, bodies[kind] = await get(
                app, template.format(ids[id_kind][0]), query.format(n=sizes[kind])
            )
            assert status == 200, (kind, status)
            await cpu_per_request(app, kind, sizes[kind], ids[id_kind], 200)  # warm-up
        if args.profile:
            kind = args.profile
            profiler = cProfile.Profile()
            profiler.enable()
            per = await cpu_per_request(app, kind, sizes[kind], ids[PATHS[kind][2]], args.requests)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)
            print(out.getvalue())
            return {"profiled_us": per}
        with tempfile.TemporaryDirectory() as tmp:
            for kind, body in bodies.items():
                (Path(tmp) / kind).write_bytes(body)
            os.environ["BARE_RECOMMEND_JSON"] = str(Path(tmp) / "recommend")
            os.environ["BARE_AUDIENCE_JSON"] = str(Path(tmp) / "audience")
            from bare_app import app as bare
        sides: dict[str, App] = {"tagmatch": app, "bare": bare}
        figures: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for kind, (_, _, id_kind) in PATHS.items():
                for side, target in sides.items():
                    per = await cpu_per_request(
                        target, kind, sizes[kind], ids[id_kind], args.requests
                    )
                    figures.setdefault(f"{kind} {side}", []).append(per)
    result: dict[str, Any] = {
        "sizes": [args.users, args.items, args.events],
        "body_bytes": {kind: len(body) for kind, body in bodies.items()},
        "median_us": {k: round(statistics.median(v), 1) for k, v in figures.items()},
        "spread_us": {k: [round(min(v), 1), round(max(v), 1)] for k, v in figures.items()},
    }
    median = result["median_us"]
    for kind in PATHS:
        result[f"{kind} bare/tagmatch"] = round(
            median[f"{kind} bare"] / median[f"{kind} tagmatch"], 3
        )
    return result


def main() -> None:
    args = parse_args()
    load = os.getloadavg()[0]
    result = asyncio.run(run(args))
    result["load_average_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
