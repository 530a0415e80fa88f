"""Compile one step: its action, its modifiers, and the checks that need the whole context.

Steps are compiled in order against a :class:`CheckContext`; each one reads the names defined
so far and the scopes of the most recent ``authorize``, then adds what it defines. A step with
problems still defines its names, so one mistake is reported once, not once per later use.

Length: over 400 lines: every step kind's compile rules, which share the context's checks; one
module per kind was tried in thought and would pass the same context around five times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from types import MappingProxyType
from typing import Any

from igflow.errors import (
    EXPECTABLE,
    GraphPermissionError,
    OAuthParameterException,
    OAuthPermissionsException,
    SourceLocation,
)
from igflow.extract import MISSING
from igflow.outputs import path_problem
from igflow.playbook.context import CheckContext
from igflow.playbook.loader import Path
from igflow.playbook.model import (
    ACTIONS,
    FORMAT_BY_EXTENSION,
    WRITE_FORMATS,
    AssertionSpec,
    AuthorizeSpec,
    ExpectedError,
    Extraction,
    PaginateSpec,
    RetrySpec,
    Step,
    WriteSpec,
)
from igflow.playbook.names import ALWAYS_DEFINED, Definition
from igflow.playbook.params import check_params
from igflow.playbook.suggest import did_you_mean
from igflow.registry import Endpoint
from igflow.templating import CompiledExpression, CompiledValue

__all__ = ["ScopeState", "action_of", "compile_step"]

# Modifiers that only make sense on a call.
_CALL_ONLY = ("with", "extract", "expect_error", "timeout", "paginate", "concurrency")
# Names a loop variable may not take: always-defined names and the loop object itself.
_LOOP_OBJECT = "loop"


@dataclass
class ScopeState:
    """The scopes requested by the most recent ``authorize`` step (None before any)."""

    scopes: frozenset[str] | None = None
    location: SourceLocation | None = None
    # An authorize step whose scopes could not be read: skip scope checks, don't guess.
    unknown: bool = False


def action_of(raw: Mapping[str, Any]) -> str | None:
    """The step's single action, or None when it has none or several (the schema says which).

    ``assert`` is an action only on a step with no other action; elsewhere it is a modifier.
    """
    actions = [key for key in ACTIONS if key in raw and key != "assert"]
    if not actions and "assert" in raw:
        return "assert"
    return actions[0] if len(actions) == 1 else None


def compile_step(
    ctx: CheckContext, index: int, raw: Mapping[str, Any], scopes: ScopeState
) -> Step | None:
    """Check and compile the step at ``steps[index]``.

    Args:
        ctx: The check run (issues are recorded there).
        index: The step's position in ``steps``.
        raw: The step as loaded.
        scopes: Scope tracking; updated by ``authorize`` steps.

    Returns:
        The compiled step, or None if it has problems (they are in ``ctx.issues``).
    """
    return _StepCompiler(ctx, index, raw, scopes).compile()


class _StepCompiler:
    def __init__(
        self, ctx: CheckContext, index: int, raw: Mapping[str, Any], scopes: ScopeState
    ) -> None:
        self.ctx = ctx
        self.index = index
        self.raw = raw
        self.scopes = scopes
        self.path: Path = ("steps", index)
        self.location = ctx.doc.location(self.path)
        self.errors_before = _error_count(ctx)
        self.kind = action_of(raw)
        # Inside a foreach step the loop variable and `loop` are readable by every template.
        self.loop: tuple[str, ...] = ()
        self.loop_variable = raw["as"] if isinstance(raw.get("as"), str) else "item"
        if "foreach" in raw:
            self.loop = (self.loop_variable, _LOOP_OBJECT)
        # Names this step defines exist afterwards only if it ran, unless it loops (a loop's
        # names are lists with null for skipped items, so they always exist).
        when = raw.get("when")
        self.guard = None if "when" not in raw else (when if isinstance(when, str) else str(when))
        ctx.current_guard = self.guard

    def at(self, *parts: str | int) -> Path:
        return (*self.path, *parts)

    def str_field(self, key: str) -> str | None:
        value = self.raw.get(key)
        return value if isinstance(value, str) else None

    def compile(self) -> Step | None:
        ctx, raw = self.ctx, self.raw
        step_id = self.check_id()
        when = None
        if "when" in raw:
            when = ctx.expression(raw["when"], self.at("when"), "when")
            if when is not None:
                ctx.check_names(when.names, self.at("when"), self.loop, source=when.source)
        name_template = self.name_template()
        kind = self.kind
        if kind is not None and kind != "call":
            for key in _CALL_ONLY:
                if key in raw and not (key == "timeout" and kind == "authorize"):
                    ctx.key_error(
                        self.at(key), f"`{key}` only applies to a `call` step, not to {kind}"
                    )
        fields: dict[str, Any] = {}
        defines: list[str] = []
        fields.update(self.loop_fields())
        if kind != "call":
            self.check_safety(None)
        if kind == "authorize":
            fields["authorize"] = self.authorize()
        elif kind == "call":
            fields.update(self.call())
            fields["extract"] = self.extract(defines)
        elif kind == "set":
            fields["set_values"] = self.set_values(defines)
        elif kind == "log":
            fields["log"] = self.log()
        elif kind == "write":
            fields["write"] = self.write()
        asserts = self.asserts(defines)
        for name in self.loop:
            self.ctx.names.loop_variables.setdefault(name, self.location)
        if step_id is not None:
            ctx.step_ids.setdefault(step_id, self.location)
        # The plan is only built from a playbook without errors, so skip building (and so
        # reading ill-typed values) as soon as anything is wrong.
        if kind is None or ctx.shape_errors or _error_count(ctx) > self.errors_before:
            return None
        timeout = raw.get("timeout")
        fields.update(self.safety_fields(fields.get("endpoint")))
        return Step(
            index=self.index,
            id=step_id,
            name=self.str_field("name"),
            location=self.location,
            kind=kind,
            label=self.label(kind),
            name_template=name_template,
            when=when,
            asserts=asserts,
            on_error=self.str_field("on_error") or "halt",
            timeout=float(timeout) if isinstance(timeout, int | float) else None,
            defines=tuple(defines),
            **{key: value for key, value in fields.items() if value is not None},
        )

    # --- modifiers --------------------------------------------------------------------------

    def check_id(self) -> str | None:
        step_id = self.str_field("id")
        if step_id is None:
            return None
        first = self.ctx.step_ids.get(step_id)
        if first is not None:
            self.ctx.error(self.at("id"), f"duplicate step id '{step_id}' (first used at {first})")
        return step_id

    def name_template(self) -> CompiledValue | None:
        """A `name` with templates, rendered when the step starts: so before its loop's items
        (the loop variable is not readable) and before its own extract or set."""
        name = self.str_field("name")
        if name is None or not any(mark in name for mark in ("{{", "{%", "{#")):
            return None
        compiled = self.ctx.template(name, self.at("name"))
        if compiled is None:
            return None
        for loop_name in sorted(compiled.names & set(self.loop)):
            self.ctx.error(
                self.at("name"),
                f"`name` is rendered once, before the loop's items: it cannot read '{loop_name}' "
                "(say what the loop does in `name`, and per item in `log`)",
            )
        self.ctx.check_value_names(name, self.at("name"), self.loop)
        return compiled

    def label(self, kind: str) -> str:
        name = self.str_field("name")
        if name:
            return name
        value = self.raw[kind]
        if kind == "call":
            return f"call {value}"
        if kind == "authorize":
            scopes = value.get("scopes") if isinstance(value, dict) else None
            return "authorize " + ", ".join(str(s) for s in scopes or ())
        if kind == "set" and isinstance(value, dict):
            return "set " + ", ".join(value)
        if kind == "assert" and isinstance(value, list) and value:
            return f"assert {value[0]}"
        if kind == "assert":
            return f"assert {value}"
        if kind == "write" and isinstance(value, dict) and isinstance(value.get("path"), str):
            return f"write {value['path']}"
        return kind

    def asserts(self, defines: list[str]) -> tuple[AssertionSpec, ...]:
        raw = self.raw.get("assert")
        if raw is None:
            return ()
        if isinstance(raw, str):
            items = [(self.at("assert"), raw)]
        elif isinstance(raw, list):
            items = [(self.at("assert", i), item) for i, item in enumerate(raw)]
        else:
            return ()  # the schema reported it
        specs: list[AssertionSpec] = []
        for path, source in items:
            if not isinstance(source, str):
                continue  # the schema reported it
            compiled = self.ctx.expression(source, path, "assert")
            if compiled is None:
                continue
            # Assertions run after the step's own extract/set, so those names are readable.
            self.ctx.check_names(compiled.names, path, [*defines, *self.loop], source=source)
            specs.append(AssertionSpec(compiled, source, self.ctx.doc.location(path)))
        return tuple(specs)

    def expect_error(self) -> ExpectedError | None:
        raw = self.raw.get("expect_error")
        if raw is None:
            return None
        path = self.at("expect_error")
        message = None
        if isinstance(raw, dict):
            name, message = raw.get("type"), raw.get("message")
            path = (*path, "type")
        else:
            name = raw
        if not isinstance(name, str):
            return None
        cls = EXPECTABLE.get(name)
        if cls is None:
            hint = did_you_mean(name, EXPECTABLE, n=2, cutoff=0.8)
            self.ctx.error(path, f"unknown error name '{name}' in expect_error{hint}")
            return None
        text = message if isinstance(message, str) else None
        return ExpectedError(name, cls, text, self.ctx.doc.location(path))

    def loop_fields(self) -> dict[str, Any]:
        """``foreach``, ``as`` and ``concurrency``."""
        ctx, raw = self.ctx, self.raw
        if "foreach" not in raw:
            for key in ("as", "concurrency"):
                if key in raw:
                    ctx.key_error(self.at(key), f"`{key}` only applies to a step with `foreach`")
            return {}
        fields: dict[str, Any] = {"as_": self.loop_variable}
        value = raw["foreach"]
        if isinstance(value, list | str):
            # The list is computed before any item runs: it cannot read the loop variable.
            fields["foreach"] = ctx.template(value, self.at("foreach"))
            ctx.check_value_names(value, self.at("foreach"))
        if "as" in raw and isinstance(raw["as"], str):
            name = raw["as"]
            existing = ctx.names.defined.get(name)
            if name in ALWAYS_DEFINED or name == _LOOP_OBJECT:
                ctx.error(self.at("as"), f"'{name}' is a reserved name; choose another")
            elif existing is not None:
                ctx.error(
                    self.at("as"),
                    f"the loop variable '{name}' would hide the name defined {existing.where()}; "
                    "choose another name",
                )
        if "concurrency" in raw:
            fields["concurrency"] = self.int_setting(raw["concurrency"], self.at("concurrency"))
        return fields

    def int_setting(self, value: Any, path: Path) -> int | CompiledValue | None:
        """A whole number, or a whole-value template rendered when the step starts."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            # Rendered before any item runs, so the loop variable is not readable here.
            self.ctx.check_value_names(value, path)
            return self.ctx.template(value, path)
        return None  # the schema reported it

    def safety_fields(self, endpoint: Endpoint | None) -> dict[str, Any]:
        """``retry``, ``max_writes`` and ``confirm`` (checked before the plan is built)."""
        raw = self.raw
        fields: dict[str, Any] = {}
        retry = raw.get("retry")
        if isinstance(retry, dict):
            defaults = RetrySpec()
            fields["retry"] = RetrySpec(
                attempts=int(retry.get("attempts", defaults.attempts)),
                backoff=float(retry.get("backoff", defaults.backoff)),
                max_delay=float(retry.get("max_delay", defaults.max_delay)),
                jitter=bool(retry.get("jitter", defaults.jitter)),
            )
        if "max_writes" in raw:
            fields["max_writes"] = self.int_setting(raw["max_writes"], self.at("max_writes"))
        fields["confirm"] = raw.get("confirm") is True
        return fields

    def check_safety(self, endpoint: Endpoint | None) -> None:
        """Where ``max_writes``/``confirm`` cannot apply, and loops of writes with no cap."""
        raw, ctx = self.raw, self.ctx
        writes = endpoint is not None and endpoint.mutates
        for key in ("max_writes", "confirm"):
            if key in raw and self.kind == "call" and endpoint is not None and not writes:
                ctx.key_error(
                    self.at(key),
                    f"`{key}` only applies to a step that writes; {endpoint.id} only reads",
                )
            elif key in raw and self.kind is not None and self.kind != "call":
                ctx.key_error(self.at(key), f"`{key}` only applies to a `call` step that writes")
        if "retry" in raw and self.kind not in (None, "call"):
            ctx.key_error(self.at("retry"), "`retry` only applies to a `call` step")
        if writes and "foreach" in raw and "max_writes" not in raw and endpoint is not None:
            ctx.warning(
                self.at("foreach"),
                f"this loop sends one {endpoint.id} per item with no cap: add `max_writes: N` "
                "(or run with --max-writes N) so a wrong list cannot write without limit",
            )

    def paginate(self, endpoint: Endpoint | None) -> PaginateSpec | None:
        raw = self.raw.get("paginate")
        if raw is None or raw is False:
            return None
        if endpoint is not None and endpoint.pagination is None:
            self.ctx.error(
                self.at("paginate"),
                f"{endpoint.id} is not paginated: it returns everything in one response "
                "(remove `paginate`)",
            )
            return None
        if isinstance(raw, dict):
            base = self.at("paginate")
            return PaginateSpec(
                self.int_setting(raw.get("max_pages"), (*base, "max_pages")),
                self.int_setting(raw.get("max_items"), (*base, "max_items")),
            )
        return PaginateSpec()

    def write(self) -> WriteSpec | None:
        ctx, raw = self.ctx, self.raw["write"]
        if not isinstance(raw, dict):
            return None  # the schema reported it
        base = self.at("write")
        compiled = {}
        for key in ("path", "value"):
            if key in raw:
                compiled[key] = ctx.template(raw[key], (*base, key))
                ctx.check_value_names(raw[key], (*base, key), self.loop)
        fmt: str | CompiledValue | None = None
        raw_format = raw.get("format")
        if isinstance(raw_format, str) and raw_format in WRITE_FORMATS:
            fmt = raw_format
        elif isinstance(raw_format, str):  # a whole-value template (the schema saw to that)
            fmt = ctx.template(raw_format, (*base, "format"))
            ctx.check_value_names(raw_format, (*base, "format"), self.loop)
        path_text = raw.get("path")
        if isinstance(path_text, str):
            problem = _write_path_problem(path_text)
            if problem is not None:
                ctx.error((*base, "path"), problem)
        if raw_format is None and isinstance(path_text, str):
            # The literal text after the last template decides; a path whose extension comes
            # from a template ("out.{{ fmt }}") is decided by the runner once rendered.
            tail = path_text.strip().rsplit("}}", 1)[-1]
            extension = PurePath(tail).suffix.lower() if "/" not in tail[-1:] else ""
            fmt = FORMAT_BY_EXTENSION.get(extension)
            if fmt is None and (extension or "{{" not in path_text):
                known = ", ".join(FORMAT_BY_EXTENSION)
                ctx.error(
                    (*base, "path"),
                    f"cannot tell the format from {path_text!r} (known extensions: {known}); "
                    "add `format: json`, `jsonl` or `csv`",
                )
        columns = raw.get("columns")
        if columns is not None and isinstance(fmt, str) and fmt != "csv":
            ctx.key_error((*base, "columns"), "`columns` only applies to the csv format")
        value, path = compiled.get("value"), compiled.get("path")
        if value is None or path is None:
            return None
        return WriteSpec(
            path=path,
            value=value,
            format=fmt,
            columns=tuple(columns) if isinstance(columns, list) else None,
        )

    # --- actions ----------------------------------------------------------------------------

    def authorize(self) -> AuthorizeSpec | None:
        ctx, raw = self.ctx, self.raw["authorize"]
        if not isinstance(raw, dict):
            self.scopes.scopes, self.scopes.unknown = frozenset(), True
            return None
        base = self.at("authorize")
        scopes_value = raw.get("scopes")
        raw_scopes: list[Any] = scopes_value if isinstance(scopes_value, list) else []
        scopes = [s for s in raw_scopes if isinstance(s, str)]
        if ctx.registry is not None:
            for i, scope in enumerate(raw_scopes):
                if isinstance(scope, str) and scope not in ctx.registry.scopes:
                    hint = did_you_mean(scope, ctx.registry.scopes)
                    known = ", ".join(ctx.registry.scopes)
                    ctx.error(
                        (*base, "scopes", i),
                        f"unknown scope '{scope}'{hint} "
                        f"(scopes of {ctx.registry.profile}: {known})",
                    )
        if "user" in raw and "token" in raw:
            ctx.key_error(
                (*base, "token"),
                "authorize takes `user` (sandbox login) or `token` (a ready token), not both",
            )
        if "app_secret" in raw and "token" not in raw:
            ctx.key_error(
                (*base, "app_secret"),
                "`app_secret` goes with `token` (a sandbox login signs with its app's secret)",
            )
        values = {}
        for key in ("user", "password", "client", "token", "app_secret"):
            if isinstance(raw.get(key), str):
                values[key] = ctx.template(raw[key], (*base, key))
                ctx.check_value_names(raw[key], (*base, key))
        self.scopes.scopes = frozenset(scopes)
        self.scopes.location = self.location
        self.scopes.unknown = not isinstance(raw.get("scopes"), list)
        return AuthorizeSpec(
            scopes=tuple(scopes),
            user=values.get("user"),
            password=values.get("password"),
            client=values.get("client"),
            token=values.get("token"),
            app_secret=values.get("app_secret"),
        )

    def call(self) -> dict[str, Any]:
        ctx = self.ctx
        endpoint_id = self.raw["call"]
        expected = self.expect_error()
        endpoint: Endpoint | None = None
        if isinstance(endpoint_id, str) and ctx.registry is not None:
            endpoint = ctx.registry.endpoints.get(endpoint_id)
            if endpoint is None:
                ctx.error(self.at("call"), ctx.registry.unknown_message(endpoint_id))
        params = None
        raw_with = self.raw.get("with")
        if isinstance(raw_with, dict):
            params = ctx.template(raw_with, self.at("with"))
            ctx.check_value_names(raw_with, self.at("with"), self.loop)
        if endpoint is not None:
            check_params(ctx, endpoint, raw_with if isinstance(raw_with, dict) else {}, self.path)
            if endpoint.login == "facebook":
                self.check_login(endpoint, expected)
            else:
                self.check_scope(endpoint, expected)
        self.check_safety(endpoint)
        return {
            "endpoint": endpoint,
            "params": params,
            "expect_error": expected,
            "paginate": self.paginate(endpoint),
        }

    def check_login(self, endpoint: Endpoint, expected: ExpectedError | None) -> None:
        """A Facebook-Login-only endpoint fails on every token this profile's authorize gets
        (an Instagram Login token), unless the step expects that error."""
        if expected is not None or "expect_error" in self.raw:
            return
        needs = f" ({endpoint.permission})" if endpoint.permission else ""
        self.ctx.error(
            self.at("call"),
            f"{endpoint.id} needs a Facebook Login token (graph.facebook.com){needs}; an "
            "Instagram Login token, which this profile's authorize gets, is refused with "
            "error 100 or 10 (expect_error: ApiError if that is the point)",
        )

    def check_scope(self, endpoint: Endpoint, expected: ExpectedError | None) -> None:
        if endpoint.auth != "token":
            return  # client credentials or nothing: no user token involved
        if "expect_error" in self.raw and expected is None:
            return  # the expect_error itself is wrong; judging the call now would be a guess
        where = self.at("call")
        state = self.scopes
        if state.unknown:
            return
        if state.scopes is None:
            if expected is None or not issubclass(OAuthParameterException, expected.cls):
                self.ctx.error(
                    where,
                    f"no authorize step before this call ({endpoint.id} needs "
                    "an access token; add an `authorize` step before it)",
                )
            return
        scope = endpoint.scope
        if scope is None or scope in state.scopes:
            return
        if expected is not None and (
            issubclass(OAuthPermissionsException, expected.cls)
            or issubclass(GraphPermissionError, expected.cls)
        ):
            return
        self.ctx.error(
            where,
            f"{endpoint.id} needs scope '{scope}', but the authorize step at "
            f"{state.location} did not request it (add it to scopes, or expect "
            f"{_permission_error_name(self.ctx)})",
        )

    def extract(self, defines: list[str]) -> Mapping[str, Extraction]:
        ctx, raw = self.ctx, self.raw.get("extract")
        if not isinstance(raw, dict):
            return MappingProxyType({})
        result: dict[str, Extraction] = {}
        for name, spec in raw.items():
            key_path = self.at("extract", name)
            self.define(name, key_path, "extracted", defines)
            default: Any  # any JSON value, or MISSING
            if isinstance(spec, str):
                source, path, default, has_default = spec, key_path, MISSING, False
            elif isinstance(spec, dict) and isinstance(spec.get("path"), str):
                source, path = spec["path"], (*key_path, "path")
                default, has_default = spec.get("default"), "default" in spec
                if not has_default:
                    default = MISSING
            else:
                continue  # the schema reported it
            compiled = ctx.jsonpath(source, path)
            if compiled is not None:
                location = ctx.doc.key_location(key_path)
                result[name] = Extraction(name, compiled, default, has_default, location)
        return MappingProxyType(result)

    def set_values(self, defines: list[str]) -> Mapping[str, CompiledExpression]:
        ctx, raw = self.ctx, self.raw["set"]
        if not isinstance(raw, dict):
            return MappingProxyType({})
        result: dict[str, CompiledExpression] = {}
        for name, source in raw.items():
            path = self.at("set", name)
            compiled = ctx.expression(source, path, "set")
            if compiled is not None:
                # The runner binds `set` names in order, so a value may read the ones above it.
                ctx.check_names(
                    compiled.names, path, [*defines, *self.loop], source=compiled.source
                )
                result[name] = compiled
            self.define(name, path, "set", defines)
        return MappingProxyType(result)

    def log(self) -> Any:
        raw = self.raw["log"]
        compiled = self.ctx.template(raw, self.at("log"))
        self.ctx.check_value_names(raw, self.at("log"), self.loop)
        return compiled

    # --- names ------------------------------------------------------------------------------

    def define(self, name: str, path: Path, how: str, defines: list[str]) -> None:
        ctx = self.ctx
        if name in ALWAYS_DEFINED:
            ctx.key_error(path, f"'{name}' is a reserved name; choose another")
            return
        existing = ctx.names.defined.get(name)
        if how == "extracted" and existing is not None:
            ctx.key_error(
                path, f"'{name}' is already defined {existing.where()}; use `set` to update it"
            )
        if name not in defines:
            defines.append(name)
        guard = None if self.loop else self.guard
        ctx.names.define(name, Definition(how, ctx.doc.key_location(path), guard))


def _error_count(ctx: CheckContext) -> int:
    return sum(1 for issue in ctx.issues if issue.severity == "error")


def _write_path_problem(text: str) -> str | None:
    """What makes a write path lead outside the output directory, as far as its literal text
    tells: all of it, or the whole directory names before its first template."""
    starts = [at for at in (text.find(mark) for mark in ("{{", "{%", "{#")) if at >= 0]
    if not starts:
        return path_problem(text)
    # "exports/{{ me }}.csv" -> "exports/"; "{{ dir }}/x" -> "": the rest is known when rendered.
    prefix = text[: min(starts)]
    return path_problem(prefix[: prefix.rfind("/") + 1], prefix_only=True)


def _permission_error_name(ctx: CheckContext) -> str:
    """The leaf a missing scope raises in the playbook's profile (for the hint)."""
    graph = ctx.registry is not None and ctx.registry.error_style == "graph"
    return "GraphPermissionError" if graph else "OAuthPermissionsException"
