"""Fixtures for the API tests that need a trained model (see tests/trained_world.py).

`world` is built once per test module and backend (SQLite file, PostgreSQL schema) and
`served` is a TestClient on it: tests that change shared state use ids no other test of the
module touches. `fresh_world` builds the same per test, for tests that train or activate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from trained_world import World, build_world, postgres_schema

from api.app import create_app

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'tagmatch.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_server_url")) as url:
        yield url


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(module_database_url, tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings)) as client:
        yield client


@pytest.fixture
def fresh_world(database_url: str, tmp_path: Path) -> World:
    return build_world(database_url, tmp_path)


@pytest.fixture
def untrained_world(database_url: str, tmp_path: Path) -> World:
    return build_world(database_url, tmp_path, trained=False)
