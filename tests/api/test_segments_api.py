"""Segments and persona reports through HTTP (and the CLI) on a small trained synthetic model,
on SQLite and PostgreSQL: sizes against brute-force counts over the raw catalogue, positioned
rule errors, built-in lifecycle segments, stable paging under erasure, report arithmetic,
profiles listing segments.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from trained_world import DAY, World, assert_problem
from typer.testing import CliRunner

from api.cli import app as cli
from matching.model import TrainedModel
from matching.tagspace import LIFECYCLE_STAGES


def model_of(client: TestClient) -> TrainedModel:
    model: TrainedModel = client.app.state.model_holder.current  # type: ignore[attr-defined]
    return model


def stored_users(client: TestClient, world: World) -> set[str]:
    return {
        u.id for u in world.catalogue.users if client.get(f"/v1/users/{u.id}").status_code == 200
    }


def members(client: TestClient, name: str, limit: int = 10_000) -> list[str]:
    """Every member, following the cursor."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/segments/{name}/users", params=params)
        assert page.status_code == 200, page.text
        found += page.json()["users"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


def put_segment(client: TestClient, name: str, rule: str, description: str = "") -> dict[str, Any]:
    response = client.put(f"/v1/segments/{name}", json={"rule": rule, "description": description})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_put_a_rule_and_get_its_size(served: TestClient, world: World) -> None:
    body = put_segment(served, "young-women", "age in ['25-34'] and gender = 'f'", "for ads")
    existing = stored_users(served, world)
    expected = {
        u.id
        for u in world.catalogue.users
        if u.attributes.get("gender") == "f" and 25 <= int(u.attributes.get("age", 0)) <= 34
    } & existing
    assert body["size"] == len(expected) > 0 and body["model_version"] == world.version
    assert body["builtin"] is False and body["description"] == "for ads"
    assert set(members(served, "young-women")) == expected
    got = served.get("/v1/segments/young-women").json()
    assert got["size"] == len(expected) and got["rule"] == "age in ['25-34'] and gender = 'f'"

    buyers = put_segment(served, "recent-buyers", "events('purchase', days=30) >= 1")
    since = model_of(served).snapshot_time - 30 * DAY
    events = world.catalogue.events
    purchase = events.type_names.index("purchase")
    bought = (events.type_code == purchase) & (events.ts >= since)
    expected = {world.catalogue.users[int(row)].id for row in np.unique(events.user[bought])}
    assert buyers["size"] == len(expected & existing) > 0


def test_invalid_rule_is_a_422_with_position_and_expected(served: TestClient) -> None:
    response = served.put("/v1/segments/broken", json={"rule": "gender = "})
    error = assert_problem(response, 422)["errors"][0]
    assert error["loc"] == ["body", "rule"]
    assert error["position"] == 9 and error["line"] == 1 and error["column"] == 10
    assert "a string" in error["expected"]
    unknown = served.put("/v1/segments/broken", json={"rule": "colour = 'red'"})
    error = assert_problem(unknown, 422)["errors"][0]
    assert error["position"] == 0 and "colour" in error["msg"]
    assert_problem(served.get("/v1/segments/broken"), 404)  # nothing was written

    put_segment(served, "kept", "gender = 'm'")
    assert_problem(served.put("/v1/segments/kept", json={"rule": "gender in"}), 422)
    assert served.get("/v1/segments/kept").json()["rule"] == "gender = 'm'"
    assert_problem(served.put("/v1/segments/kept", json={"rule": ""}), 422)


def test_builtin_lifecycle_segments_need_no_setup(served: TestClient, world: World) -> None:
    listed = {s["name"]: s for s in served.get("/v1/segments").json()["segments"]}
    builtin = [f"life-{stage}" for stage in LIFECYCLE_STAGES]
    assert set(builtin) <= set(listed)
    existing = stored_users(served, world)
    now = model_of(served).snapshot_time
    for name, stage in zip(builtin, LIFECYCLE_STAGES, strict=True):
        segment = listed[name]
        assert segment["builtin"] is True and segment["model_version"] == world.version
        expected = world.users_in_stage(stage, now) & existing
        assert segment["size"] == len(expected) and set(members(served, name)) == expected
    assert sum(listed[name]["size"] for name in builtin) == len(existing)
    assert_problem(served.delete("/v1/segments/life-silent"), 409)
    assert_problem(served.put("/v1/segments/life-silent", json={"rule": "gender = 'f'"}), 409)
    assert served.get("/v1/segments/life-silent").json()["rule"] == "life = 'silent'"


def test_listed_sizes_match_members_and_delete(served: TestClient) -> None:
    put_segment(served, "short-lived", "has('topic:food')")
    for segment in served.get("/v1/segments").json()["segments"]:
        assert segment["size"] == len(members(served, segment["name"]))
    assert served.delete("/v1/segments/short-lived").status_code == 204
    assert_problem(served.get("/v1/segments/short-lived"), 404)
    assert_problem(served.get("/v1/segments/short-lived/users"), 404)
    assert_problem(served.delete("/v1/segments/short-lived"), 404)


def test_paging_is_stable_while_members_are_erased(served: TestClient) -> None:
    put_segment(served, "paged", "gender = 'f' or has('topic:tech')")
    everyone = members(served, "paged")
    assert everyone == sorted(everyone) and len(everyone) == len(set(everyone)) > 30
    assert members(served, "paged", limit=7) == everyone

    first = served.get("/v1/segments/paged/users", params={"limit": 7}).json()
    assert first["users"] == everyone[:7] and first["next_cursor"] == everyone[6]
    read_already, not_read_yet = everyone[3], everyone[20]
    for user_id in (read_already, not_read_yet):
        assert served.delete(f"/v1/users/{user_id}").status_code == 204
    rest: list[str] = []
    cursor = first["next_cursor"]
    while cursor is not None:
        page = served.get("/v1/segments/paged/users", params={"limit": 7, "cursor": cursor})
        rest += page.json()["users"]
        cursor = page.json()["next_cursor"]
    assert first["users"] + rest == [u for u in everyone if u != not_read_yet]
    assert served.get("/v1/segments/paged").json()["size"] == len(everyone) - 2


def test_refresh_on_demand_keeps_erased_users_out(served: TestClient) -> None:
    created = put_segment(served, "refreshed", "gender = 'm' and has('topic:travel')")
    before = members(served, "refreshed")
    assert created["size"] == len(before) > 2
    assert served.delete(f"/v1/users/{before[1]}").status_code == 204
    # The model still holds the erased user; a re-evaluation must not bring them back.
    refreshed = served.post("/v1/segments/refreshed/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["size"] == len(before) - 1
    assert members(served, "refreshed") == [u for u in before if u != before[1]]
    assert_problem(served.post("/v1/segments/no-such-segment/refresh"), 404)


def brute_force_report(model: TrainedModel, member_ids: list[str]) -> dict[str, Any]:
    """Counts per (source, tag) and per lifecycle stage, user by user."""
    ts = model.tagspace
    sources = {
        "declared": ts.user_declared,
        "behavioural": ts.user_behavioural,
        "predicted": ts.user_predicted,
        "system": ts.user_system,
    }
    rows = {model.users.index(u) for u in member_ids}
    inside: dict[tuple[str, str], int] = {}
    overall: dict[tuple[str, str], int] = {}
    for source, matrix in sources.items():
        for row in range(matrix.shape[0]):
            lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
            for column, weight in zip(matrix.indices[lo:hi], matrix.data[lo:hi], strict=True):
                if weight > 0:
                    key = (source, ts.tags.id(int(column)))
                    overall[key] = overall.get(key, 0) + 1
                    if row in rows:
                        inside[key] = inside.get(key, 0) + 1
    stages = [LIFECYCLE_STAGES[int(ts.lifecycle[row])] for row in rows]
    return {"inside": inside, "overall": overall, "stages": stages, "total": len(model.users)}


def test_report_figures_agree_with_a_brute_force_count(served: TestClient) -> None:
    put_segment(served, "tech-fans", "tag('topic:tech') >= 0.1 or has('kw:编程')")
    response = served.get("/v1/segments/tech-fans/report")
    assert response.status_code == 200, response.text
    body = response.json()
    report, crowd = body["report"], members(served, "tech-fans")
    truth = brute_force_report(model_of(served), crowd)
    size, total = len(crowd), truth["total"]
    assert report["size"] == size and report["total_users"] == total
    assert report["share"] == pytest.approx(size / total)
    assert report["top_tags"] and "topic:tech" in report["excluded_tags"]
    for entry in report["top_tags"]:
        key = (entry["source"], entry["tag"])
        assert entry["segment_count"] == truth["inside"][key]
        assert entry["overall_count"] == truth["overall"][key]
        lift = (truth["inside"][key] / size) / (truth["overall"][key] / total)
        assert entry["lift"] == pytest.approx(lift)
    lifts = [entry["lift"] for entry in report["top_tags"]]
    assert lifts == sorted(lifts, reverse=True)
    for stage in report["lifecycle"]:
        assert stage["segment_count"] == truth["stages"].count(stage["stage"])
    female = next(v for v in report["attributes"]["gender"] if v["value"] == "f")
    assert female["segment_count"] == truth["inside"].get(("declared", "gender:f"), 0)
    assert_problem(served.get("/v1/segments/nobody-here/report"), 404)


def test_profile_lists_the_users_segments(served: TestClient, world: World) -> None:
    put_segment(served, "men", "gender = 'm'")
    silent = members(served, "life-silent")
    man = next(
        u.id for u in world.catalogue.users if u.attributes.get("gender") == "m" and u.id in silent
    )
    profile = served.get(f"/v1/users/{man}/profile").json()
    assert {"men", "life-silent"} <= set(profile["segments"])
    assert profile["lifecycle"] == "silent"
    woman = next(u.id for u in world.catalogue.users if u.attributes.get("gender") == "f")
    assert "men" not in served.get(f"/v1/users/{woman}/profile").json()["segments"]


def test_cli_prints_the_report_as_tables(
    served: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGMATCH_DATABASE_URL", world.settings.database_url)
    monkeypatch.setenv("TAGMATCH_MODEL_DIR", str(world.settings.model_dir))
    monkeypatch.setenv("TAGMATCH_LOG_LEVEL", "WARNING")
    runner = CliRunner()
    printed = runner.invoke(cli, ["segment", "report", "life-silent"])
    assert printed.exit_code == 0, printed.output
    size = len(members(served, "life-silent"))
    total = len(model_of(served).users)
    assert f"size {size} of {total} users" in printed.output
    for table in ("top tags by lift", "lifecycle mix", "top items", "attribute gender"):
        assert table in printed.output
    as_json = runner.invoke(cli, ["segment", "report", "life-silent", "--json"])
    assert json.loads(as_json.output)["size"] == size
    missing = runner.invoke(cli, ["segment", "report", "no-such-segment"])
    assert missing.exit_code == 2
