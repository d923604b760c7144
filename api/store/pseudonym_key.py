"""Where this process's pseudonym key (api.pseudonyms) comes from: the setting, else the
store's row (migration 0800). Read once per process, at start-up."""

from __future__ import annotations

from pydantic import SecretStr

from api.pseudonyms import use_key
from api.store.db import SessionFactory, session_scope
from api.store.tables import PseudonymKey

KEY_ROW = 1


class PseudonymKeyNotStored(RuntimeError):
    pass


def stored_key(factory: SessionFactory) -> str:
    with session_scope(factory, read_only=True) as session:
        row = session.get(PseudonymKey, KEY_ROW)
        if row is None:
            raise PseudonymKeyNotStored(
                "the database holds no pseudonym key; run: tagmatch db upgrade"
            )
        return row.key


def load_pseudonym_key(factory: SessionFactory, configured: SecretStr | None) -> None:
    """Install the key for this process: `configured` (TAGMATCH_PSEUDONYM_KEY) when set."""
    use_key(configured.get_secret_value() if configured is not None else stored_key(factory))
