from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bench.ml100k import ml100k_path
from matching.data import ItemRecord, UserRecord
from matching.datasets import (
    Catalogue,
    EventRecord,
    EventTable,
    load_movielens_100k,
    movielens_path,
    release_era,
)
from matching.vocabulary import Vocabulary

GENRES = ["unknown", "Action", "Adventure", "Comedy", "Drama"]


def _write_ml100k(root: Path) -> Path:
    root.mkdir()
    (root / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n", "latin-1")
    (root / "u.genre").write_text(
        "".join(f"{name}|{i}\n" for i, name in enumerate(GENRES)) + "\n", "latin-1"
    )
    (root / "u.item").write_text(
        "1|Toy Story (1995)|01-Jan-1995||http://x/1|0|0|0|1|1\n"
        "2|Café Lumière (2003)|15-Mar-2003||http://x/2|0|1|1|0|0\n"
        "3|unknown||||1|0|0|0|0\n",
        "latin-1",
    )
    (root / "u.data").write_text(
        "1\t1\t5\t881250949\n2\t1\t3\t891717742\n2\t2\t1\t878887116\n", "latin-1"
    )
    return root


def test_movielens_parser_on_a_tiny_fixture(tmp_path: Path) -> None:
    catalogue = load_movielens_100k(_write_ml100k(tmp_path / "ml"))

    assert [u.id for u in catalogue.users] == ["1", "2"]
    assert catalogue.users[1].attributes == {
        "age": 53,
        "gender": "f",
        "occupation": "other",
        "zip": "94043",
    }
    assert catalogue.users[0].tags == {} and catalogue.users[0].push_consent

    toy, cafe, unknown = catalogue.items
    assert toy.title == "Toy Story (1995)"
    assert toy.tags == {"genre:Comedy": 1.0, "genre:Drama": 1.0, "released:1995": 1.0}
    assert toy.category == "Comedy"
    assert toy.published_at == 788918400.0  # 1995-01-01T00:00:00Z
    assert cafe.title == "Café Lumière (2003)"  # latin-1 decoded
    assert cafe.category == "Action"
    assert cafe.tags["released:2003"] == 1.0
    assert unknown.tags == {} and unknown.category is None and unknown.published_at is None

    assert catalogue.events[0] == EventRecord(
        id="ml-1-1", user_id="1", item_id="1", type="rating", ts=881250949.0, value=5.0
    )
    snapshot = catalogue.to_snapshot()
    assert snapshot.now == 891717743.0
    assert snapshot.events.user.tolist() == [0, 1, 1]
    assert snapshot.events.item.tolist() == [0, 0, 1]
    assert snapshot.events.value.tolist() == [5.0, 3.0, 1.0]


def test_release_era_is_coarse_for_old_films_and_yearly_for_recent_ones() -> None:
    def at(year: int, month: int = 6) -> float:
        return datetime(year, month, 1, tzinfo=UTC).timestamp()

    assert release_era(at(1939)) == "old"
    assert release_era(at(1979, 12)) == "old"
    assert release_era(at(1980, 1)) == "1980s"
    assert release_era(at(1989, 12)) == "1980s"
    assert release_era(at(1990, 1)) == "1990-94"
    assert release_era(at(1994, 12)) == "1990-94"
    assert release_era(at(1995, 1)) == "1995"
    assert release_era(at(1998)) == "1998"


@pytest.mark.skipif(ml100k_path() is None, reason="MovieLens 100K not available")
def test_movielens_100k_full() -> None:
    path = ml100k_path()
    assert path is not None
    catalogue = load_movielens_100k(path)
    assert len(catalogue.users) == 943
    assert len(catalogue.items) == 1682
    assert len(catalogue.events) == 100_000
    assert catalogue.items[0].tags == {
        "genre:Animation": 1.0,
        "genre:Children's": 1.0,
        "genre:Comedy": 1.0,
        "released:1995": 1.0,
    }
    assert {e.value for e in catalogue.events} == {1.0, 2.0, 3.0, 4.0, 5.0}
    snapshot = catalogue.to_snapshot()
    assert snapshot.n_users == 943 and len(snapshot.events) == 100_000


def test_movielens_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGMATCH_ML100K", str(tmp_path / "absent"))
    assert movielens_path() is None
    root = _write_ml100k(tmp_path / "ml")
    monkeypatch.setenv("TAGMATCH_ML100K", str(root))
    assert movielens_path() == root


def test_movielens_path_assumes_no_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed, the package looks nowhere by itself: only the setting or a caller's default."""
    monkeypatch.delenv("TAGMATCH_ML100K", raising=False)
    assert movielens_path() is None
    root = _write_ml100k(tmp_path / "ml")
    assert movielens_path(default=root) == root


def _small_catalogue() -> Catalogue:
    users = [UserRecord("u1"), UserRecord("u2"), UserRecord("u3")]
    items = [ItemRecord("i1"), ItemRecord("i2")]
    events = [
        EventRecord("e1", "u2", "i1", "view", 100.0),
        EventRecord("e2", "u1", "i2", "purchase", 250.0, value=9.5),
        EventRecord("e3", "u2", "i2", "click", 300.0),
    ]
    return Catalogue(users, items, events)


def test_to_snapshot_round_trips_records() -> None:
    catalogue = _small_catalogue()
    snapshot = catalogue.to_snapshot(now=1000.0)
    log = snapshot.events
    assert snapshot.now == 1000.0
    assert snapshot.user_vocab.lookup(log.user) == [e.user_id for e in catalogue.events]
    assert snapshot.item_vocab.lookup(log.item) == [e.item_id for e in catalogue.events]
    assert [log.type_names[c] for c in log.type_code] == ["view", "purchase", "click"]
    assert log.ts.tolist() == [100.0, 250.0, 300.0]
    assert log.value.tolist() == [0.0, 9.5, 0.0]
    assert catalogue.to_snapshot().now == 301.0


def test_events_naming_unknown_users_or_items_are_rejected() -> None:
    catalogue = _small_catalogue()
    catalogue.events = [*catalogue.events, EventRecord("e4", "ghost", "i1", "view", 1.0)]
    with pytest.raises(ValueError, match=r"user.*'ghost'"):
        catalogue.to_snapshot()
    catalogue.events = [EventRecord("e5", "u1", "nothing", "view", 1.0)]
    with pytest.raises(ValueError, match=r"item.*'nothing'"):
        catalogue.to_snapshot()


def _table() -> EventTable:
    return EventTable(
        user_ids=["u1", "u2", "u3"],
        item_ids=["i2", "i1"],  # a different order than the catalogue's items
        user=np.array([1, 0, 1]),
        item=np.array([1, 0, 0]),
        type_names=["view", "purchase", "click"],
        type_code=np.array([0, 1, 2]),
        ts=np.array([100.0, 250.0, 300.0]),
        value=np.array([np.nan, 9.5, np.nan]),
        id_prefix="e",
        id_width=1,
    )


def test_event_table_reads_as_records_and_snapshots_like_a_list() -> None:
    table = _table()
    records = _small_catalogue().events
    assert len(table) == 3
    assert [e.id for e in table] == ["e0", "e1", "e2"]
    assert [(e.user_id, e.item_id, e.type, e.ts, e.value) for e in table] == [
        (e.user_id, e.item_id, e.type, e.ts, e.value) for e in records
    ]
    assert table[-1].ts == 300.0
    assert [e.id for e in table[1:]] == ["e1", "e2"]  # a slice keeps the event ids
    with pytest.raises(IndexError):
        table[3]

    from_table = Catalogue(_small_catalogue().users, _small_catalogue().items, table)
    a = from_table.to_snapshot(now=1000.0).events
    b = _small_catalogue().to_snapshot(now=1000.0).events
    for name in ("user", "item", "ts", "value"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert [a.type_names[c] for c in a.type_code] == [b.type_names[c] for c in b.type_code]


def test_event_table_equality_and_unknown_ids() -> None:
    assert _table() == _table()
    changed = _table()
    changed.ts[0] = 101.0
    assert _table() != changed

    catalogue = Catalogue([UserRecord("u1")], [ItemRecord("i1"), ItemRecord("i2")], _table())
    with pytest.raises(ValueError, match=r"user.*'u2'"):
        catalogue.to_snapshot()
    # An id table entry no event uses does not have to exist in the catalogue.
    unused = _table().take(np.array([1]))
    catalogue.events = unused
    assert catalogue.to_snapshot().events.user.tolist() == [0]


def test_event_log_follows_given_vocabularies() -> None:
    # A retrain keeps earlier rows: an older vocabulary order must be honoured.
    catalogue = _small_catalogue()
    user_vocab = Vocabulary.from_list(["u3", "u2", "u1"])
    item_vocab = Vocabulary.from_list(["i2", "i1"])
    for events in (catalogue.events, _table()):
        catalogue.events = events
        log = catalogue.event_log(user_vocab, item_vocab)
        assert log.user.tolist() == [1, 2, 1]
        assert log.item.tolist() == [1, 0, 0]
