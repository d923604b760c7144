"""Run a measurement in a fresh Python process and read back the JSON object it prints last:
the benches time things (a serving worker's memory, a snapshot read, one ALS fit) in a process
of their own, so that nothing the parent built is in its heap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_json(*argv: str) -> dict[str, float]:
    """`python *argv` with the repository importable; its last stdout line, parsed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, *argv], check=True, capture_output=True, text=True, env=env
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result
