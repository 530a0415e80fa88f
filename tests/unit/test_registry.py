"""Unit tests for igflow.registry: the shipped profiles are valid, and loading them is cheap.

``load_registry`` does not validate at run time (the shipped files change only with igflow), so
this is where every shipped profile is checked against ``schemas/registry.schema.json``.
"""

from __future__ import annotations

import subprocess
import sys

import jsonschema
import pytest

from igflow.registry import PROFILES, load_registry, parse_registry, read_profile
from igflow.resources import load_schema


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_shipped_profile_is_valid(profile: str) -> None:
    raw = read_profile(profile)
    jsonschema.Draft7Validator(load_schema("registry.schema.json")).validate(raw)
    registry = parse_registry(raw)
    assert registry.profile == profile
    assert registry.endpoints


def test_the_profile_is_loaded_once() -> None:
    assert load_registry("instagram.v1") is load_registry("instagram.v1")


def test_an_unknown_profile_is_named() -> None:
    from igflow.errors import UnknownEndpointError

    with pytest.raises(UnknownEndpointError, match="unknown API profile 'nope'"):
        read_profile("nope")


def test_loading_the_registry_does_not_import_jsonschema() -> None:
    code = "import sys; from igflow.registry import load_registry; load_registry(); "
    code += "print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
