"""Playbooks as pytest items: one item per playbook, its steps as sub-results.

Why one item per playbook and not one per step: a playbook's steps are one run (a step reads
what earlier steps extracted, under the token an earlier ``authorize`` got), so a step cannot
pass or fail alone, and ``-k`` or ``--lf`` picking one step out would run something that
cannot work. The failure text lists every step with its status and line, as Tavern lists
stages, and ``-k`` matches step names and ids too (selecting the playbooks that have them).

The item checks the playbook as ``igflow check`` does (at collection, so ``--collect-only``
reports nothing but the problems are in the item's failure), then runs it through
:func:`igflow.compose.run_playbook`, as ``igflow run`` does, with the same messages.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from igflow.environment import Environment
from igflow.errors import IgflowError

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from igflow.playbook import Diagnosis
    from igflow.results import RunResult
    from igflow.settings import RunSettings

__all__ = ["PlaybookFailure", "PlaybookFile", "PlaybookItem", "playbook_options"]

_SUFFIX = re.compile(r"(\.igflow)?\.ya?ml$", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_EXTENSIONS = {"json": "json", "junit": "xml"}
# pytest's own markers that take arguments: as bare tags they would mean something else.
_PYTEST_MARKS = frozenset({"skipif", "parametrize", "usefixtures", "filterwarnings"})


class PlaybookFailure(Exception):
    """A playbook item failed; the text is what pytest shows."""


class PlaybookFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from igflow.playbook import diagnose_playbook

        options = playbook_options(self.config)
        problem: str | None = None
        diagnosis: Diagnosis | None = None
        try:
            diagnosis = diagnose_playbook(_shown_path(self), external_names=list(options.variables))
        except IgflowError as exc:  # unreadable: the item says so when it runs
            problem = str(exc)
        name = _SUFFIX.sub("", self.path.name)
        if diagnosis is not None and diagnosis.playbook is not None:
            name = diagnosis.playbook.name or name
        item = PlaybookItem.from_parent(self, name=name, diagnosis=diagnosis, problem=problem)
        yield item


class PlaybookItem(pytest.Item):
    def __init__(self, *, diagnosis: Diagnosis | None, problem: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.diagnosis = diagnosis
        self.problem = problem
        self.add_marker(pytest.mark.igflow)
        playbook = diagnosis.playbook if diagnosis is not None else None
        if playbook is None:
            return
        for tag in playbook.tags:
            if tag in _PYTEST_MARKS:
                self.problem = (
                    f"{_shown_path(self)}: tag '{tag}' is one of pytest's own markers and would "
                    "not be a label; choose another name (xfail and skip are allowed)"
                )
            elif tag == "xfail":  # a known failure: it is reported, and passing is news
                self.add_marker(pytest.mark.xfail(reason="tagged xfail in the playbook"))
            elif tag == "skip":
                self.add_marker(pytest.mark.skip(reason="tagged skip in the playbook"))
            else:
                _register_marker(self.config, tag)
                self.add_marker(tag)
        if playbook.skip is not None:
            self.add_marker(pytest.mark.skip(reason=playbook.skip))
        # -k matches step names and ids (and the playbook's file name, as for any item).
        for step in playbook.steps:
            for word in (step.name, step.id):
                if word:
                    self.extra_keyword_matches.add(word)

    def runtest(self) -> None:
        from igflow.compose import run_playbook

        if self.problem is not None:
            raise PlaybookFailure(f"igflow: error: {self.problem}")
        if self.diagnosis is None or self.diagnosis.playbook is None:
            raise PlaybookFailure(self._problems())
        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdout=out, stderr=err, environ=dict(os.environ), stdin=io.StringIO())
        settings = self._settings()
        try:
            try:
                result = run_playbook(settings, env)
            except IgflowError as exc:  # it could not start (a report path, a refused journal)
                raise PlaybookFailure(_error_text(exc)) from None
        finally:
            self.add_report_section("call", "igflow output", out.getvalue() + err.getvalue())
        self._record(result)
        if result.interrupted:
            raise KeyboardInterrupt
        if result.error is not None:
            text = _error_text(result.error, lines=result.playbook.lines, redact=result.redact)
            doubt = "".join(f"\nigflow: write in doubt: {line}" for line in result.in_doubt)
            raise PlaybookFailure(_steps_table(result) + "\n" + text + result.redact(doubt))
        if result.report_failures:
            raise PlaybookFailure("\n".join(f"igflow: {m}" for m in result.report_failures))

    def _problems(self) -> str:
        from igflow.playbook import format_issue

        assert self.diagnosis is not None
        issues = self.diagnosis.issues
        out = [format_issue(issue, self.diagnosis.lines) for issue in issues]
        errors = sum(1 for issue in issues if issue.severity == "error")
        out.append(f"igflow: {errors} problem{'s' if errors != 1 else ''} found; nothing was sent")
        return "\n".join(out)

    def _settings(self) -> RunSettings:
        from igflow.reporters import ReportSpec
        from igflow.settings import RunSettings

        options = playbook_options(self.config)
        reports = []
        stem = _item_stem(self.nodeid)
        for fmt, directory in options.reports:
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{stem}.{_EXTENSIONS[fmt]}")
            reports.append(ReportSpec(fmt, path))
        return RunSettings(
            playbook=_shown_path(self),
            variables=options.variables,
            vars_file=options.vars_file,
            secret_variables=options.secret_names,
            target=options.target,
            reports=tuple(reports),
            dry_run=options.dry_run,
            assume_yes=options.assume_yes,
            journal=os.path.join(_journal_dir(self.config), f"{stem}.jsonl"),
            out_dir=options.out_dir or _out_dir(self.config, stem),
            color="never",
        )

    def _record(self, result: RunResult) -> None:
        """Each step's status as a JUnit property (pytest's --junitxml writes them)."""
        for record in result.records:
            line = record.step.location.line
            self.user_properties.append((f"step line {line}", f"{record.status}: {record.label}"))

    def repr_failure(
        self,
        excinfo: ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, PlaybookFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self.path, 0, f"playbook: {self.name}"


def _journal_dir(config: pytest.Config) -> str:
    """Where runs keep their resume journals: in pytest's temporary directory for the session,
    not in the project (a test run starts afresh; its journal is only kept to say what a
    failed run left in doubt)."""
    found = config.stash.get(_JOURNALS, None)
    if found is None:
        factory = getattr(config, "_tmp_path_factory", None)  # pytest's own basetemp
        if factory is not None:
            found = str(factory.mktemp("igflow-journals", numbered=False))
        else:  # pragma: no cover - pytest always sets it up
            import tempfile

            found = tempfile.mkdtemp(prefix="igflow-journals-")
        config.stash[_JOURNALS] = found
    return found


def _item_stem(nodeid: str) -> str:
    """A file name for an item, one per item: its id made safe, and a digest of the id itself,
    since making it safe can map two ids to one (a/x.igflow.yml and a_x.igflow.yml)."""
    import hashlib

    safe = _UNSAFE.sub("_", nodeid).strip("_")[:80] or "playbook"
    return f"{safe}-{hashlib.sha256(nodeid.encode()).hexdigest()[:8]}"


def _out_dir(config: pytest.Config, stem: str) -> str:
    """Where a playbook's `write` steps write by default: its own directory under pytest's
    temporary one (an `igflow run` writes beside the playbook; a test run should not)."""
    path = os.path.join(os.path.dirname(_journal_dir(config)), "igflow-out", stem)
    os.makedirs(path, exist_ok=True)
    return path


def _shown_path(node: pytest.Item | pytest.Collector) -> str:
    """The playbook's path as messages show it: relative to where pytest was started."""
    path = node.path
    try:
        return str(path.relative_to(node.config.invocation_params.dir))
    except ValueError:
        return str(path)


