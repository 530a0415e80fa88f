"""What a run produced: statuses, per-step and per-item records, the run's result, and the
protocol of the reporters that are told about them.

The runner fills these in and every reporter reads them; both import this module, and nothing
here imports either. Statuses are one enum, :class:`Status`, whose values are the words reports
and ``steps.<id>.status`` show (it is a ``str`` enum, so a playbook compares
``steps.x.status == "ok"`` as before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from igflow.errors import ApiError

if TYPE_CHECKING:
    from igflow.errors import IgflowError
    from igflow.playbook.model import Playbook, Step

__all__ = [
    "ItemResult",
    "error_view",
    "SETTLE_BY_HAND",
    "SETTLE_BY_RESUME",
    "SETTLE_ONE_BY_HAND",
    "settle_advice",
    "ItemRecord",
    "Reporter",
    "RequestView",
    "RunResult",
    "RunStatus",
    "Status",
    "StepRecord",
]


# What a user can do about writes in doubt, with a journal and without one.
SETTLE_BY_RESUME = "igflow run --resume settles them (igflow journal show lists them)"
SETTLE_BY_HAND = (
    "no journal was kept for this target (the built-in sandbox starts afresh on every run), "
    "so no later run can settle a write in doubt here: check the account by hand"
)


# A write no read can check (not idempotent, no reconcile read): no resume settles it.
SETTLE_ONE_BY_HAND = (
    "no read can check it and it is not safe to send twice: check by hand, then record what "
    "you found with `igflow journal settle`"
)


def settle_advice(*, journaled: bool, in_doubt: int, by_hand: int) -> str:
    """What settles a run's writes in doubt, in words: one sentence for the console's summary
    and the run's final error alike (a resume settles only what a read or a resend can)."""
    if not journaled:
        return SETTLE_BY_HAND
    if by_hand <= 0:
        return SETTLE_BY_RESUME
    by_hand_words = (
        "no read can check {} and {} not safe to send twice: check by hand, then record what "
        "you found with `igflow journal settle` (igflow journal show lists them)"
    )
    if by_hand >= in_doubt:
        return by_hand_words.format("them", "they are")
    which = "it" if by_hand == 1 else "them"
    return (
        f"igflow run --resume settles {in_doubt - by_hand} of them; for the other {by_hand}, "
        + by_hand_words.format(which, "it is" if by_hand == 1 else "they are")
    )


class Status(str, Enum):
    """A step's or a loop item's status."""

    OK = "ok"
    SKIPPED = "skipped"  # `when` was false
    EXPECTED_ERROR = "expected-error"  # the error `expect_error` named came
    FAILED = "failed"  # an assertion or expectation failed, or an error halted the run
    IGNORED = "error-ignored"  # an error, and on_error: continue
    DRY_RUN = "dry-run"  # --dry-run: a write printed instead of sent
    DONE_EARLIER = "done-earlier"  # --resume: a write an earlier run had done, not sent again
    IN_DOUBT = "in-doubt"  # a write that may or may not have been applied (igflow.safety)
    NOT_RUN = "not-run"  # never started: the run stopped first

    def __str__(self) -> str:  # the word, in messages and string templates alike
        return self.value

    @property
    def failed(self) -> bool:
        """An error happened here (whether or not it stopped the run)."""
        return self in (Status.FAILED, Status.IGNORED, Status.IN_DOUBT)

    @property
    def ran(self) -> bool:
        return self is not Status.NOT_RUN


class RunStatus(str, Enum):
    """How a whole run ended: the one vocabulary of reports, journals and the JSON report."""

    PASSED = "passed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, *, error: object, interrupted: bool) -> RunStatus:
        if interrupted:
            return cls.INTERRUPTED
        return cls.FAILED if error is not None else cls.PASSED


class RequestView(NamedTuple):
    """The request behind a record, as reports show it: method and URL, already redacted."""

    method: str
    url: str


@dataclass(slots=True)
class ItemRecord:
    """One item of a ``foreach`` step (``not-run`` until the runner starts it)."""

    index: int  # 0-based position in the list
    item: Any  # the loop value (reporters redact it)
    status: Status = Status.NOT_RUN
    elapsed: float = 0.0
    http_status: int | None = None
    error: IgflowError | None = None
    extracted: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    request: RequestView | None = None  # the last request the item sent
    pages: int | None = None  # paginated calls: pages fetched


