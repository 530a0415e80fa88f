"""Check a loaded playbook and compile it into the plan the runner executes.

Two layers, and ALL problems from both are reported in one run:

1. the JSON Schema (``schemas/playbook.schema.json``) for shape, with human messages
   (:mod:`igflow.playbook.schema_check`);
2. semantic checks on whatever has the right shape: endpoints and params, templates,
   expressions and JSONPaths (compiled here, once), names used before they are defined, duplicate
   step ids, and scopes (:mod:`igflow.playbook.steps`).

Nothing here raises for a problem in the playbook: problems become :class:`Issue` objects,
sorted by position. :func:`check_playbook` is the raising wrapper the CLI uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from igflow.errors import (
    Issue,
    PlaybookValidationError,
    SourceLocation,
    UnknownEndpointError,
    UsageError,
)
from igflow.playbook.context import CheckContext
from igflow.playbook.fast_schema import is_valid
from igflow.playbook.loader import LoadedDocument, Path, load_playbook_file
from igflow.playbook.model import Playbook, Step
from igflow.playbook.names import ALWAYS_DEFINED, Definition, NameTable
from igflow.playbook.steps import ScopeState, action_of, compile_step
from igflow.playbook.suggest import kind_of
from igflow.registry import VERSION_PATTERN, Registry, load_registry, version_problem
from igflow.resources import playbook_schema
from igflow.templating import CompiledExpression, CompiledValue, TemplateEngine

__all__ = ["DEFAULT_API", "check_playbook", "compile_playbook", "sort_issues"]

DEFAULT_API = "instagram.v1"


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Issues in reading order, without duplicates."""
    unique = dict.fromkeys(issues)
    return sorted(unique, key=lambda i: (i.location.line, i.location.col, i.message))


