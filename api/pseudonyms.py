"""A stable pseudonym for a user id, where an id must not be kept: logs, the audit log."""

from __future__ import annotations

import hashlib


def person_ref(user_id: str) -> str:
    """`user:` and 16 hex digits of the id's SHA-256: entries about one person still
    correlate, and the id itself is not written down."""
    return "user:" + hashlib.sha256(user_id.encode()).hexdigest()[:16]
