"""Erasing users from a saved model version, in place.

A version names its users in `users.json` (row -> id) and holds one vector per user in
`user_vectors.npy`. Erasing a user replaces their id by a tombstone, zeroes their vector and
consent, and blanks their stored recommendations and their places in stored audiences
(matching/precomputed.py); the row stays, so every other array keeps its numbering. Each file
is rewritten to a sibling temp file, fsynced and renamed over the old one: a process that
memory-mapped the old file keeps reading it, and a crash leaves each file either old or new.
The vocabulary goes last, so a crash before it leaves the id findable and the next purge does
the row again.

What stays: the user's other rows (the FAISS copy of the vectors in `users.faiss`, tag weights,
event and interaction rows). They are numbered, not named, so with the id gone they point at
no one; they go with the version when retention deletes it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from matching import precomputed
from matching.base import PAD_ID, PAD_SCORE
from matching.manifest import read_manifest

# The API and the importers refuse '/' in ids (api.schemas.common.ID_PATTERN), so no tombstone
# can collide with a user, yet it is a string the store can be asked about (a rolled-back
# version's users are looked up; PostgreSQL refuses NUL, so no control character). The row
# number keeps the vocabulary's entries distinct.
TOMBSTONE_PREFIX = "erased/"


def tombstone(row: int) -> str:
    return f"{TOMBSTONE_PREFIX}{row}"


def tombstoned_rows(ids: Sequence[str]) -> np.ndarray:
    """Mask of the rows erased from a version: a loader must never answer with them (their
    FAISS copy of the vector stays until retention deletes the version)."""
    return np.fromiter((i.startswith(TOMBSTONE_PREFIX) for i in ids), dtype=bool, count=len(ids))


def replace_file(path: Path, text: str) -> None:
    """Write a text file whole, by rename: readers see the old or the new content."""
    _replace(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    # Same suffix as the file: np.save appends ".npy" to a name without it.
    temp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        write(temp)
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _rewrite_rows(path: Path, rows: list[int], value: float | bool) -> None:
    array = np.load(path, allow_pickle=False)  # a private copy, not a map of the old file
    array[rows] = value
    _replace(path, lambda temp: np.save(temp, array, allow_pickle=False))


def _erase_precomputed(directory: Path, rows: list[int]) -> None:
    """The users' stored recommendations (matching/precomputed.py) blanked and unlinked, and
    their rows blanked out of every stored audience. Each step is idempotent: a purge cut
    short is redone whole by the next."""
    slot_path = directory / precomputed.file_name(precomputed.USER_SLOT)
    if not slot_path.exists():  # a version saved without stored answers
        return
    slots = np.load(slot_path, allow_pickle=False)
    held = slots[rows]
    held = [int(slot) for slot in held[held >= 0]]
    if held:
        _rewrite_rows(directory / precomputed.file_name(precomputed.USER_ITEMS), held, PAD_ID)
        _rewrite_rows(
            directory / precomputed.file_name(precomputed.USER_SCORES), held, float(PAD_SCORE)
        )
    users_path = directory / precomputed.file_name(precomputed.ITEM_USERS)
    audiences = np.load(users_path, allow_pickle=False)
    hit = np.isin(audiences, rows)
    if hit.any():
        scores_path = directory / precomputed.file_name(precomputed.ITEM_USER_SCORES)
        scores = np.load(scores_path, allow_pickle=False)
        audiences[hit], scores[hit] = PAD_ID, PAD_SCORE
        _replace(scores_path, lambda temp: np.save(temp, scores, allow_pickle=False))
        _replace(users_path, lambda temp: np.save(temp, audiences, allow_pickle=False))
    _rewrite_rows(slot_path, rows, PAD_ID)


def erase_users_from_version(directory: Path, is_erased: Callable[[str], bool]) -> int:
    """Tombstone every user of the version at `directory` for whom `is_erased(id)` holds;
    returns how many rows were erased (0: nothing rewritten)."""
    directory = Path(directory)
    read_manifest(directory)  # refuse an incomplete version before touching it
    users_path = directory / "users.json"
    ids: list[str] = json.loads(users_path.read_text("utf-8"))
    rows = [row for row, user_id in enumerate(ids) if is_erased(user_id)]
    if not rows:
        return 0
    _rewrite_rows(directory / "user_vectors.npy", rows, 0.0)
    _rewrite_rows(directory / "user_consent.npy", rows, False)
    _erase_precomputed(directory, rows)
    for row in rows:
        ids[row] = tombstone(row)
    replace_file(users_path, json.dumps(ids, ensure_ascii=False))
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)  # the renames themselves
    finally:
        os.close(fd)
    return len(rows)
