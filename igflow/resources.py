"""Where igflow's data files live, installed or in a source checkout."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent


def schemas_dir() -> Path:
    """The JSON Schemas: in the wheel (igflow/schemas), else the checkout's top-level schemas/."""
    installed = _PACKAGE_DIR / "schemas"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``schemas/<name>`` (e.g. ``playbook.schema.json``)."""
    with open(schemas_dir() / name, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


def playbook_schema() -> dict[str, Any]:
    """The playbook JSON Schema (draft-07), as shipped in ``schemas/playbook.schema.json``.

    The one reader of it: the fast check, jsonschema's wording of problems, ``igflow schema``.
    """
    return load_schema("playbook.schema.json")


def package_data(*parts: str) -> Path:
    """A data file shipped inside the package.

    For example ``package_data("registry", "instagram_v1.yaml")``.
    """
    return _PACKAGE_DIR.joinpath(*parts)