def compile_playbook(
    doc: LoadedDocument,
    *,
    registry: Registry | None = None,
    engine: TemplateEngine | None = None,
    external_names: Iterable[str] = (),
    api_version: str | None = None,
) -> tuple[Playbook | None, list[Issue]]:
    """Check a loaded playbook and compile it.

    Args:
        doc: The loaded document (see :func:`igflow.playbook.load_playbook_file`).
        registry: The endpoint registry; by default the profile named by the playbook's ``api``.
        engine: The template engine to compile with (one per run; it caches compiled sources).
        external_names: Names given from outside (``--var``, ``--vars-file``).
        api_version: The API version the run calls (``--api-version``), over the playbook's
            ``api_version``: the compiled endpoints carry its prefix.

    Returns:
        The playbook (None when there is any error) and every issue found, sorted by position.
        Warnings alone do not prevent compiling.
    """
    data = doc.data
    issues = list(doc.issues)
    if not isinstance(data, dict):
        issues.append(
            Issue(
                doc.location(()),
                "a playbook must be a mapping with `igflow: 1` and "
                f"`steps:` at the top level, got {kind_of(data)}",
            )
        )
        return None, sort_issues(issues)
    # The fast check settles a valid playbook (2 ms for 400 steps); jsonschema (about 80 ms to
    # import, 77 ms for 400 steps) runs only when it says invalid or unknown, to word the issues.
    if is_valid(data, playbook_schema()) is not True:
        from igflow.playbook.schema_check import schema_issues

        issues.extend(schema_issues(doc))
    raw_api = data.get("api")
    api = raw_api if isinstance(raw_api, str) else DEFAULT_API
    if registry is None:
        wanted = api_version or data.get("api_version")
        try:
            registry = load_registry(api)
            if isinstance(wanted, str) and registry.version not in (None, wanted):
                registry = load_registry(api, wanted)
        except UnknownEndpointError:
            registry = None  # the schema already reported the unknown profile
        except UsageError:
            pass  # not a version: the schema (or --api-version's own check) says so
    ctx = CheckContext(
        doc=doc,
        engine=engine or TemplateEngine(),
        registry=registry,
        names=NameTable.with_externals(external_names),
        shape_errors=any(issue.severity == "error" for issue in issues),
    )
    for reserved in ALWAYS_DEFINED & set(external_names):
        ctx.error((), f"'{reserved}' is a reserved name and cannot be passed with --var")
    ctx.env = _declared_env(ctx, data.get("env"), data.get("secrets"))
    variables = _compile_vars(ctx, data.get("vars"))
    steps = _compile_steps(ctx, data.get("steps"))
    outputs = _compile_outputs(ctx, data.get("outputs"))
    version = data.get("api_version")
    if isinstance(version, str) and re.search(VERSION_PATTERN, version):
        # The schema's pattern (re.search, `$`) passes "v25.0\n"; the registry does not.
        problem = version_problem(version)
        if problem is not None:
            ctx.error(("api_version",), problem)
    sandbox_data = data.get("sandbox_data")
    if isinstance(sandbox_data, str):
        # I/O in the check, on purpose: a fixture that is missing, a directory or outside the
        # playbook's tree is found here, at its line, not when the run starts.
        from igflow.playbook_files import sandbox_data_problem

        problem = sandbox_data_problem(doc.filename, sandbox_data)
        if problem is not None:
            ctx.error(("sandbox_data",), problem)
    if isinstance(version, str) and registry is not None and registry.version is None:
        ctx.key_error(
            ("api_version",),
            f"{registry.profile} has no API versions to choose from (api_version is for "
            "instagram.graph)",
        )
    issues.extend(ctx.issues)
    issues = sort_issues(issues)
    if any(issue.severity == "error" for issue in issues) or steps is None:
        return None, issues
    secrets = data.get("secrets") or []
    name, description, target = data.get("name"), data.get("description"), data.get("target")
    playbook = Playbook(
        path=doc.filename,
        name=name if isinstance(name, str) else None,
        api=api,
        target=target if isinstance(target, str) else None,
        vars=MappingProxyType(variables),
        secrets=tuple(secrets),
        steps=steps,
        lines=tuple(doc.lines),
        description=description if isinstance(description, str) else None,
        outputs=MappingProxyType(outputs),
        on_rate_limit=data.get("on_rate_limit")
        if data.get("on_rate_limit") in ("halt", "wait")
        else None,
        env=MappingProxyType(dict(ctx.env)),
        locations=MappingProxyType(doc.locations),
        api_version=version if isinstance(version, str) else None,
        sandbox_data=data.get("sandbox_data")
        if isinstance(data.get("sandbox_data"), str)
        else None,
        tags=tuple(data.get("tags") or ()),
        skip=_skip_reason(data.get("skip")),
    )
    return playbook, issues


def _skip_reason(value: Any) -> str | None:
    """``skip: true`` or ``skip: reason`` (the schema allows only those) as a reason."""
    if value is True:
        return "skip: true in the playbook"
    return value if isinstance(value, str) and value else None


def check_playbook(
    path: str,
    *,
    registry: Registry | None = None,
    engine: TemplateEngine | None = None,
    external_names: Iterable[str] = (),
    api_version: str | None = None,
) -> Playbook:
    """Load, check and compile a playbook file; raise if anything is wrong.

    Args:
        path: The playbook file (also the name used in every location).
        registry: See :func:`compile_playbook`.
        engine: See :func:`compile_playbook`.
        external_names: See :func:`compile_playbook`.
        api_version: See :func:`compile_playbook`.

    Returns:
        The compiled playbook.

    Raises:
        UsageError: The file is missing, a directory or unreadable.
        PlaybookSyntaxError: The file is not a readable YAML document (carries ``.lines`` when
            the text could be read).
        PlaybookValidationError: Schema or semantic errors; ``.issues`` lists all of them and
            ``.lines`` holds the source lines for rendering.
    """
    doc = load_playbook_file(path)
    playbook, issues = compile_playbook(
        doc,
        registry=registry,
        engine=engine,
        external_names=external_names,
        api_version=api_version,
    )
    if playbook is None:
        error = PlaybookValidationError([i for i in issues if i.severity == "error"] or issues)
        error.lines = doc.lines  # for format_issue in the CLI
        raise error
    return playbook


