"""The playbook schema's generated part: each registry profile's endpoint ids and scopes.

Editors complete ``call:`` and ``authorize: {scopes: [...]}`` from these enums (and
``api:`` from the profile names). They come from the registry files, so a new profile or
endpoint is one regeneration: ``python scripts/gen_schema_enums.py``; tests/unit/
test_schema_enums.py fails while the schema is out of step.

The enums suggest, they do not validate: each is one branch of an ``anyOf`` whose other
branch accepts any value, because a wrong id is ``igflow check``'s to report (with the
profile's name, the line and a "did you mean"), not the schema's. With several profiles,
``call:`` suggests the ids of all of them (choosing by ``api:`` would need ``if``/``then``,
which the fast schema check does not implement yet).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from igflow.registry import PROFILES, read_profile

__all__ = ["generated_schema", "schema_text"]


def _ref(kind: str, profile: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{kind}.{profile}"}


def generated_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (the playbook schema) with its generated parts rewritten from the registry."""
    result = copy.deepcopy(schema)
    definitions = result["definitions"]
    for key in [k for k in definitions if k.startswith(("endpoints.", "scopes."))]:
        del definitions[key]
    profiles = sorted(PROFILES)
    for name in profiles:
        raw = read_profile(name)
        definitions[f"endpoints.{name}"] = {
            "description": f"The endpoint ids of {name} (generated from its registry).",
            "enum": sorted(raw.get("endpoints", {})),
        }
        definitions[f"scopes.{name}"] = {
            "description": f"The scopes of {name} (generated from its registry).",
            "enum": sorted(raw.get("scopes", {})),
        }
    result["properties"]["api"]["enum"] = profiles
    # The last branch, {}, accepts anything: the enums only suggest.
    call = definitions["step"]["properties"]["call"]
    call["anyOf"] = [*(_ref("endpoints", p) for p in profiles), {}]
    scope = definitions["authorize"]["properties"]["scopes"]["items"]
    scope["anyOf"] = [*(_ref("scopes", p) for p in profiles), {}]
    return result


def schema_text(schema: dict[str, Any]) -> str:
    """The schema file's exact text (the file is kept in this form)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