def _steps_table(result: RunResult) -> str:
    """Every top-level step with its status, line and endpoint, as sub-results."""
    rows = [f"{result.playbook.name or result.playbook.path}: steps"]
    records = {id(record.step): record for record in result.records}
    for step in result.playbook.steps:
        record = records.get(id(step))
        status = str(record.status) if record is not None else "not-run"
        label = record.label if record is not None else step.label
        parts = (record.endpoint, record.http_status) if record is not None else ()
        extra = ", ".join(str(part) for part in parts if part is not None)
        rows.append(
            f"  {status:<15} line {step.location.line:<4} {label}"
            + (f"  [{extra}]" if extra else "")
        )
    return result.redact("\n".join(rows))


def _error_text(error: IgflowError, **context: Any) -> str:
    """The error exactly as ``igflow run`` prints it (file:line, the source line, values)."""
    from igflow.cli import _report_error

    buffer = io.StringIO()
    _report_error(error, Environment(stdout=io.StringIO(), stderr=buffer), **context)
    return buffer.getvalue().rstrip("\n")


def _register_marker(config: pytest.Config, name: str) -> None:
    """Tags become markers; registered first, so --strict-markers accepts them."""
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: igflow playbook tag")


class _Options:
    def __init__(self, config: pytest.Config) -> None:
        from igflow.env_overrides import env_overrides
        from igflow.variables import external_variables

        try:
            overrides = env_overrides(os.environ)
            given = external_variables(
                config.getoption("igflow_var"), config.getoption("igflow_vars_file")
            )
            self.reports = [_report_dir(text) for text in config.getoption("igflow_report")]
        except IgflowError as exc:
            raise pytest.UsageError(f"igflow: {exc}") from None
        self.variables: dict[str, Any] = {**overrides.variables, **given}
        self.secret_names = overrides.secret_names
        self.vars_file: str | None = config.getoption("igflow_vars_file")
        self.target: str | None = config.getoption("igflow_target") or overrides.target
        self.dry_run: bool = bool(config.getoption("igflow_dry_run"))
        self.assume_yes: bool = bool(config.getoption("igflow_yes"))
        self.out_dir: str | None = config.getoption("igflow_out_dir")


_OPTIONS = pytest.StashKey[_Options]()
_JOURNALS = pytest.StashKey[str]()


def playbook_options(config: pytest.Config) -> _Options:
    """The plugin's options, read once per session."""
    found = config.stash.get(_OPTIONS, None)
    if found is None:
        found = config.stash[_OPTIONS] = _Options(config)
    return found


def _report_dir(text: str) -> tuple[str, str]:
    fmt, sep, directory = text.partition(":")
    fmt = fmt.strip().lower()
    if not sep or fmt not in _EXTENSIONS or not directory.strip():
        raise pytest.UsageError(
            f"--igflow-report {text}: expected FORMAT:DIR with FORMAT json or junit"
        )
    return fmt, str(Path(directory))