def _declared_env(ctx: CheckContext, raw_env: Any, raw_secrets: Any) -> dict[str, bool]:
    """The environment variables templates may read: name -> public.

    ``env:`` lists them (a name is secret; ``{name: N, public: true}`` is shown as is), and
    every name in ``secrets:`` may be read too, as a secret. A name cannot be both public and
    listed in ``secrets:``. Shapes are the schema's to report; this skips what it cannot read.
    """
    secrets = (
        {name for name in raw_secrets if isinstance(name, str)}
        if isinstance(raw_secrets, list)
        else set()
    )
    declared: dict[str, bool] = {}
    first: dict[str, tuple[Any, SourceLocation]] = {}
    for index, item in enumerate(raw_env if isinstance(raw_env, list) else []):
        path: Path = ("env", index)
        if isinstance(item, str):
            name, public = item, False
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            name, public = item["name"], item.get("public") is True
        else:
            continue
        if name in first:
            earlier, location = first[name]
            if item != earlier:  # the schema's uniqueItems reports an identical repeat
                ctx.error(path, f"'{name}' is declared twice in `env` (first at {location})")
            continue
        first[name] = (item, ctx.doc.location(path))
        if public and name in secrets:
            ctx.error(
                (*path, "public"),
                f"'{name}' is listed in `secrets`, so it cannot be public: remove one of the two",
            )
        declared[name] = public
    for name in sorted(secrets):
        declared.setdefault(name, False)
    return declared


def _compile_vars(ctx: CheckContext, raw: Any) -> dict[str, CompiledValue]:
    compiled: dict[str, CompiledValue] = {}
    if not isinstance(raw, dict):
        return compiled
    for name in raw:
        ctx.names.later.setdefault(name, Definition("var", ctx.doc.key_location(("vars", name))))
    for name, value in raw.items():
        path = ("vars", name)
        if name in ALWAYS_DEFINED:
            ctx.key_error(path, f"'{name}' is a reserved name; choose another")
            continue
        result = ctx.template(value, path)
        # Vars are bound in order, after the external names, so a var may read those above it.
        ctx.check_value_names(value, path)
        if result is not None:
            compiled[name] = result
        ctx.names.define(name, Definition("var", ctx.doc.key_location(path)))
    return compiled


def _compile_outputs(ctx: CheckContext, raw: Any) -> dict[str, CompiledExpression]:
    """``outputs``: expressions over every name the playbook defines, read after the run."""
    compiled: dict[str, CompiledExpression] = {}
    if not isinstance(raw, dict):
        return compiled
    ctx.current_guard = None
    for name, source in raw.items():
        path = ("outputs", name)
        expression = ctx.expression(source, path, "outputs")
        if expression is None:
            continue
        # Each output is evaluated on its own and one that cannot be is reported, so names a
        # skipped step did not define are fine here.
        ctx.check_names(expression.names, path, source=expression.source, conditional_ok=True)
        compiled[name] = expression
    return compiled


def _compile_steps(ctx: CheckContext, raw: Any) -> tuple[Step, ...] | None:
    if not isinstance(raw, list):
        return None
    _collect_later_definitions(ctx, raw)
    scopes = ScopeState()
    steps: list[Step] = []
    ok = True
    for index, item in enumerate(raw):
        step = compile_step(ctx, index, item, scopes) if isinstance(item, dict) else None
        if step is None:
            ok = False
        else:
            steps.append(step)
    return tuple(steps) if ok else None


def _collect_later_definitions(ctx: CheckContext, raw: list[Any]) -> None:
    """Record where each name and step id is first defined, for "used before" messages."""
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("id"), str):
            ctx.all_step_ids.setdefault(item["id"], ctx.doc.location(("steps", index)))
        kind = action_of(item)
        for key, how in (("extract", "extracted"), ("set", "set")):
            block = item.get(key)
            if not isinstance(block, Mapping) or (key == "set" and kind != "set"):
                continue
            for name in block:
                location = ctx.doc.key_location(("steps", index, key, name))
                ctx.names.later.setdefault(name, Definition(how, location))
