"""The console reporter: a line per step, a summary; colour only on a TTY, never with NO_COLOR."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from igflow.client import Exchange
    from igflow.playbook.model import Playbook, Step
    from igflow.redact import Redactor
    from igflow.runner import ItemRecord, RunResult, StepRecord

_STATUS = {
    "ok": ("PASS", "32"),
    "skipped": ("SKIP", "2"),
    "expected-error": ("XERR", "36"),
    "error-ignored": ("IGNR", "33"),
    "failed": ("FAIL", "31;1"),
}


@dataclass
class ConsoleOptions:
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose (HTTP exchanges)
    color: bool = False


class ConsoleReporter:
    def __init__(self, out: TextIO, redactor: Redactor, options: ConsoleOptions) -> None:
        self.out = out
        self.redactor = redactor
        self.options = options
        self._total = 0
        self._exchanges: list[Exchange] = []  # -v: shown under their step's line

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

    def step_started(self, step: Step) -> None:
        pass

    def loop_started(self, step: Step, total: int) -> None:
        pass

    def item_finished(self, step: Step, item: ItemRecord, done: int, total: int) -> None:
        pass

    def step_finished(self, record: StepRecord) -> None:
        failed = record.status == "failed"
        if self.options.verbosity < 0 and not failed:
            return
        word, colour = _STATUS.get(record.status, (record.status.upper(), "0"))
        step = record.step
        width = len(str(self._total))
        parts = [self._paint(word, colour), f"{step.index + 1:>{width}}/{self._total}", step.label]
        if record.http_status is not None:
            parts.append(f"→ {record.http_status}")
        if record.status == "expected-error" and record.error is not None:
            parts.append(
                f"(expected {getattr(record.error, 'error_type', type(record.error).__name__)})"
            )
        if step.kind == "authorize" and record.status == "ok" and record.message:
            parts.append(record.message)
        if record.status == "skipped" and record.message:
            parts.append(self._paint(f"({record.message})", "2"))
        parts.append(self._paint(_duration(record.elapsed), "2"))
        self._write("  ".join(parts))
        exchanges, self._exchanges = self._exchanges, []
        for exchange in exchanges:
            self._show_exchange(exchange)
        if step.kind == "log" and record.status == "ok" and record.message is not None:
            for line in record.message.splitlines() or [""]:
                self._write(f"      {line}")
        if record.status == "error-ignored" and record.error is not None:
            self._write(self._paint(f"      {record.error}", "33"))

    def exchange(self, exchange: Exchange) -> None:
        """`-v`: each HTTP exchange, already redacted by the client."""
        if self.options.verbosity >= 1:
            self._exchanges.append(exchange)

    def _show_exchange(self, exchange: Exchange) -> None:
        self._write(self._paint(f"      > {exchange.method} {exchange.url}", "2"))
        body = getattr(exchange, "request_body", None)
        if body:
            self._write(self._paint(f"      > {body}", "2"))
        if exchange.status is None:
            failure = getattr(exchange, "error", None) or "no response"
            self._write(self._paint(f"      < {failure} ({_duration(exchange.elapsed)})", "2"))
            return
        self._write(self._paint(f"      < {exchange.status} ({_duration(exchange.elapsed)})", "2"))
        text = getattr(exchange, "response_body", None)
        if text:
            lines = _pretty(str(text)).splitlines()
            for line in lines[:_MAX_BODY_LINES]:
                self._write(self._paint(f"      < {line}", "2"))
            if len(lines) > _MAX_BODY_LINES:
                more = len(lines) - _MAX_BODY_LINES
                self._write(self._paint(f"      < ... ({more} more lines)", "2"))

    def run_finished(self, result: RunResult) -> None:
        counts: dict[str, int] = {}
        for record in result.records:
            counts[record.status] = counts.get(record.status, 0) + 1
        not_run = len(result.playbook.steps) - len(result.records)
        pieces = [f"{counts.get('ok', 0)} passed"]
        for status, one, many in (
            ("expected-error", "expected error", "expected errors"),
            ("skipped", "skipped", "skipped"),
            ("error-ignored", "error ignored", "errors ignored"),
            ("failed", "failed", "failed"),
        ):
            count = counts.get(status, 0)
            if count:
                pieces.append(f"{count} {one if count == 1 else many}")
        if not_run:
            pieces.append(f"{not_run} not run")
        verdict = "interrupted" if result.interrupted else ("ok" if result.ok else "FAILED")
        colour = "32;1" if result.ok else "31;1"
        self._write(
            f"{self._paint(verdict, colour)}: {', '.join(pieces)} in {_duration(result.elapsed)}"
        )


_MAX_BODY_LINES = 40


def _pretty(text: str) -> str:
    """Indent a JSON body for reading; anything else is shown as it came."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
