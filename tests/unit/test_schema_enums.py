"""The playbook schema's registry enums are in step with the registry (regenerated, compared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from igflow.registry import PROFILES, load_registry
from igflow.registry.schema_enums import generated_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "playbook.schema.json"


def test_the_schema_file_is_what_the_generator_writes() -> None:
    current = SCHEMA.read_text(encoding="utf-8")
    assert schema_text(generated_schema(json.loads(current))) == current, (
        "schemas/playbook.schema.json is out of step: run python scripts/gen_schema_enums.py"
    )


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_has_its_ids_and_scopes(profile: str) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    registry = load_registry(profile)
    assert schema["definitions"][f"endpoints.{profile}"]["enum"] == sorted(registry.endpoints)
    assert schema["definitions"][f"scopes.{profile}"]["enum"] == sorted(registry.scopes)
    assert profile in schema["properties"]["api"]["enum"]
    call = schema["definitions"]["step"]["properties"]["call"]
    assert {"$ref": f"#/definitions/endpoints.{profile}"} in call["anyOf"]


def test_a_new_endpoint_is_one_regeneration(monkeypatch: pytest.MonkeyPatch) -> None:
    import igflow.registry.schema_enums as enums

    real = enums.read_profile

    def with_extra(name: str) -> dict[str, object]:
        raw = dict(real(name))
        raw["endpoints"] = {**raw["endpoints"], "zz.new": {}}  # type: ignore[dict-item]
        return raw

    monkeypatch.setattr(enums, "read_profile", with_extra)
    schema = generated_schema(json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert "zz.new" in schema["definitions"]["endpoints.instagram.v1"]["enum"]
    assert schema_text(schema) != SCHEMA.read_text(encoding="utf-8")


def test_the_enums_suggest_but_do_not_validate() -> None:
    """A wrong id is igflow check's to report (with a did-you-mean), not the schema's."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    playbook = {"igflow": 1, "steps": [{"call": "likes.delte"}, {"authorize": {"scopes": ["x"]}}]}
    assert list(Draft7Validator(schema).iter_errors(playbook)) == []


def test_the_script_checks() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_schema_enums.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
