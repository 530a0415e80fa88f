"""``igflow plan``: what a playbook will do, known before any request.

Built from the checked playbook alone (no I/O): each step's action, endpoint and method, whether
it writes (and whether that write is idempotent, capped or confirmed), the scopes it needs, and
an estimate of its requests: exact where the playbook fixes it (a literal list, page caps with a
literal page size), a lower bound and what it depends on otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from igflow.playbook.model import Playbook, Step

__all__ = ["Plan", "PlanRow", "Requests", "build_plan", "render_plan"]


class Requests(NamedTuple):
    """How many requests a step sends: at least ``low``, at most ``high`` (None: unbounded)."""

    low: int
    high: int | None
    note: str = ""

    def __str__(self) -> str:
        if self.high == self.low:
            count = str(self.low)
        elif self.high is None:
            count = f"≥{self.low}"
        else:
            count = f"{self.low}-{self.high}"
        return f"{count} ({self.note})" if self.note else count


class PlanRow(NamedTuple):
    number: int
    label: str
    line: int
    action: str  # e.g. "GET users.self", "set spam", "authorize"
    writes: str  # "" for reads; else e.g. "yes, idempotent, max 50"
    requests: Requests
    scope: str | None


@dataclass
class Plan:
    title: str
    path: str
    rows: list[PlanRow] = field(default_factory=list)
    scopes_requested: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)

    @property
    def scopes_needed(self) -> list[str]:
        return sorted({row.scope for row in self.rows if row.scope})

    @property
    def total(self) -> Requests:
        low = sum(row.requests.low for row in self.rows)
        highs = [row.requests.high for row in self.rows]
        high = None if any(h is None for h in highs) else sum(h or 0 for h in highs)
        return Requests(low, high)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "path": self.path,
            "scopes_needed": self.scopes_needed,
            "authorize": [{"line": line, "scopes": list(s)} for line, s in self.scopes_requested],
            "requests": {"at_least": self.total.low, "at_most": self.total.high},
            "steps": [
                {
                    "step": row.number,
                    "line": row.line,
                    "label": row.label,
                    "action": row.action,
                    "writes": row.writes or None,
                    "scope": row.scope,
                    "requests": {
                        "at_least": row.requests.low,
                        "at_most": row.requests.high,
                        "note": row.requests.note or None,
                    },
                }
                for row in self.rows
            ],
        }


def build_plan(playbook: Playbook) -> Plan:
    plan = Plan(playbook.name or playbook.path, playbook.path)
    for step in playbook.steps:
        if step.kind == "authorize" and step.authorize is not None:
            plan.scopes_requested.append((step.location.line, step.authorize.scopes))
        plan.rows.append(
            PlanRow(
                number=step.index + 1,
                label=step.label,
                line=step.location.line,
                action=_action(step),
                writes=_writes(step),
                requests=_requests(step),
                scope=step.endpoint.scope if step.endpoint is not None else None,
            )
        )
    return plan


def render_plan(plan: Plan) -> str:
    """The plan as a text table with a summary."""
    header = ("#", "step", "action", "writes", "requests")
    rows = [(str(r.number), r.label, r.action, r.writes or "-", str(r.requests)) for r in plan.rows]
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    widths[1] = min(widths[1], 40)

    def line(cells: tuple[str, ...]) -> str:
        parts = [_fit(cell, widths[i]) for i, cell in enumerate(cells[:-1])]
        return "  ".join([*parts, cells[-1]]).rstrip()

    out = [f"{plan.title}  ({plan.path})", "", line(header)]
    out += [line(cells) for cells in rows]
    out.append("")
    needed = ", ".join(plan.scopes_needed) or "none"
    out.append(f"scopes needed: {needed}")
    for where, scopes in plan.scopes_requested:
        out.append(f"  authorize at line {where} requests: {', '.join(scopes) or 'none'}")
    writers = [r for r in plan.rows if r.writes]
    if writers:
        out.append(
            "writes: " + "; ".join(f"step {r.number} {r.action} ({r.writes})" for r in writers)
        )
    else:
        out.append("writes: none (this playbook only reads)")
    out.append(f"requests: {plan.total} (authorize flows not counted)")
    return "\n".join(out) + "\n"


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def _action(step: Step) -> str:
    if step.kind == "call" and step.endpoint is not None:
        return f"{step.endpoint.method} {step.endpoint.id}"
    if step.kind == "authorize" and step.authorize is not None and step.authorize.client:
        return f"authorize (client {step.authorize.client.source})"
    if step.kind == "set":
        return "set " + ", ".join(step.set_values)
    if step.kind == "write" and step.write is not None:
        return "write file"
    return step.kind


def _writes(step: Step) -> str:
    endpoint = step.endpoint
    if step.kind != "call" or endpoint is None or not endpoint.mutates:
        return ""
    parts = ["idempotent" if endpoint.idempotent else "not idempotent"]
    if step.max_writes is not None:
        cap = step.max_writes if isinstance(step.max_writes, int) else "from a variable"
        parts.append(f"max {cap}")
    elif step.foreach is not None:
        parts.append("no cap")
    if step.confirm:
        parts.append("asks first")
    return ", ".join(parts)


def _requests(step: Step) -> Requests:
    if step.kind != "call":
        return Requests(0, 0)
    low, high, notes = 1, _pages(step), []
    if step.paginate is not None:
        notes.append(_page_note(step, high))
    if step.foreach is not None:
        items = _literal_length(step)
        if items is None:
            low = 0
            high = None
            notes.append("one per item of the list")
        else:
            low, high = items, None if high is None else high * items
            if step.paginate is not None and high is not None:
                low = items
            notes.append(f"{items} items")
        if not isinstance(step.concurrency, int) or step.concurrency > 1:
            shown = step.concurrency if isinstance(step.concurrency, int) else "N"
            notes.append(f"{shown} at once")
    if step.when is not None:
        low = 0
        notes.append(f"when {step.when.source}")
    if step.max_writes is not None and isinstance(step.max_writes, int) and high is None:
        high = step.max_writes
    return Requests(low, high, ", ".join(n for n in notes if n))


def _pages(step: Step) -> int | None:
    """Requests for one execution of the step (1 unless it pages)."""
    paginate = step.paginate
    if paginate is None:
        return 1
    caps: list[int] = []
    if isinstance(paginate.max_pages, int):
        caps.append(paginate.max_pages)
    per_page = _literal_param(step, "count")
    if isinstance(paginate.max_items, int) and per_page:
        caps.append(math.ceil(paginate.max_items / per_page))
    return min(caps) if caps else None


def _page_note(step: Step, pages: int | None) -> str:
    if pages is None:
        return "every page"
    return f"at most {pages} page{'s' if pages != 1 else ''}"


def _literal_param(step: Step, name: str) -> int | None:
    known = step.params.static() if step.params is not None else None
    value = known.get(name) if isinstance(known, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _literal_length(step: Step) -> int | None:
    known = step.foreach.static() if step.foreach is not None else None
    return len(known) if isinstance(known, list | tuple) else None
