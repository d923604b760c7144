"""The live state beside the model: what changed in the store since the model's snapshot,
advanced by watermark, so requests answer from memory (see api/live/state.py)."""

from api.live.caches import ModelCaches
from api.live.state import ItemView, LiveState, UserView
from api.live.writes import WriteCounter

__all__ = ["ItemView", "LiveState", "ModelCaches", "UserView", "WriteCounter"]
