"""The console reporter: a line per step, a summary; colour only on a TTY, never with NO_COLOR.

Long loops show progress: on a terminal one line that rewrites itself (items done/total, items
per second, ETA) and is cleared when the step ends; in a pipe or a CI log a plain line now and
then (see ``_PlainProgress``), never one per item; nothing with ``-q``.

Length: over 400 lines: one reporter, with progress, the summary and -v exchanges; they share
its state (the line being drawn) and are not useful apart.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from igflow.errors import printable
from igflow.reporters.common import item_counts, item_error_line, json_safe, pages_fetched
from igflow.results import Status

if TYPE_CHECKING:
    from igflow.client import Exchange
    from igflow.playbook.model import Playbook, Step
    from igflow.redact import Redactor
    from igflow.results import ItemRecord, RunResult, StepRecord

_STATUS = {
    Status.OK: ("PASS", "32"),
    Status.SKIPPED: ("SKIP", "2"),
    Status.EXPECTED_ERROR: ("XERR", "36"),
    Status.IGNORED: ("IGNR", "33"),
    Status.FAILED: ("FAIL", "31;1"),
    Status.DRY_RUN: ("DRY ", "35"),
    Status.DONE_EARLIER: ("DONE", "36"),
    Status.IN_DOUBT: ("DBT?", "33;1"),
    Status.NOT_RUN: ("STOP", "31"),
}


@dataclass
class ConsoleOptions:
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose (HTTP exchanges)
    color: bool = False
    tty: bool = False  # the output is a terminal: progress rewrites one line in place


# Progress pacing. On a terminal: redraw at most 10 times a second. Elsewhere (CI logs): a line
# once at least 5 s have passed and 10% more items are done, or after a minute regardless, so a
# slow loop still shows it is alive.
_TTY_REDRAW = 0.1
_PLAIN_MIN_SECONDS = 5.0
_PLAIN_MIN_FRACTION = 0.1
_PLAIN_HEARTBEAT = 60.0

_MAX_ITEMS_LISTED = 20  # failed items listed under a step; the JSON report has every one
_MAX_OUTPUT_CHARS = 500  # an output longer than this is cut on the console (not in reports)


@dataclass
class _Loop:
    step: Step
    total: int
    started: float
    last_shown: float  # when progress was last drawn or printed
    last_done: int = 0  # items done at that moment
    drawn: bool = False  # a TTY progress line is on screen


class ConsoleReporter:
    def __init__(
        self,
        out: TextIO,
        redactor: Redactor,
        options: ConsoleOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.redactor = redactor
        self.options = options
        self._clock = clock
        self._total = 0
        self._loop: _Loop | None = None
        # -v: shown under their step's line. The client reports exchanges from the loop's worker
        # threads too, so the buffer is guarded.
        self._exchanges: list[Exchange] = []
        self._exchanges_lock = threading.Lock()
        self._retries: list[str] = []  # shown under their step's line, like exchanges
        self._current: Step | None = None  # the step started and not finished yet
        self._current_label = ""  # its name as rendered when it started
        self._current_items: list[ItemRecord] = []
        self._current_total: int | None = None
        self._waiting = False  # a rate-limit countdown is on the (TTY) line
        self._wait_minute: int | None = None  # piped: the minute of the last wait line

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.options.color else text

    def _write(self, line: str) -> None:
        self.out.write(self.redactor.redact(line) + "\n")
        self.out.flush()

    def run_started(self, playbook: Playbook, origin: str) -> None:
        self._total = len(playbook.steps)
        if self.options.verbosity >= 0:
            title = playbook.name or playbook.path
            self._write(self._paint(f"{title}", "1") + f"  ({playbook.path} → {origin})")

    def step_started(self, step: Step, label: str | None = None) -> None:
        # Kept until the step's line is printed: after Ctrl-C mid-step, run_finished says
        # how far it got (the reports do too).
        self._current = step
        self._current_label = label or step.label
        self._current_items = []
        self._current_total = None

    # -- progress ----------------------------------------------------------------------------
    def loop_started(self, step: Step, total: int) -> None:
        self._current_total = total
        now = self._clock()
        self._loop = _Loop(step, total, started=now, last_shown=now)

    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None:
        self._current_items.append(item)
        loop = self._loop
        if loop is None or self.options.verbosity < 0 or total <= 0:
            return
        now = self._clock()
        since = now - loop.last_shown
        if self.options.tty:
            if since < _TTY_REDRAW and done < total:
                return
            self._draw_progress(loop, done, total, now)
        else:
            enough = done - loop.last_done >= total * _PLAIN_MIN_FRACTION
            if done >= total or since < _PLAIN_MIN_SECONDS:
                return  # the step line follows at once when the loop is done
            if not enough and since < _PLAIN_HEARTBEAT:
                return
            self._write(f"      {self._progress_text(loop, done, total, now)}")
        loop.last_shown, loop.last_done = now, done

    def _progress_text(self, loop: _Loop, done: int, total: int, now: float) -> str:
        elapsed = now - loop.started
        rate = done / elapsed if elapsed > 0 else 0.0
        label = printable(self._current_label or loop.step.label)
        text = f"{loop.step.index + 1}/{self._total} {label}: {done}/{total} items"
        text += f" ({done * 100 // total}%), {rate:.1f}/s"
        if 0 < done < total and rate > 0:
            text += f", ETA {_clock_time((total - done) / rate)}"
        return text

    def _draw_progress(self, loop: _Loop, done: int, total: int, now: float) -> None:
        text = self.redactor.redact(self._progress_text(loop, done, total, now))
        # One line that rewrites itself: it must never wrap, or \r cannot take it back.
        width = max(shutil.get_terminal_size((80, 24)).columns - 1, 20)
        if len(text) > width:
            text = text[: width - 3] + "..."
        self.out.write("\r\033[K" + self._paint(text, "2"))
        self.out.flush()
        loop.drawn = True

    def _clear_progress(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and loop.drawn:
            self.out.write("\r\033[K")
            self.out.flush()

    # -- steps -------------------------------------------------------------------------------
    def step_finished(self, record: StepRecord) -> None:
        self._current = None
        self._clear_progress()
        failed = record.status is Status.FAILED
        if self.options.verbosity < 0 and not failed:
            with self._exchanges_lock:
                self._exchanges = []
            return
        word, colour = _STATUS.get(record.status, (record.status.upper(), "0"))
        step = record.step
        width = len(str(self._total))
        label = printable(record.label)
        parts = [self._paint(word, colour), f"{step.index + 1:>{width}}/{self._total}", label]
        if record.http_status is not None:
            parts.append(f"→ {record.http_status}")
        if record.items is not None:
            parts.append(item_counts(record.items))
        pages = pages_fetched(record)
        if pages is not None:
            parts.append(pages)
        if record.status is Status.EXPECTED_ERROR and record.error is not None:
            parts.append(
                f"(expected {getattr(record.error, 'error_type', type(record.error).__name__)})"
            )
        if step.kind in ("authorize", "write") and record.status is Status.OK and record.message:
            parts.append(record.message)
        if record.status is Status.SKIPPED and record.message:
            parts.append(self._paint(f"({record.message})", "2"))
        parts.append(self._paint(_duration(record.elapsed), "2"))
        self._write("  ".join(parts))
        with self._exchanges_lock:
            exchanges, self._exchanges = self._exchanges, []
            retries, self._retries = self._retries, []
        for note in retries[:_MAX_ITEMS_LISTED]:
            self._write(self._paint(f"      {note}", "33"))
        if len(retries) > _MAX_ITEMS_LISTED:
            self._write(
                self._paint(f"      ... and {len(retries) - _MAX_ITEMS_LISTED} more retries", "33")
            )
        for exchange in exchanges:
            self._show_exchange(exchange)
        if step.kind == "log" and record.status is Status.OK and record.message is not None:
            for line in record.message.splitlines() or [""]:
                self._write(f"      {printable(line)}")
        if step.kind == "log" and record.items:  # a log in a loop: each item's line, in order
            for item in record.items:
                if item.status is Status.OK and item.message is not None:
                    for line in item.message.splitlines() or [""]:
                        self._write(f"      {printable(line)}")
        if record.status is Status.IGNORED and record.error is not None and not record.items:
            self._write(self._paint(f"      {record.error}", "33"))
        self._show_write_notes(record)
        self._show_failed_items(record)

    def _show_write_notes(self, record: StepRecord) -> None:
        """A dry run shows every write it would send; a resume, which writes it did not resend."""
        notes = [(record.status, record.message)]
        notes += [(item.status, item.message) for item in record.items or ()]
        resumed = 0
        for status, message in notes:
            if status is Status.DRY_RUN and message and self.options.verbosity >= 0:
                self._write(self._paint(f"      {message}", "35"))
            elif status is Status.DONE_EARLIER:
                resumed += 1
        if resumed:
            self._write(
                self._paint(f"      {resumed} done by an earlier run, not sent again", "36")
            )

    def _show_failed_items(self, record: StepRecord) -> None:
        failed = record.failed_items
        total = len(record.items or ())
        colour = "31" if record.status is Status.FAILED else "33"
        for item in failed[:_MAX_ITEMS_LISTED]:
            line = item_error_line(item, self.redactor, total)
            self._write(self._paint(f"      {line}", colour))
        if len(failed) > _MAX_ITEMS_LISTED:
            more = len(failed) - _MAX_ITEMS_LISTED
            self._write(self._paint(f"      ... and {more} more (--report json lists all)", colour))

    def retry_notice(self, attempt: int, delay: float, message: str) -> None:
        """A request is about to be retried (from any thread); shown under its step."""
        if self.options.verbosity >= 0:
            with self._exchanges_lock:
                self._retries.append(f"retry {attempt} in {delay:.1f} s: {message}")

    def rate_limit_wait(self, seconds_left: float, message: str) -> None:
        """The API's limit is spent (or nearly): a countdown on a TTY, plain lines otherwise."""
        with self._exchanges_lock:
            if self.options.tty:
                if seconds_left <= 0:
                    if self._waiting:
                        self.out.write("\r\033[K")
                        self._waiting = False
                else:
                    text = self.redactor.redact(f"{message}: {_clock_time(seconds_left)} left")
                    self.out.write("\r\033[K" + self._paint(text, "33"))
                    self._waiting = True
                self.out.flush()
            elif seconds_left > 0 and (self._last_wait_note(seconds_left)):
                self._write(self._paint(f"      {message}: {_clock_time(seconds_left)} left", "33"))

    def _last_wait_note(self, seconds_left: float) -> bool:
        # Piped: one line when a wait starts, then about once a minute, not once a second.
        note = int(seconds_left) // 60
        if note != self._wait_minute:
            self._wait_minute = note
            return True
        return False

    def exchange(self, exchange: Exchange) -> None:
        """`-v`: each HTTP exchange, already redacted by the client (from any thread)."""
        if self.options.verbosity >= 1:
            with self._exchanges_lock:
                self._exchanges.append(exchange)

    def _show_exchange(self, exchange: Exchange) -> None:
        self._write(self._paint(f"      > {exchange.method} {exchange.url}", "2"))
        body = getattr(exchange, "request_body", None)
        if body:
            self._write(self._paint(f"      > {printable(body)}", "2"))
        if exchange.status is None:
            failure = getattr(exchange, "error", None) or "no response"
            self._write(self._paint(f"      < {failure} ({_duration(exchange.elapsed)})", "2"))
            return
        self._write(self._paint(f"      < {exchange.status} ({_duration(exchange.elapsed)})", "2"))
        text = getattr(exchange, "response_body", None)
        if text:
            lines = _pretty(str(text)).splitlines()
            for line in lines[:_MAX_BODY_LINES]:
                self._write(self._paint(f"      < {printable(line)}", "2"))
            if len(lines) > _MAX_BODY_LINES:
                more = len(lines) - _MAX_BODY_LINES
                self._write(self._paint(f"      < ... ({more} more lines)", "2"))

    def run_finished(self, result: RunResult) -> None:
        self._clear_progress()  # interrupted mid-loop: the step line never came
        if self._current is not None and result.interrupted:
            self._show_interrupted_step(self._current)
        self._show_outputs(result)
        self._show_write_summary(result)
        counts: dict[Status, int] = {}
        for record in result.records:
            counts[record.status] = counts.get(record.status, 0) + 1
        not_run = len(result.playbook.steps) - len(result.records)
        # The step Ctrl-C stopped has no record, yet it ran: it was interrupted, not "not run".
        stopped_in = self._current is not None and result.interrupted
        pieces = [f"{counts.get(Status.OK, 0)} passed"]
        for status, one, many in (
            (Status.EXPECTED_ERROR, "expected error", "expected errors"),
            (Status.SKIPPED, "skipped", "skipped"),
            (Status.IGNORED, "error ignored", "errors ignored"),
            (Status.FAILED, "failed", "failed"),
            (Status.IN_DOUBT, "in doubt", "in doubt"),
            (Status.DRY_RUN, "dry run", "dry run"),
            (Status.DONE_EARLIER, "done earlier", "done earlier"),
        ):
            count = counts.get(status, 0)
            if count:
                pieces.append(f"{count} {one if count == 1 else many}")
        if stopped_in:
            pieces.append("1 interrupted")
            not_run -= 1
        if not_run:
            pieces.append(f"{not_run} not run")
        if result.api_usage is not None:
            from igflow.usage import describe_usage

            usage = describe_usage(result.api_usage)
            if usage:
                self._write(self._paint(usage, "2"))
        verdict = "interrupted" if result.interrupted else ("ok" if result.ok else "FAILED")
        colour = "32;1" if result.ok else "31;1"
        self._write(
            f"{self._paint(verdict, colour)}: {', '.join(pieces)} in {_duration(result.elapsed)}"
        )

    def _show_interrupted_step(self, step: Step) -> None:
        """The line of the step Ctrl-C stopped: what it had done, what it never started."""
        width = len(str(self._total))
        parts = [
            self._paint("INTR", "31;1"),
            f"{step.index + 1:>{width}}/{self._total}",
            printable(self._current_label or step.label),
        ]
        total = self._current_total
        if total is not None:
            done = self._current_items
            counts = item_counts(done).split(", ")[1:]  # the failures among those done
            parts.append(
                ", ".join(
                    [f"{len(done)} of {total} items done", *counts, f"{total - len(done)} not run"]
                )
            )
        parts.append(self._paint("(interrupted)", "2"))
        self._write("  ".join(parts))

    def _show_write_summary(self, result: RunResult) -> None:
        writes = ", ".join(f"{endpoint} ×{count}" for endpoint, count in result.writes.items())
        if result.dry_run:
            files = result.files_written
            wrote = ""
            if files:  # `write` steps run in a dry run too: they change nothing remote
                shown = ", ".join(files[:3]) + (
                    f" and {len(files) - 3} more" if len(files) > 3 else ""
                )
                wrote = f"; files written: {shown}"
            self._write(
                self._paint("dry run: ", "35;1")
                + (f"would send {writes}" if writes else "no writes would be sent")
                + "; nothing was sent to the account"
                + wrote
            )
            return
        if result.writes_done_earlier:
            self._write(
                self._paint("resumed: ", "36;1")
                + f"{result.writes_done_earlier} writes done by earlier runs were not resent"
                + (f"; sent now: {writes}" if writes else "")
            )
        if result.reconciled:
            # One line per kind of settlement, counted: a long loop may settle hundreds.
            for how, count in Counter(result.reconciled).items():
                self._write(
                    self._paint("settled: ", "36;1") + how + (f" (×{count})" if count > 1 else "")
                )
        if result.in_doubt:
            count = len(result.in_doubt)
            self._write(
                self._paint("in doubt: ", "33;1")
                + f"{count} write{'s' if count != 1 else ''} may or may not have been applied; "
                + result.settle_advice
            )
            for why in result.in_doubt[:3]:
                self._write(self._paint(f"  {why}", "33"))
            if count > 3:
                more = " (igflow journal show)" if result.journaled else ""
                self._write(self._paint(f"  ... and {count - 3} more{more}", "33"))

    def _show_outputs(self, result: RunResult) -> None:
        """The playbook's `outputs`: shown even with -q, since they are the run's result."""
        if not result.outputs and not result.output_errors:
            return
        self._write(self._paint("outputs:", "1"))
        for name, value in result.outputs.items():
            text = json.dumps(
                self.redactor.redact_mapping(json_safe(value)), ensure_ascii=False, sort_keys=False
            )
            if len(text) > _MAX_OUTPUT_CHARS:
                text = text[: _MAX_OUTPUT_CHARS - 3] + "..."
                text += self._paint(" (cut; --report json has it whole)", "2")
            self._write(f"  {name} = {text}")
        for name, why in result.output_errors.items():
            self._write(self._paint(f"  {name}: not available: {why}", "33"))


_MAX_BODY_LINES = 40


def _pretty(text: str) -> str:
    """Indent a JSON body for reading; anything else is shown as it came."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json can go
        return text


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def _clock_time(seconds: float) -> str:
    """An ETA: ``<1 s``, ``42 s``, ``3:05``, ``1:02:03``."""
    whole = int(seconds + 0.5)
    if whole < 1:
        return "<1 s"
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
