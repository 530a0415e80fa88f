"""Check a call's ``with`` mapping against the endpoint's parameters in the registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from igflow.playbook.context import CheckContext
from igflow.playbook.loader import Path
from igflow.playbook.suggest import closest, did_you_mean, kind_of, quoted_list
from igflow.registry import Endpoint, Param
from igflow.templating import TemplateEngine

__all__ = ["check_params"]

_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "string": "a string",
    "list": "a list",
}


def check_params(
    ctx: CheckContext, endpoint: Endpoint, given: Mapping[str, Any], step: Path
) -> None:
    """Report unknown params, missing required params, and literal values of the wrong type.

    Args:
        ctx: The check run (issues are recorded there).
        endpoint: The endpoint being called.
        given: The step's ``with`` mapping (empty when absent).
        step: The step's path, e.g. ``("steps", 3)``.
    """
    missing = [name for name in endpoint.required_params if name not in given]
    for name, value in given.items():
        path: Path = (*step, "with", name)
        param = endpoint.params.get(name)
        if param is None:
            if endpoint.params:
                suggestion = closest(name, endpoint.params, n=1)
                hint = did_you_mean(name, endpoint.params) or (
                    f" (its params: {', '.join(endpoint.params)})"
                )
                # "did you mean 'shortcode'?" already covers the missing 'shortcode'.
                missing = [m for m in missing if m not in suggestion]
            else:
                hint = " (it takes no params)"
            ctx.key_error(path, f"unknown param '{name}' for {endpoint.id}{hint}")
            continue
        if param.type == "list":
            _check_list(ctx, param, value, path)
            continue
        problem = literal_problem(param, value)
        if problem:
            ctx.error(path, problem)
    if missing:
        noun = "param" if len(missing) == 1 else "params"
        where: Path = (*step, "with") if (*step, "with") in ctx.doc.locations else (*step, "call")
        ctx.key_error(where, f"{endpoint.id} needs {noun} {quoted_list(missing)} in `with`")


def _check_list(ctx: CheckContext, param: Param, value: Any, path: Path) -> None:
    """A list parameter (Graph's ``fields``): its literal items, at the item that is wrong.
    Template items are known only at run time, where the client checks the rendered value."""
    if isinstance(value, str) and TemplateEngine.is_template(value):
        return
    from igflow.fields import list_issues

    for issue in list_issues(_templates_as_fields(value)):
        where = (*path, *issue.where) if isinstance(value, list) else path
        ctx.error(where, f"'{param.name}': {issue}")


def _templates_as_fields(value: Any) -> Any:
    """``value`` with every template string replaced by a plain field name, so the literal
    parts around it can still be checked."""
    if isinstance(value, str):
        return "_" if TemplateEngine.is_template(value) else value
    if isinstance(value, list):
        return [_templates_as_fields(item) for item in value]
    if isinstance(value, dict):
        return {key: _templates_as_fields(item) for key, item in value.items()}
    return value


def literal_problem(param: Param, value: Any) -> str | None:
    """What is wrong with a literal (non-template) value for ``param``, or None."""
    if isinstance(value, str) and TemplateEngine.is_template(value):
        return None  # only known at run time
    if isinstance(value, dict | list):
        return f"'{param.name}' must be a single value, got {kind_of(value)}"
    ok = {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        # ids are strings, but a bare number is what people write; true/yes is a YAML accident
        "string": isinstance(value, str | int | float) and not isinstance(value, bool),
    }.get(param.type, True)
    if not ok:
        wanted = _TYPE_WORDS.get(param.type, param.type)
        quote = " (quote it)" if param.type == "string" else ""
        return f"'{param.name}' must be {wanted}, got {kind_of(value)}{quote}"
    if param.enum and str(value) not in param.enum:
        hint = did_you_mean(str(value), param.enum)
        return f"'{param.name}' must be one of {', '.join(param.enum)}, got {value!r}{hint}"
    return None
