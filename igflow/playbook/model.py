"""The compiled plan: frozen dataclasses the runner executes.

Everything here is already checked: endpoints resolved, templates, expressions and JSONPaths
compiled once, names and scopes verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from igflow.errors import ApiError, IgflowError, SourceLocation
from igflow.registry import Endpoint

if TYPE_CHECKING:
    from igflow.extract import CompiledPath
    from igflow.templating import CompiledExpression, CompiledValue

__all__ = [
    "ACTIONS",
    "AssertionSpec",
    "AuthorizeSpec",
    "ExpectedError",
    "Extraction",
    "PaginateSpec",
    "Playbook",
    "RetrySpec",
    "Step",
    "WriteSpec",
]

# The step actions, in the order messages list them. Exactly one per step.
ACTIONS: tuple[str, ...] = ("authorize", "call", "set", "assert", "log", "write")

# `write` formats, and the file extensions that imply them when `format` is not given.
WRITE_FORMATS: tuple[str, ...] = ("json", "jsonl", "csv")
FORMAT_BY_EXTENSION: Mapping[str, str] = MappingProxyType(
    {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NO_LOCATIONS: Mapping[tuple[str | int, ...], SourceLocation] = MappingProxyType({})

# A rendered step name longer than this is cut (with "..."): data can be any length.
MAX_LABEL = 200


class AuthorizeSpec(NamedTuple):
    """What an ``authorize`` step asks for.

    ``scopes`` is what the token is granted (against a real target: what it *was* granted, for
    the static scope check). ``user``/``password`` drive the sandbox's OAuth flow; ``token``
    supplies a ready token for a real target. ``user`` and ``token`` never both appear.
    """

    scopes: tuple[str, ...]
    user: CompiledValue | None = None
    password: CompiledValue | None = None
    client: CompiledValue | None = None  # a client's name, like `user` a template
    token: CompiledValue | None = None
    app_secret: CompiledValue | None = None  # with `token`: sign every call with it


class Extraction(NamedTuple):
    """``name: <JSONPath>`` or ``name: {path: ..., default: ...}``."""

    name: str
    path: CompiledPath
    default: Any
    has_default: bool
    location: SourceLocation


class AssertionSpec(NamedTuple):
    """One assertion: a bare Jinja expression that must be truthy."""

    expression: CompiledExpression
    source: str
    location: SourceLocation


class ExpectedError(NamedTuple):
    """``expect_error``: an error class or group, optionally narrowed by a message substring."""

    name: str
    cls: type[ApiError]
    message: str | None
    location: SourceLocation

    def matches(self, error: BaseException) -> bool:
        """Whether ``error`` is the one this step expects."""
        if not isinstance(error, self.cls):
            return False
        return self.message is None or self.message in getattr(error, "message", str(error))


class PaginateSpec(NamedTuple):
    """``paginate``: follow next-page links, optionally capped (None: no cap)."""

    max_pages: int | CompiledValue | None = None
    max_items: int | CompiledValue | None = None


class RetrySpec(NamedTuple):
    """``retry``: how often and how patiently a step's requests are retried (when it is safe)."""

    attempts: int = 3
    backoff: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True


class WriteSpec(NamedTuple):
    """``write``: export a value to a file."""

    path: CompiledValue
    value: CompiledValue
    # One of WRITE_FORMATS; a template rendered at run time; None: from the rendered path.
    format: str | CompiledValue | None
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the plan.

    ``kind`` is the step's action; the fields of the other actions are None/empty. ``defines``
    lists the names the step adds to the namespace (extracted and ``set`` names), in order.
    """

    index: int
    id: str | None
    name: str | None
    location: SourceLocation
    kind: str  # one of ACTIONS
    # The step's name as written, else e.g. "call likes.delete". A name with templates is shown
    # rendered (``rendered_label``); this literal text is the fallback and what `plan` shows.
    label: str
    when: CompiledExpression | None = None
    authorize: AuthorizeSpec | None = None
    endpoint: Endpoint | None = None
    params: CompiledValue | None = None  # the `with` mapping
    set_values: Mapping[str, CompiledExpression] = field(default_factory=lambda: _EMPTY)
    log: CompiledValue | None = None
    extract: Mapping[str, Extraction] = field(default_factory=lambda: _EMPTY)
    asserts: tuple[AssertionSpec, ...] = ()
    expect_error: ExpectedError | None = None
    on_error: str = "halt"  # "halt" | "continue"
    timeout: float | None = None
    defines: tuple[str, ...] = ()
    write: WriteSpec | None = None
    # Loops: the list to iterate, the loop variable's name, how many items may run at once.
    foreach: CompiledValue | None = None
    as_: str = "item"
    concurrency: int | CompiledValue = 1
    paginate: PaginateSpec | None = None
    # Safety: retries, a cap on the writes sent, a question before the first write.
    retry: RetrySpec | None = None
    max_writes: int | CompiledValue | None = None
    confirm: bool = False
    # `name` when it holds templates (None for a plain name): rendered as the step starts.
    name_template: CompiledValue | None = None

    def rendered_label(self, names: Mapping[str, Any]) -> str:
        """The label a run shows: a templated name rendered against ``names`` (the names
        defined when the step starts; a loop step renders it once, before its items).

        A name that cannot be rendered (a name a skipped step never set, a filter failing on
        the data) falls back to the literal text: a label is never worth stopping a run for.
        """
        if self.name_template is None:
            return self.label
        try:
            rendered = self.name_template.render(names)
        except IgflowError:
            return self.label
        # One line, of a length a console line can take, whatever the data held.
        text = " ".join(str(rendered).split())
        if not text:
            return self.label
        return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."


class Playbook(NamedTuple):
    """A whole checked playbook, ready to run."""

    path: str
    name: str | None
    api: str
    target: str | None
    vars: Mapping[str, CompiledValue]
    secrets: tuple[str, ...]
    steps: tuple[Step, ...]
    lines: tuple[str, ...]
    description: str | None = None
    outputs: Mapping[str, CompiledExpression] = _EMPTY
    on_rate_limit: str | None = None  # "halt" | "wait"; None: the command line decides
    api_version: str | None = None  # Graph: the version to call; None: the profile's pinned one
    # A dataset file for the built-in sandbox, as written (relative to the playbook's directory).
    sandbox_data: str | None = None
    # The environment variables templates may read (`env:` and `secrets:`): name -> public.
    # A public value is shown as is; every other one is redacted everywhere.
    env: Mapping[str, bool] = _EMPTY
    # Where each part of the playbook's data was written (a path such as ("steps", 3, "set",
    # "total") to its value's line:col): run-time errors point at the value they came from.
    locations: Mapping[tuple[str | int, ...], SourceLocation] = _NO_LOCATIONS
    # For test runs (the pytest plugin): markers, and why to skip it (None: run it).
    tags: tuple[str, ...] = ()
    skip: str | None = None
