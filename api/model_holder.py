"""The model a serving process answers with, swapped atomically when the active version changes.

The store's model_versions table says which version is active; every replica polls it and
loads that artifact read-only. A request takes one reference (`holder.current`) and uses it
to the end, so one answer never mixes versions. A load that fails keeps the previous model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from matching.model import TrainedModel

log = logging.getLogger("tagmatch.model")

ActiveVersion = tuple[str, str]  # (version, artifact path)


def load_for_serving(path: Path) -> TrainedModel:
    """Load (memory-mapped) and build the per-model caches before the model is swapped in."""
    return TrainedModel.load(path).warm()


class ModelHolder:
    def __init__(
        self,
        model_dir: Path,
        active_version: Callable[[], ActiveVersion | None],
        loader: Callable[[Path], TrainedModel] = load_for_serving,
    ) -> None:
        self._model_dir = model_dir
        self._active_version = active_version
        self._loader = loader
        self._model: TrainedModel | None = None
        self._lock = threading.Lock()  # one refresh at a time; readers never wait on it
        self.last_error: str | None = None

    @property
    def current(self) -> TrainedModel | None:
        return self._model

    @property
    def version(self) -> str | None:
        model = self._model
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
            self._model = model  # a single reference assignment: the swap is atomic
            self.last_error = None
        log.info("serving model %s", version)
        return True
