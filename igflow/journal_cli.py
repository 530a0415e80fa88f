"""``igflow journal show|settle|discard``: look at a resume journal and clear it deliberately.

A journal with writes in doubt refuses every fresh run of its playbook, on purpose: igflow
cannot know whether those writes were applied. ``--resume`` settles them with reads where it
can; these commands are for the rest, and for a person who wants to see what a journal holds:

- ``show`` prints what the journal records: target, runs, writes applied, caps used per step,
  and every write in doubt with its serial, endpoint, parameters (redacted) and why;
- ``settle --serial SERIAL --as applied|not-applied`` (repeatable, or ``--all``) records what
  a person found by looking at the account, so the next run neither repeats nor forgets them;
- ``discard`` deletes the journal; with writes in doubt only with ``--force``, after saying
  which are dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from typing import Any, TextIO

from igflow.errors import ExitCode, SafetyError, UsageError, printable

__all__ = ["add_journal_parser", "run_journal_command"]


def add_journal_parser(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    show = commands.add_parser("show", help="what a journal records, writes in doubt first")
    _add_location(show)
    show.add_argument("--json", action="store_true", help="print it as JSON")
    settle = commands.add_parser(
        "settle", help="record what became of writes in doubt (after checking the account)"
    )
    _add_location(settle)
    settle.add_argument(
        "--serial",
        dest="serials",
        action="append",
        default=[],
        metavar="SERIAL",
        help="a write's serial, from `igflow journal show` (repeatable)",
    )
    settle.add_argument("--all", action="store_true", help="every write in doubt")
    settle.add_argument(
        "--as",
        dest="outcome",
        required=True,
        choices=("applied", "not-applied"),
        help="applied: it happened (never sent again); not-applied: it did not (a resume "
        "sends it if still asked for)",
    )
    discard = commands.add_parser("discard", help="delete the journal (start over)")
    _add_location(discard)
    discard.add_argument(
        "--force", action="store_true", help="discard even though writes are in doubt"
    )


def _add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("playbook", nargs="?", help="the playbook whose journal it is")
    parser.add_argument("--journal", metavar="PATH", help="the journal file itself")
    parser.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def run_journal_command(args: argparse.Namespace, stdout: TextIO) -> int:
    from igflow.journal import read_state

    path = _journal_path(args)
    if not os.path.exists(path):
        raise UsageError(f"no journal at {path}")
    state = read_state(path)
    if args.journal_command == "show":
        view = _view(path, state)
        if args.json:
            stdout.write(json.dumps(view, indent=2, ensure_ascii=False) + "\n")
        else:
            stdout.write(_render(view))
        return int(ExitCode.OK)
    if args.journal_command == "settle":
        return _settle(args, path, state, stdout)
    return _discard(args, path, state, stdout)


def _journal_path(args: argparse.Namespace) -> str:
    from igflow.journal import default_journal_path

    if args.journal:
        return str(args.journal)
    if not args.playbook:
        raise UsageError("name the playbook, or the journal with --journal PATH")
    return default_journal_path(args.playbook)


def _view(path: str, state: Any) -> dict[str, Any]:
    return {
        "journal": path,
        "playbook": state.playbook,
        "target": state.target,
        "runs": state.runs,
        "last_run": state.last_status if state.finished else "did not finish",
        "applied": state.done_count,
        "caps_used": {step: n for step, n in state.sent_per_step.items() if n},
        "in_doubt": [
            {
                "serial": intent.get("serial"),
                "step": (intent.get("key") or [None])[0],
                "endpoint": intent.get("endpoint"),
                "params": intent.get("params"),
                "account": intent.get("account"),
                "sent_at": intent.get("at"),
                "why": intent.get("doubt") or "no outcome was recorded (the run stopped)",
            }
            for intent in state.doubts()
        ],
        "torn_tail_bytes": state.torn_tail,
    }


def _render(view: dict[str, Any]) -> str:
    lines = [
        f"journal   {view['journal']}",
        f"playbook  {view['playbook']}",
        f"target    {view['target'] or '(the built-in sandbox)'}",
        f"runs      {view['runs']} (the last: {view['last_run']})",
        f"applied   {view['applied']} write{'s' if view['applied'] != 1 else ''}",
    ]
    if view["caps_used"]:
        used = ", ".join(f"{step} {n}" for step, n in view["caps_used"].items())
        lines.append(f"caps used {used}")
    doubts = view["in_doubt"]
    if not doubts:
        lines.append("in doubt  none")
    else:
        # Which of them a resume can settle depends on the endpoint (a read that can check it,
        # or safe to send again); the rest only a person can: the line says both, never only
        # "resume" (containers.create and mention replies cannot be checked by any read).
        lines.append(
            f"in doubt  {len(doubts)} (igflow run --resume settles those a read can check or that "
            "are safe to send again; check the others on the account, then igflow journal settle)"
        )
        for doubt in doubts:
            params = ", ".join(f"{k}={v}" for k, v in (doubt["params"] or {}).items())
            lines.append(f"  {doubt['serial']}  {doubt['endpoint']} {params}")
            lines.append(f"      step {doubt['step']}, sent {doubt['sent_at']}: {doubt['why']}")
    if view["torn_tail_bytes"]:
        lines.append(
            f"torn      the last {view['torn_tail_bytes']} bytes are a record cut short by a "
            "crash (ignored; a resume removes them)"
        )
    return "\n".join(printable(line) for line in lines) + "\n"


def _settle(args: argparse.Namespace, path: str, state: Any, stdout: TextIO) -> int:
    from igflow.journal import Journal

    doubts = {str(intent.get("serial")): intent for intent in state.doubts()}
    if args.all == bool(args.serials):
        raise UsageError("give the serials to settle (from `igflow journal show`), or --all")
    chosen = list(doubts) if args.all else list(args.serials)
    unknown = [serial for serial in chosen if serial not in doubts]
    if unknown:
        raise UsageError(
            f"not in doubt in {path}: {', '.join(unknown)}"
            + (f" (in doubt: {', '.join(doubts)})" if doubts else " (nothing is in doubt)")
        )
    if not chosen:
        stdout.write(f"{path}: nothing is in doubt\n")
        return int(ExitCode.OK)
    journal = Journal.reopen(path)
    try:
        for serial in chosen:
            journal.settle(serial, args.outcome, "settled by hand (igflow journal settle)")
    finally:
        journal.close()
    stdout.write(
        f"{path}: {len(chosen)} write{'s' if len(chosen) != 1 else ''} settled as {args.outcome}\n"
    )
    return int(ExitCode.OK)


def _discard(args: argparse.Namespace, path: str, state: Any, stdout: TextIO) -> int:
    doubts = state.doubts()
    if doubts and not args.force:
        raise SafetyError(
            f"{path} has {len(doubts)} write{'s' if len(doubts) != 1 else ''} in doubt; "
            "discarding it forgets whether they were applied. Settle them (igflow journal "
            "settle), or add --force to discard anyway"
        )
    from igflow.journal import lock_journal, lock_path

    fd = lock_journal(path)  # not while a run is using it
    try:
        os.unlink(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path(path))
    finally:
        os.close(fd)
    dropped = f" ({len(doubts)} in doubt, dropped)" if doubts else ""
    stdout.write(f"discarded {path}{dropped}\n")
    return int(ExitCode.OK)
