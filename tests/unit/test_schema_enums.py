"""The playbook schema's registry enums are in step with the registry (regenerated, compared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from igflow.playbook.fast_schema import is_valid
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
    # With several profiles each has its hints, chosen by the playbook's api: (if/then/else).
    hints = schema["definitions"][f"profile.{profile}"]["properties"]["steps"]["items"]
    call = hints["properties"]["call"]
    assert {"$ref": f"#/definitions/endpoints.{profile}"} in call["anyOf"]
    scopes = hints["properties"]["authorize"]["properties"]["scopes"]["items"]
    assert {"$ref": f"#/definitions/scopes.{profile}"} in scopes["anyOf"]


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


def _with_graph(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The schema as generated once a second profile exists (a stand-in for instagram.graph)."""
    import igflow.registry.schema_enums as enums

    real = enums.read_profile
    graph = {"endpoints": {"me": {}, "me.media": {}}, "scopes": {"instagram_business_basic": ""}}
    monkeypatch.setattr(enums, "PROFILES", {**PROFILES, "instagram.graph": "graph.yaml"})
    monkeypatch.setattr(
        enums, "read_profile", lambda n: graph if n == "instagram.graph" else real(n)
    )
    return generated_schema(json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_a_second_profile_chooses_its_hints_by_api(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = _with_graph(monkeypatch)
    assert schema["properties"]["api"]["enum"] == ["instagram.graph", "instagram.v1"]  # type: ignore[index]
    assert schema["if"]["required"] == ["api"]  # type: ignore[index]
    assert schema["if"]["properties"]["api"]["const"] == "instagram.graph"  # type: ignore[index]
    assert schema["then"] == {"$ref": "#/definitions/profile.instagram.graph"}
    assert schema["else"] == {"$ref": "#/definitions/profile.instagram.v1"}  # also without api
    definitions = schema["definitions"]
    assert definitions["endpoints.instagram.graph"]["enum"] == ["me", "me.media"]  # type: ignore[index]
    hints = definitions["profile.instagram.graph"]["properties"]["steps"]["items"]  # type: ignore[index]
    assert hints["properties"]["call"]["anyOf"][0] == {
        "$ref": "#/definitions/endpoints.instagram.graph"
    }
    # The step itself no longer suggests one profile's ids for every playbook.
    assert "anyOf" not in definitions["step"]["properties"]["call"]  # type: ignore[index]
    # Regenerating what was generated gives the same schema (no leftovers of the first pass).
    assert generated_schema(schema) == schema  # type: ignore[arg-type]


def test_a_second_profile_changes_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = _with_graph(monkeypatch)
    playbooks = [
        {"igflow": 1, "steps": [{"call": "media.shortcode"}]},
        {"igflow": 1, "api": "instagram.graph", "steps": [{"call": "me.media"}]},
        {"igflow": 1, "api": "instagram.graph", "steps": [{"call": "media.shortcode"}]},
        {"igflow": 1, "api": "instagram.graph", "steps": [{"authorize": {"scopes": ["x"]}}]},
        {"igflow": 1, "api": "instagram.nope", "steps": [{"call": "x"}]},  # api's own enum
        {"igflow": 1, "steps": [{"call": 5}]},
    ]
    plain = json.loads(SCHEMA.read_text(encoding="utf-8"))
    plain["properties"]["api"]["enum"] = ["instagram.graph", "instagram.v1"]
    for playbook in playbooks:
        expected = Draft7Validator(plain).is_valid(playbook)
        assert Draft7Validator(schema).is_valid(playbook) is expected, playbook
        assert is_valid(playbook, schema) is expected, playbook  # the fast check, not None
