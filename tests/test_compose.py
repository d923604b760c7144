"""docker/compose.yaml is a valid Compose (v2) file and starts a working stack from nothing.

No Docker engine here: the file is validated against the Compose Specification's JSON schema
(the copy check-jsonschema ships, licence beside it in that package), and the stack's wiring is
checked: one image built once, health checks, secrets from docker/.env, every step in order.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE: dict[str, Any] = YAML(typ="safe").load((DOCKER / "compose.yaml").read_text("utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = [name for name, service in SERVICES.items() if service.get("image") == "tagmatch:local"]


def _specification() -> dict[str, Any]:
    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(schema_file.read_text("utf-8"))
    return schema


def _validate(document: dict[str, Any]) -> None:
    """With the draft the schema names ($schema: 2020-12), formats checked too."""
    schema = _specification()
    validator = jsonschema.validators.validator_for(schema)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(document)


def test_the_compose_file_follows_the_compose_specification() -> None:
    _validate(COMPOSE)
    assert set(OURS) == {"migrate", "seed", "first-train", "api", "scheduler"}


def test_the_specification_check_catches_a_mistake() -> None:
    broken = {**COMPOSE, "services": {**SERVICES, "api": {**SERVICES["api"], "port": ["8000"]}}}
    with pytest.raises(jsonschema.ValidationError, match="port"):
        _validate(broken)


def test_one_image_built_once_and_every_step_in_order() -> None:
    built = [name for name, service in SERVICES.items() if "build" in service]
    assert built == ["migrate"]
    assert all(SERVICES[name]["pull_policy"] == "never" for name in OURS if name != "migrate")
    order = {name: set(service.get("depends_on", {})) for name, service in SERVICES.items()}
    assert all(target in SERVICES for targets in order.values() for target in targets)
    assert order["migrate"] == {"postgres"} and order["seed"] == {"migrate"}
    assert order["first-train"] == {"seed"} and "first-train" in order["api"]
    conditions = SERVICES["api"]["depends_on"]
    assert conditions["first-train"]["condition"] == "service_completed_successfully"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["scheduler"]["profiles"] == ["scheduler"]


def test_health_checks_and_secrets_from_the_env_file() -> None:
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"]
    assert "/readyz" in " ".join(SERVICES["api"]["healthcheck"]["test"])
    text = (DOCKER / "compose.yaml").read_text("utf-8")
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {"POSTGRES_PASSWORD", "TAGMATCH_API_KEY"}  # refused when unset
    example = (DOCKER / "env.example").read_text("utf-8")
    assert all(re.search(rf"^{name}=", example, re.M) for name in required)
    assert SERVICES["api"]["environment"]["TAGMATCH_API_KEY"].startswith("${TAGMATCH_API_KEY:?")
    assert "docker/.env" in (ROOT / ".gitignore").read_text("utf-8").splitlines()


def test_the_image_holds_every_package_and_the_context_leaves_the_rest_out() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    dockerfile = (DOCKER / "Dockerfile").read_text("utf-8")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.M))
    assert packages <= copied
    ignore = (ROOT / ".dockerignore").read_text("utf-8").splitlines()
    assert ignore[ignore.index("**")] == "**"  # everything out (.venv, .git, models) ...
    allowed = {line[1:].split("/")[0] for line in ignore if line.startswith("!")}
    assert copied | {"pyproject.toml", "README.md", "LICENSE"} <= allowed  # ... but what it copies


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no Docker Compose v2 plugin here",
)
def test_docker_compose_config_accepts_it() -> None:
    env = {"POSTGRES_PASSWORD": "x", "TAGMATCH_API_KEY": "y", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["docker", "compose", "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
        check=True,
        env=env,
    )