class ItemResult(Mapping[str, Any]):
    """One entry of ``steps.<id>.results``: ``{item, status, extracted, error}``, read from
    the item's record when a template asks (a dict per entry would cost a 100,000-item loop
    about 18 MB more). Templates see a read-only mapping; ``tojson``, ``write`` and reports
    turn it into a plain object."""

    __slots__ = ("_record",)

    def __init__(self, record: ItemRecord) -> None:
        self._record = record

    def __getitem__(self, key: str) -> Any:
        record = self._record
        if key == "item":
            return record.item
        if key == "status":
            return record.status
        if key == "extracted":
            return record.extracted
        if key == "error":
            return error_view(record.error)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_ITEM_RESULT_KEYS)

    def __len__(self) -> int:
        return len(_ITEM_RESULT_KEYS)

    def __repr__(self) -> str:
        return repr(dict(self))


_ITEM_RESULT_KEYS = ("item", "status", "extracted", "error")


def error_view(error: IgflowError | None) -> dict[str, Any] | None:
    """An error as templates see it (``steps.<id>.error``): its type and message, and for an
    API error the API's own type, HTTP status and code."""
    if error is None:
        return None
    view: dict[str, Any] = {"type": type(error).__name__, "message": error.message}
    if isinstance(error, ApiError):
        view.update(error_type=error.error_type, status=error.status, code=error.code)
    return view


@dataclass
class StepRecord:
    step: Step
    status: Status = Status.OK
    elapsed: float = 0.0
    endpoint: str | None = None
    http_status: int | None = None
    error: IgflowError | None = None
    extracted: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # a log step's text, why it was skipped, what write wrote
    request: RequestView | None = None  # the last request the step sent (not for foreach)
    pages: int | None = None  # paginated calls: pages fetched
    items: list[ItemRecord] | None = None  # foreach steps: one per item, in item order
    # What reports call the step: its name rendered as the step started (Step.rendered_label).
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.step.label

    @property
    def failed_items(self) -> list[ItemRecord]:
        return [i for i in self.items or () if i.status.failed]


@dataclass
class RunResult:
    playbook: Playbook
    records: list[StepRecord]
    elapsed: float
    error: IgflowError | None = None
    interrupted: bool = False
    # Top-level `outputs` that could be evaluated, in playbook order; the others, with why not.
    outputs: dict[str, Any] = field(default_factory=dict)
    output_errors: dict[str, str] = field(default_factory=dict)
    # Writes sent per endpoint (in a dry run: that would have been sent), and the resume story.
    dry_run: bool = False
    writes: dict[str, int] = field(default_factory=dict)
    writes_done_earlier: int = 0
    reconciled: list[str] = field(default_factory=list)
    # Writes this run leaves in doubt (may or may not have been applied), in words, and
    # whether a journal was kept (so a resume can settle them).
    in_doubt: list[str] = field(default_factory=list)
    journaled: bool = False
    in_doubt_by_hand: int = 0  # how many of them no read can check (only a person settles them)
    # Files `write` steps wrote (a dry run writes them too: they change nothing remote).
    files_written: list[str] = field(default_factory=list)
    # The latest usage the API reported (Graph's X-App-Usage / X-Business-Use-Case-Usage,
    # as igflow.usage.read_usage gives it); None when it reported none.
    api_usage: dict[str, Any] | None = None
    # Reports (--report) that could not be written, in words (they were said on stderr).
    report_failures: list[str] = field(default_factory=list)
    # The run's redaction (every secret it learned), for whoever words its error afterwards.
    redact: Callable[[str], str] = field(default=lambda text: text, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted

    @property
    def status(self) -> RunStatus:
        return RunStatus.of(error=self.error, interrupted=self.interrupted)

    @property
    def settle_advice(self) -> str:
        """What settles this run's writes in doubt (:func:`settle_advice`)."""
        return settle_advice(
            journaled=self.journaled, in_doubt=len(self.in_doubt), by_hand=self.in_doubt_by_hand
        )


class Reporter(Protocol):
    """What the runner tells its observers. Every call comes from the runner's own thread."""

    def run_started(self, playbook: Playbook, origin: str) -> None: ...
    # ``label``: the step's name as rendered when it started (None: ``step.label``).
    def step_started(self, step: Step, label: str | None = None) -> None: ...
    def loop_started(self, step: Step, total: int) -> None: ...
    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None: ...
    def step_finished(self, record: StepRecord) -> None: ...
    def run_finished(self, result: RunResult) -> None: ...
