"""The playbook schema's generated part: each registry profile's endpoint ids and scopes.

Editors complete ``call:`` and ``authorize: {scopes: [...]}`` from these enums (and ``api:``
from the profile names). They come from the registry files, so a new profile or endpoint is one
regeneration: ``python scripts/gen_schema_enums.py``; tests/unit/test_schema_enums.py fails
while the schema is out of step.

The enums suggest, they do not validate: each is one branch of an ``anyOf`` whose other branch
(``{}``) accepts any value, because a wrong id is ``igflow check``'s to report (with the
profile's name, the line and a "did you mean"), not the schema's.

With one profile, the step's ``call`` and the authorize ``scopes`` carry its enums directly.
With several, the schema's root chooses by ``api:`` (``if``/``then``/``else``, which the fast
schema check implements): each profile's hints are ``definitions["profile.<name>"]``, and the
default profile's apply when ``api`` is absent.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from igflow.registry import PROFILES, read_profile

__all__ = ["DEFAULT_PROFILE", "generated_schema", "schema_text"]

DEFAULT_PROFILE = "instagram.v1"  # what a playbook without `api:` uses
_GENERATED = ("endpoints.", "scopes.", "profile.")


def _suggest(kind: str, profile: str) -> dict[str, Any]:
    # The last branch, {}, accepts anything: the enums only suggest.
    return {"anyOf": [{"$ref": f"#/definitions/{kind}.{profile}"}, {}]}


def generated_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (the playbook schema) with its generated parts rewritten from the registry."""
    result = copy.deepcopy(schema)
    definitions = result["definitions"]
    for key in [k for k in definitions if k.startswith(_GENERATED)]:
        del definitions[key]
    for key in ("if", "then", "else"):
        result.pop(key, None)
    call = definitions["step"]["properties"]["call"]
    scope = definitions["authorize"]["properties"]["scopes"]["items"]
    call.pop("anyOf", None)
    scope.pop("anyOf", None)

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
    if len(profiles) == 1:
        (only,) = profiles
        call.update(_suggest("endpoints", only))
        scope.update(_suggest("scopes", only))
        return result

    for name in profiles:
        definitions[f"profile.{name}"] = {
            "description": f"Editor hints for playbooks with api: {name} (generated).",
            # Descriptions on every property, as the rest of the schema has them (editors show
            # them; tests/unit/test_validate.py requires them).
            "properties": {
                "steps": {
                    "description": f"The steps, with {name}'s endpoint ids and scopes.",
                    "items": {
                        "properties": {
                            "call": {
                                "description": f"An endpoint id of {name}.",
                                **_suggest("endpoints", name),
                            },
                            "authorize": {
                                "description": f"Authorization with {name}'s scopes.",
                                "properties": {
                                    "scopes": {
                                        "description": f"Scopes of {name}.",
                                        "items": _suggest("scopes", name),
                                    }
                                },
                            },
                        }
                    },
                }
            },
        }
    default = DEFAULT_PROFILE if DEFAULT_PROFILE in profiles else profiles[0]
    chain: dict[str, Any] = {"$ref": f"#/definitions/profile.{default}"}
    for name in reversed([p for p in profiles if p != default]):
        chain = {
            "if": {
                "required": ["api"],
                "properties": {"api": {"const": name, "description": f"The {name} profile."}},
            },
            "then": {"$ref": f"#/definitions/profile.{name}"},
            "else": chain,
        }
    result.update(chain)
    return result


def schema_text(schema: dict[str, Any]) -> str:
    """The schema file's exact text (the file is kept in this form)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
