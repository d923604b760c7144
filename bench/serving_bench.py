"""Serving throughput and latency: tagmatch beside a bare FastAPI app, under wrk, in phases.

Both servers run at once on 127.0.0.1 with the same uvicorn worker count: the real service
(`tagmatch serve`, a synthetic store trained by the real job, see bench/serving_data.py)
and bench/bare_app.py, which returns captured tagmatch answers as precomputed bytes. wrk
(Debian package `wrk`) drives each with a fixed number of keep-alive connections for a fixed
time; its Lua script (bench/serving_wrk.lua) draws a random user or item id per request from
10 000 sampled ids. Runs alternate bare, tagmatch, bare, tagmatch... so machine noise hits
both sides; each figure is the median over the rounds. The headline is the ratio.

Phases (`--phases`, in this order; each measures recommend n=10 again, beside the bare app):
  steady   recommend n=10 and audience n=100 under wrk; one sequential client's latency;
           push lists of 1 000 users, timed
  bulk     right after `PUT /v1/items` gave all items a new publication window
  retrain  right after load-then-train: every event stamped as received now (a bulk load),
           `tagmatch train --force`, measured as soon as every worker serves the new version;
           then "settled": the same model once the load is older than the live margin
           (recommend and audience), the steady state of that model in the same run
  mixed    recommend (c8) + audience (c4) without and with an ingest stream (POST /v1/events,
           c4): recommend's p99 with the ingest against without, alternating, same run
  profile  py-spy on one worker during a recommend run: where the CPU goes
bulk and retrain change the cached store (a retrain adds a model version); later runs reuse it.

Beside wrk's figures: the servers' CPU time per request (from /proc, all worker processes),
which load on the same 2 cores barely disturbs; the cores other processes used meanwhile (a
busy machine makes a run noise, the report says so); and how the kernel spread the
connections over the workers (uvicorn workers race on one accept queue: 8/8 or 2/14).

    .venv/bin/python bench/serving_bench.py                       # 100k users x 20k items
    .venv/bin/python bench/serving_bench.py --quick               # 10k x 2k, 5 s runs
    .venv/bin/python bench/serving_bench.py --backend postgresql  # schema in database test
    .venv/bin/python bench/serving_bench.py --phases steady profile
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
from serving_changes import (  # noqa: E402
    all_item_ids,
    bulk_change_items,
    profile_summary,
    record_profile,
    stamp_events_received_now,
    time_push_lists,
    train_and_activate,
    wait_until_served,
)
from serving_data import Prepared, Sizes, prepare  # noqa: E402
from serving_load import (  # noqa: E402
    Scenario,
    Server,
    bare_command,
    capture,
    free_port,
    scenarios,
    sequential,
    server,
    start_wrk,
    tagmatch_command,
    worker_pids,
    wrk,
)
from serving_report import Results, report  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PHASES = ("steady", "bulk", "retrain", "mixed", "profile")
SETTLED_SECONDS = 40.0  # past serving's default live margin (30 s) and a few polls
INGEST_LUA = BENCH / "serving_ingest.lua"


def compare(
    phase: str,
    scenario: Scenario,
    sides: dict[str, Server],
    ids_file: Path,
    args: argparse.Namespace,
    results: Results,
) -> None:
    """Warm-up, then `rounds` alternating bare/tagmatch wrk runs. The warm-up starts with
    one request given all the time it needs (the first after a change may catch up on it)."""
    first_id = ids_file.read_text("utf-8").split("\n", 1)[0]
    for target in sides.values():
        httpx.get(target.base + scenario.template % first_id, timeout=600).raise_for_status()
        wrk(target, scenario, ids_file, args, args.warmup)
    for round_no in range(args.rounds):
        for side, target in sides.items():
            run = wrk(target, scenario, ids_file, args, args.duration)
            results.wrk.setdefault((phase, scenario.name, side), []).append(run)
            print(
                f"{phase:<8} {scenario.name:<16} {side:<8} round {round_no + 1}: "
                f"{run.rps:9,.0f} req/s  p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  "
                f"CPU {run.cpu_ms:5.2f} ms/req  other {run.other_cpu_use:.2f} cores  "
                f"conns {run.split}",
                flush=True,
            )


def one_client(
    phase: str, sides: dict[str, Server], ids_file: Path, args: argparse.Namespace, r: Results
) -> None:
    recommend = scenarios(args.audience_n)[0]
    for side, target in sides.items():
        sequential(target.base, recommend.template, ids_file, 30)  # warm the connection path
        latency = sequential(target.base, recommend.template, ids_file, args.sequential)
        r.sequential[(phase, side)] = latency
        print(f"{phase:<8} one client {side:<8}: p50 {latency.p50_ms:.2f} ms", flush=True)


def mixed(real: Server, prepared: Prepared, args: argparse.Namespace, r: Results) -> None:
    """recommend c8 + audience c4, then the same with an ingest stream c4, alternating."""
    recommend, audience = scenarios(args.audience_n)
    users, items = str(prepared.user_ids_file), str(prepared.item_ids_file)
    for round_no in range(args.rounds):
        for with_ingest in (False, True):
            label = "with ingest" if with_ingest else "without ingest"
            running = {
                "recommend": start_wrk(
                    real, "recommend", [users, recommend.template], 8, args.duration
                ),
                "audience": start_wrk(
                    real, "audience", [items, audience.template], 4, args.duration
                ),
            }
            if with_ingest:
                tag = f"bench-{int(time.time())}-{round_no}"
                running["ingest"] = start_wrk(
                    real, "ingest", [users, items, str(args.ingest_batch), tag], 4,
                    args.duration, lua=INGEST_LUA,
                )  # fmt: skip
            for name, process in running.items():
                run = process.finish()
                r.mixed.setdefault((label, name), []).append(run)
                print(
                    f"mixed {label:<15} {name:<9} round {round_no + 1}: {run.rps:7,.0f} req/s  "
                    f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms",
                    flush=True,
                )


def profile(real: Server, prepared: Prepared, args: argparse.Namespace, r: Results) -> None:
    """py-spy on every worker during one recommend run; the stacks merged."""
    outputs = [
        Path(tempfile.mkstemp(suffix=".txt", prefix="pyspy-")[1])
        for _ in worker_pids(real.pid, args.workers)
    ]
    spies = [
        record_profile(pid, args.duration, out)
        for pid, out in zip(worker_pids(real.pid, args.workers), outputs, strict=True)
    ]
    time.sleep(1)  # py-spy attached
    recommend = scenarios(args.audience_n)[0]
    run = wrk(real, recommend, prepared.user_ids_file, args, args.duration)
    for spy in spies:
        _, err = spy.communicate(timeout=120)
        if spy.returncode != 0:
            r.profile = [f"py-spy failed: {err.decode(errors='replace')[-500:]}"]
            return
    merged = outputs[0].with_suffix(".merged.txt")
    merged.write_text("".join(out.read_text(errors="replace") for out in outputs))
    r.profile = [
        f"recommend under wrk meanwhile: {run.rps:,.0f} req/s, {run.cpu_ms:.2f} CPU ms/req",
        *profile_summary(merged),
    ]
    print("\n".join(r.profile), flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers, each server")
    parser.add_argument("--connections", type=int, default=16, help="wrk open connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per warm-up run")
    parser.add_argument("--rounds", type=int, default=3, help="bare/tagmatch pairs per scenario")
    parser.add_argument("--audience-n", type=int, default=100)
    parser.add_argument("--sequential", type=int, default=500, help="one client's requests")
    parser.add_argument("--push-lists", type=int, default=5, help="timed push lists")
    parser.add_argument("--push-size", type=int, default=1000)
    parser.add_argument("--ingest-batch", type=int, default=50, help="events per POST (mixed)")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TAGMATCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--cache-dir", type=Path, default=BENCH / ".cache")
    parser.add_argument("--rebuild", action="store_true", help="prepare the data again")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 10k users x 2k items, 5 s, 2 rounds"
    )
    if parser.parse_known_args()[0].quick:  # smaller defaults; explicit options still win
        parser.set_defaults(
            users=10_000, items=2_000, events=200_000, duration=5.0, warmup=1.0, rounds=2,
            sequential=200, push_lists=3,
        )  # fmt: skip
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: `make bench-tools` installs it (Debian package wrk)")
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    args.wrk_version = version[1] if len(version) > 1 else "?"
    prepared = prepare(
        Sizes(args.users, args.items, args.events, args.seed),
        args.cache_dir,
        backend=args.backend,
        postgres_url=args.postgres_url,
        rebuild=args.rebuild,
    )
    ids = {"user": prepared.user_ids_file, "item": prepared.item_ids_file}
    recommend, audience = scenarios(args.audience_n)
    results = Results()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        tagmatch_env = {
            "TAGMATCH_DATABASE_URL": prepared.database_url,
            "TAGMATCH_MODEL_DIR": str(prepared.model_dir),
            "TAGMATCH_LOG_LEVEL": "WARNING",
            "TAGMATCH_MODEL_POLL_SECONDS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        port = free_port()
        real = stack.enter_context(
            server("tagmatch", tagmatch_command(port, args.workers), tagmatch_env, "/readyz",
                   port, work, workers=args.workers)
        )  # fmt: skip
        bodies = [work / "recommend.json", work / "audience.json"]
        for scenario, body in zip((recommend, audience), bodies, strict=True):
            results.body_sizes[scenario.name] = capture(
                real.base, scenario, ids[scenario.ids_kind], body
            )
        bare_env = {"BARE_RECOMMEND_JSON": str(bodies[0]), "BARE_AUDIENCE_JSON": str(bodies[1])}
        port = free_port()
        bare = stack.enter_context(
            server(
                "bare",
                bare_command(port, args.workers),
                bare_env,
                "/",
                port,
                work,
                workers=args.workers,
            )
        )
        sides = {"bare": bare, "tagmatch": real}
        if "steady" in args.phases:
            for scenario in (recommend, audience):
                compare("steady", scenario, sides, ids[scenario.ids_kind], args, results)
            one_client("steady", sides, ids["user"], args, results)
            pushed = ids["item"].read_text("utf-8").split()[: args.push_lists]
            results.push_ms = time_push_lists(real.base, pushed, args.push_size)
            print(f"push lists of {args.push_size}: {results.push_ms} ms", flush=True)
        if "bulk" in args.phases:
            catalogue = all_item_ids(prepared.database_url)
            seconds = bulk_change_items(real.base, catalogue)
            results.notes.append(
                f"bulk: PUT /v1/items gave {len(catalogue):,} items a new expiry in "
                f"{seconds:.1f} s (batches of 10 000), measured at once after it"
            )
            compare("bulk", recommend, sides, ids["user"], args, results)
            one_client("bulk", sides, ids["user"], args, results)
        if "retrain" in args.phases:
            stamp_events_received_now(prepared.database_url)
            new_version, seconds = train_and_activate(tagmatch_env, work / "train.log")
            waited = wait_until_served(real.base, recommend.template % "probe", new_version)
            results.notes.append(
                f"retrain: all events stamped as received now, `tagmatch train --force` took "
                f"{seconds:.0f} s; every worker served {new_version} {waited:.1f} s later"
            )
            served_at = time.monotonic()
            compare("retrain", recommend, sides, ids["user"], args, results)
            one_client("retrain", sides, ids["user"], args, results)
            # The same model once the load is older than serving's live margin: the steady
            # state the retrain figures are compared with, in the same run.
            time.sleep(max(0.0, served_at + SETTLED_SECONDS - time.monotonic()))
            for scenario in (recommend, audience):
                compare("settled", scenario, sides, ids[scenario.ids_kind], args, results)
            one_client("settled", sides, ids["user"], args, results)
        if "mixed" in args.phases:
            mixed(real, prepared, args, results)
        if "profile" in args.phases:
            profile(real, prepared, args, results)
    print()
    print(report(args, prepared, results))


if __name__ == "__main__":
    main()
