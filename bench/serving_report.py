"""The report of bench/serving_bench.py: markdown tables, ratios against the bare app."""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

from machine_stats import machine
from serving_data import Prepared
from serving_load import Latency, Run, median_run, shown_python


@dataclass
class Results:
    wrk: dict[tuple[str, str, str], list[Run]] = field(default_factory=dict)  # phase, name, side
    sequential: dict[tuple[str, str], Latency] = field(default_factory=dict)  # phase, side
    mixed: dict[tuple[str, str], list[Run]] = field(default_factory=dict)  # with/without, name
    body_sizes: dict[str, int] = field(default_factory=dict)
    push_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)


def _header(args: argparse.Namespace, prepared: Prepared) -> list[str]:
    info = prepared.info
    return [
        f"command: `{shlex.join([shown_python(), *sys.argv])}`",
        f"machine: {machine()}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; wrk {args.wrk_version}",
        f"data: {info['users']:,} users x {info['items']:,} items x {info['events']:,} events "
        f"({args.backend}); prepared in {info['generate_s']} s generate + {info['write_s']} s "
        f"store + {info['train_s']} s train",
        f"load: {args.workers} uvicorn workers per server, wrk -t{args.wrk_threads} "
        f"-c{args.connections}, {args.duration:g} s per run, {args.rounds} rounds alternating "
        f"bare/tagmatch, median shown; random ids from 10 000 sampled",
        "server CPU: user+system time of the server's processes during a run, per request",
    ]


def _throughput(results: Results) -> list[str]:
    lines = [
        "| phase | endpoint | bare req/s | tagmatch req/s | **ratio** | bare p50 / p99 ms "
        "| tagmatch p50 / p99 ms | **p99 ratio** | CPU ms/req tagmatch / bare |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ratio_of(phase: str, name: str) -> float:
        bare = median_run(results.wrk[(phase, name, "bare")])
        return median_run(results.wrk[(phase, name, "tagmatch")]).rps / bare.rps

    # recommend's ratio in other phases against the steady state's (else the settled one's:
    # the same model, later, in a run without the steady phase)
    reference = next(
        (p for p in ("steady", "settled") if (p, "recommend n=10", "bare") in results.wrk), None
    )
    steady_ratio = ratio_of(reference, "recommend n=10") if reference else None
    for phase, name in dict.fromkeys((p, n) for p, n, _ in results.wrk):
        bare = median_run(results.wrk[(phase, name, "bare")])
        real = median_run(results.wrk[(phase, name, "tagmatch")])
        ratio = real.rps / bare.rps
        versus = ""
        if phase != reference and name == "recommend n=10" and steady_ratio:
            versus = f" ({ratio / steady_ratio:.2f}x {reference})"
        lines.append(
            f"| {phase} | {name} | {bare.rps:,.0f} | {real.rps:,.0f} | **{ratio:.3f}**{versus} | "
            f"{bare.p50_ms:.2f} / {bare.p99_ms:.1f} | {real.p50_ms:.2f} / {real.p99_ms:.1f} | "
            f"**{real.p99_ms / bare.p99_ms:.2f}x** | {real.cpu_ms:.2f} / {bare.cpu_ms:.2f} |"
        )
    return lines


def _one_client(results: Results) -> list[str]:
    if not results.sequential:
        return []
    lines = [
        "",
        "One sequential client, recommend n=10 (keep-alive, one request at a time):",
        "",
        "| phase | bare p50 / p99 ms | tagmatch p50 / p99 ms | requests |",
        "|---|---:|---:|---:|",
    ]
    for phase in dict.fromkeys(p for p, _ in results.sequential):
        bare, real = results.sequential[(phase, "bare")], results.sequential[(phase, "tagmatch")]
        lines.append(
            f"| {phase} | {bare.p50_ms:.2f} / {bare.p99_ms:.2f} | "
            f"**{real.p50_ms:.2f}** / {real.p99_ms:.2f} | {real.requests} |"
        )
    return lines


def _mixed(results: Results) -> list[str]:
    if not results.mixed:
        return []
    lines = [
        "",
        "Mixed load on tagmatch alone: recommend c8 + audience c4, without and with an ingest "
        "stream (POST /v1/events, c4), alternating:",
        "",
        "| load | endpoint | req/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|",
    ]
    for (label, name), runs in results.mixed.items():
        run = median_run(runs)
        lines.append(f"| {label} | {name} | {run.rps:,.0f} | {run.p50_ms:.2f} | {run.p99_ms:.1f} |")
    alone = results.mixed.get(("without ingest", "recommend"))
    loaded = results.mixed.get(("with ingest", "recommend"))
    if alone and loaded:
        ratio = median_run(loaded).p99_ms / median_run(alone).p99_ms
        lines.append(f"\nrecommend p99 with ingest / without: **{ratio:.2f}x**")
    return lines


def report(args: argparse.Namespace, prepared: Prepared, results: Results) -> str:
    lines = [*_header(args, prepared), "", *_throughput(results), *_one_client(results)]
    lines += _mixed(results)
    if results.push_ms:
        shown = ", ".join(f"{t:.0f}" for t in results.push_ms)
        lines += [
            "",
            f"push lists of {args.push_size} users (POST /v1/push-lists, one after another): "
            f"median {statistics.median(results.push_ms):.0f} ms ({shown})",
        ]
    lines += ["", *results.notes] if results.notes else []
    every = [r for runs in results.wrk.values() for r in runs]
    if every:
        other = statistics.median(r.other_cpu_use for r in every)
        lines += [
            "",
            f"other processes used a median {other:.2f} cores during the runs (of "
            f"{os.cpu_count()})"
            + (" (PostgreSQL's own backends count here)" if args.backend == "postgresql" else "")
            + ("; above ~0.1 the machine was shared: read ratios" if other > 0.1 else ""),
        ]  # fmt: skip
    lines.append(
        "per run: req/s, p50 ms, p99 ms, server CPU ms/req; cores used by wrk / by other "
        "processes; connections per worker"
    )
    for (phase, name, side), runs in results.wrk.items():
        shown = "; ".join(
            f"{r.rps:,.0f} {r.p50_ms:.2f} {r.p99_ms:.2f} {r.cpu_ms:.2f} "
            f"{r.wrk_cpu_use:.2f}/{r.other_cpu_use:.2f} conns {r.split}"
            for r in runs
        )
        lines.append(f"- {phase}, {name}, {side}: {shown}")
    if results.profile:
        lines += ["", "Profile (py-spy, one worker, recommend under wrk):", "```", *results.profile]
        lines.append("```")
    return "\n".join(lines)
