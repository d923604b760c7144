"""The model a serving process answers with and its live state, swapped together atomically.

The store's model_versions table says which version is active; every replica polls it and
loads that artifact read-only, builds the live state for it (what changed since its
snapshot: api/live) and only then swaps both in, so the first answer of a new model already
knows the recent changes. A request takes one reference (`holder.serving`) and uses it to
the end, so one answer never mixes versions. A load that fails keeps the previous model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from api.live.caches import ModelCaches
from api.live.state import LiveState
from matching.model import TrainedModel

log = logging.getLogger("tagmatch.model")

ActiveVersion = tuple[str, str]  # (version, artifact path)


def load_for_serving(path: Path) -> TrainedModel:
    """Load (memory-mapped) and build the per-model caches before the model is swapped in."""
    return TrainedModel.load(path).warm()


@dataclass(frozen=True, slots=True)
class Serving:
    """What one answer uses: a model, what changed since its snapshot, its derived caches."""

    model: TrainedModel
    live: LiveState
    caches: ModelCaches


class ModelHolder:
    def __init__(
        self,
        model_dir: Path,
        active_version: Callable[[], ActiveVersion | None],
        loader: Callable[[Path], TrainedModel] = load_for_serving,
        live_state: Callable[[TrainedModel], LiveState] | None = None,
    ) -> None:
        """`live_state` builds (and first fills) the live state of a newly loaded model; the
        app passes one reading its store. Without it the model serves with an empty one."""
        self._model_dir = model_dir
        self._active_version = active_version
        self._loader = loader
        self._live_state = live_state
        self._serving: Serving | None = None
        self._lock = threading.Lock()  # one refresh at a time; readers never wait on it
        self.last_error: str | None = None

    @property
    def serving(self) -> Serving | None:
        return self._serving

    @property
    def current(self) -> TrainedModel | None:
        serving = self._serving
        return serving.model if serving is not None else None

    @property
    def version(self) -> str | None:
        model = self.current
        return model.version if model is not None else None

    def _resolve(self, path: str) -> Path:
        artifact = Path(path)
        return artifact if artifact.is_absolute() else self._model_dir / artifact

    def refresh(self) -> bool:
        """Load the active version if it is not the one being served. True when swapped.

        The store is read under the lock: a read that began before an activation committed
        must not be compared after that activation's swap, or it would swap the old version
        back in (the poller racing POST /v1/models/{v}/activate did exactly that).
        """
        with self._lock:
            try:
                active = self._active_version()
            except Exception as exc:  # store outage: keep serving what we have
                self.last_error = f"store unreachable: {exc.__class__.__name__}"
                log.warning("model refresh skipped: %s", self.last_error)
                return False
            if active is None:
                return False
            version, path = active
            if version == self.version:
                return False
            try:
                model = self._loader(self._resolve(path))
            except Exception as exc:
                self.last_error = f"cannot load model {version}: {exc}"
                log.exception("model load failed; still serving %s", self.version)
                return False
            if self._live_state is not None:
                live = self._live_state(model)
            else:
                live = LiveState(model, margin=timedelta(0))
            # A single reference assignment: the swap is atomic.
            self._serving = Serving(model, live, ModelCaches(model))
            self.last_error = None
        log.info("serving model %s", version)
        return True
