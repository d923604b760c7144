"""Start a training run as a separate process, so a crash or OOM there leaves serving alone.

Its logs go to the same stream as the API's (inherited stdout/stderr). A watcher thread
waits for it (no zombie) and reports its exit code to `on_exit`: the caller uses that to fail
a job the process could not finish itself (killed, OOM), which would otherwise stay
"running" and refuse every later training request.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable

from api.settings import Settings


def launch_training(
    settings: Settings,
    job_id: str,
    *,
    force: bool = False,
    on_exit: Callable[[int], None] | None = None,
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["TAGMATCH_DATABASE_URL"] = settings.database_url
    env["TAGMATCH_MODEL_DIR"] = str(settings.model_dir)
    if settings.model_config_file is not None:
        env["TAGMATCH_MODEL_CONFIG_FILE"] = str(settings.model_config_file)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    command = [sys.executable, "-m", "api.cli", "train", "--job-id", job_id]
    if force:
        command.append("--force")
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    if on_exit is not None:
        threading.Thread(
            target=lambda: on_exit(process.wait()), name=f"train-{job_id}", daemon=True
        ).start()
    return process
