"""The console for loops, pages, writes and outputs; progress on a terminal and in a CI log.

A fake clock drives the progress pacing, so the tests say exactly when a line may appear.
"""

from __future__ import annotations

import io
import threading
from typing import Any

from test_report_common import (
    SECRET,
    TOKEN,
    api_error,
    items,
    make_playbook,
    make_result,
    make_step,
    replay,
)

from igflow.redact import Redactor
from igflow.reporters.console import ConsoleOptions, ConsoleReporter, _clock_time
from igflow.results import ItemRecord, RunResult, Status, StepRecord


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def console(
    *, tty: bool = False, verbosity: int = 0, redactor: Redactor | None = None
) -> tuple[ConsoleReporter, io.StringIO, FakeClock]:
    out, clock = io.StringIO(), FakeClock()
    reporter = ConsoleReporter(
        out, redactor or Redactor(), ConsoleOptions(verbosity=verbosity, tty=tty), clock=clock
    )
    return reporter, out, clock


def run_loop(
    reporter: ConsoleReporter, clock: FakeClock, count: int, seconds_per_item: float
) -> StepRecord:
    """Drive one foreach step of ``count`` items, each taking ``seconds_per_item``."""
    step = make_step(0, "Unlike each")
    loop = items(count)
    reporter.run_started(make_playbook([step]), "http://x")
    reporter.step_started(step)
    reporter.loop_started(step, count)
    for done, item in enumerate(loop, 1):
        clock.now += seconds_per_item
        reporter.item_finished(step, item, done, count)
    record = StepRecord(step, items=loop, elapsed=count * seconds_per_item)
    reporter.step_finished(record)
    return record


def progress_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "items (" in line]


# -- progress -------------------------------------------------------------------------------------


def test_terminal_progress_rewrites_one_line_and_clears_it() -> None:
    reporter, out, clock = console(tty=True)
    step = make_step(0, "Unlike each")
    reporter.run_started(make_playbook([step]), "http://x")
    reporter.loop_started(step, 100)
    loop = items(100)
    clock.now += 5.0
    reporter.item_finished(step, loop[0], 25, 100)
    drawn = out.getvalue().split("\n")[-1]
    assert drawn.startswith("\r\033[K1/1 Unlike each: 25/100 items (25%), 5.0/s, ETA 15 s")
    assert not out.getvalue().endswith("\n")  # the line stays open for the next redraw
    clock.now += 0.01
    reporter.item_finished(step, loop[1], 26, 100)  # too soon: no redraw
    assert out.getvalue().count("\r\033[K") == 1
    clock.now += 0.2
    reporter.item_finished(step, loop[2], 27, 100)
    assert out.getvalue().count("\r\033[K") == 2
    reporter.step_finished(StepRecord(step, items=loop))
    text = out.getvalue()
    assert "\r\033[KPASS  1/1  Unlike each  100 items" in text  # cleared before the step line


def test_terminal_progress_never_wraps(monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    reporter, out, clock = console(tty=True)
    step = make_step(0, "A very long step label that would wrap a narrow terminal")
    reporter.run_started(make_playbook([step]), "http://x")
    reporter.loop_started(step, 10)
    clock.now += 1
    reporter.item_finished(step, items(1)[0], 1, 10)
    drawn = out.getvalue().split("\r\033[K")[-1]
    assert len(drawn) <= 39 and drawn.endswith("...")


def test_piped_progress_is_a_few_plain_lines() -> None:
    reporter, out, clock = console(tty=False)
    run_loop(reporter, clock, 1000, 0.1)  # 100 s in all
    lines = progress_lines(out.getvalue())
    assert "\r" not in out.getvalue()
    assert 5 <= len(lines) <= 10, lines
    assert lines[0].startswith("      1/1 Unlike each: 100/1000 items (10%), 10.0/s, ETA 1:30")


def test_a_fast_loop_prints_no_progress_when_piped() -> None:
    reporter, out, clock = console(tty=False)
    run_loop(reporter, clock, 1000, 0.004)  # 4 s in all
    assert progress_lines(out.getvalue()) == []
    assert "PASS  1/1  Unlike each  1000 items" in out.getvalue()


def test_a_slow_loop_shows_it_is_alive_every_minute() -> None:
    reporter, out, clock = console(tty=False)
    run_loop(reporter, clock, 1000, 1.0)  # 1% a second: the minute comes before 10%
    lines = progress_lines(out.getvalue())
    assert lines[0].startswith("      1/1 Unlike each: 60/1000 items (6%)")


def test_quiet_shows_no_progress() -> None:
    for tty in (True, False):
        reporter, out, clock = console(tty=tty, verbosity=-1)
        run_loop(reporter, clock, 100, 1.0)
        assert out.getvalue() == ""


def test_eta_formats() -> None:
    assert [_clock_time(s) for s in (0.2, 42, 185, 3723)] == ["<1 s", "42 s", "3:05", "1:02:03"]


# -- step lines for loops, pages and writes -------------------------------------------------------


def test_loop_step_line_counts_items_and_lists_the_failed_ones() -> None:
    redactor = Redactor([SECRET])
    reporter, out, _ = console(redactor=redactor)
    step = make_step(0, "Unlike each")
    loop = items(200, failed=(3, 7, 11))
    loop[7] = ItemRecord(
        7, {"id": SECRET}, status=Status.IGNORED, error=api_error(message=f"no {SECRET}")
    )
    loop[150] = ItemRecord(150, "x", status=Status.SKIPPED)
    record = StepRecord(step, status=Status.IGNORED, items=loop, elapsed=1.5)
    replay(reporter, make_result(make_playbook([step]), [record]))
    lines = out.getvalue().splitlines()
    assert lines[1] == "IGNR  1/1  Unlike each  200 items, 3 failed, 1 skipped  1.50 s"
    assert lines[2] == "      [3] '3_3657': APINotFoundError: invalid media id"
    assert lines[3] == "      [7] {'id': '***'}: APINotFoundError: no ***"
    assert lines[4].startswith("      [11] ")
    assert SECRET not in out.getvalue()


def test_many_failed_items_are_cut() -> None:
    reporter, out, _ = console()
    step = make_step(0, "Unlike each")
    record = StepRecord(step, status=Status.IGNORED, items=items(100, failed=range(50)))
    replay(reporter, make_result(make_playbook([step]), [record]))
    text = out.getvalue()
    assert "[19] " in text and "[20] " not in text
    assert "... and 30 more (--report json lists all)" in text


def test_failed_items_show_in_quiet_mode_only_when_the_step_failed() -> None:
    step = make_step(0, "Unlike each")
    error = api_error(step)
    for status, shown in ((Status.IGNORED, False), (Status.FAILED, True)):
        reporter, out, _ = console(verbosity=-1)
        record = StepRecord(step, status=status, items=items(5, failed=(2,), status=status))
        replay(reporter, make_result(make_playbook([step]), [record], error=error))
        assert ("[2] '2_3657'" in out.getvalue()) is shown


def test_pages_and_write_messages() -> None:
    reporter, out, _ = console()
    steps = [make_step(0, "Liked media"), make_step(1, "Export", "write"), make_step(2, "Each")]
    loop = items(2)
    loop[0].pages, loop[1].pages = 2, 3
    records = [
        StepRecord(steps[0], http_status=200, pages=4),
        StepRecord(steps[1], message="wrote 12 rows to exports/liked.csv"),
        StepRecord(steps[2], items=loop),
    ]
    replay(reporter, make_result(make_playbook(steps), records))
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("PASS  1/3  Liked media  → 200  4 pages  ")
    assert lines[2].startswith("PASS  2/3  Export  wrote 12 rows to exports/liked.csv  ")
    assert lines[3].startswith("PASS  3/3  Each  2 items  5 pages  ")


def test_a_log_in_a_loop_prints_each_item_line_in_order() -> None:
    reporter, out, _ = console(redactor=Redactor([SECRET]))
    step = make_step(0, "log", "log")
    loop = [
        ItemRecord(0, "a", status=Status.OK, message="unliked a"),
        ItemRecord(1, "b", status=Status.SKIPPED, message="when: false"),
        ItemRecord(2, "c", status=Status.OK, message=f"unliked c with {SECRET}"),
    ]
    replay(reporter, make_result(make_playbook([step]), [StepRecord(step, items=loop)]))
    lines = out.getvalue().splitlines()
    assert lines[2:4] == ["      unliked a", "      unliked c with ***"]


# -- outputs --------------------------------------------------------------------------------------


def outputs_result(**kwargs: Any) -> RunResult:
    step = make_step(0, "one")
    return make_result(make_playbook([step]), [StepRecord(step)], **kwargs)


def test_outputs_block_before_the_verdict_even_when_quiet() -> None:
    for verbosity in (0, -1):
        reporter, out, _ = console(verbosity=verbosity, redactor=Redactor([SECRET]))
        result = outputs_result(
            outputs={"unliked": 3, "ids": ["1", "2"], "who": {"token": "x", "n": SECRET}},
            output_errors={"later": "'later' is undefined"},
        )
        replay(reporter, result)
        lines = out.getvalue().splitlines()
        start = lines.index("outputs:")
        assert lines[start + 1 :] == [
            "  unliked = 3",
            '  ids = ["1", "2"]',
            '  who = {"token": "***", "n": "***"}',
            "  later: not available: 'later' is undefined",
            lines[-1],
        ]
        assert lines[-1].startswith("ok: 1 passed")


def test_a_long_output_is_cut_on_the_console() -> None:
    reporter, out, _ = console()
    replay(reporter, outputs_result(outputs={"ids": [str(n) for n in range(1000)]}))
    line = next(x for x in out.getvalue().splitlines() if x.startswith("  ids = "))
    assert len(line) < 600 and line.endswith("(cut; --report json has it whole)")


def test_no_outputs_no_block() -> None:
    reporter, out, _ = console()
    replay(reporter, outputs_result())
    assert "outputs:" not in out.getvalue()


# -- -v from worker threads -----------------------------------------------------------------------


class FakeExchange:
    def __init__(self, n: int) -> None:
        self.method = "DELETE"
        self.url = f"http://x/v1/media/{n}/likes?access_token={TOKEN}"
        self.status = 200
        self.elapsed = 0.001
        self.request_body = None
        self.response_body = None


def test_exchanges_from_many_threads_all_show_under_their_step() -> None:
    reporter, out, _ = console(verbosity=1)
    step = make_step(0, "Unlike each")
    reporter.run_started(make_playbook([step]), "http://x")

    def work(offset: int) -> None:
        for n in range(200):
            reporter.exchange(FakeExchange(offset * 1000 + n))  # type: ignore[arg-type]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reporter.step_finished(StepRecord(step, items=items(1600)))
    text = out.getvalue()
    assert text.count("      > DELETE ") == 1600
    assert TOKEN not in text


def test_ctrl_c_mid_loop_prints_the_line_of_the_step_in_flight() -> None:
    """Issue 12: after Ctrl-C mid-loop the console printed no line for the step in flight."""
    step = make_step(0, "Unlike each")
    playbook = make_playbook([step])
    reporter, out, _ = console()
    reporter.run_started(playbook, "http://x")
    reporter.step_started(step)
    reporter.loop_started(step, 10)
    loop = items(3, failed=(1,))
    for done, item in enumerate(loop, 1):
        reporter.item_finished(step, item, done, 10)
    reporter.run_finished(make_result(playbook, [], interrupted=True))
    text = out.getvalue()
    assert "INTR  1/1  Unlike each  3 of 10 items done, 1 failed, 7 not run  (interrupted)" in text
    # The summary counts it as interrupted, not as a step that never ran.
    assert "interrupted: 0 passed, 1 interrupted in" in text and "not run in" not in text


def test_a_dry_run_says_what_it_wrote_and_quiet_hides_each_would_send() -> None:
    step = make_step(0, "Unlike each")
    playbook = make_playbook([step])
    loop = [
        ItemRecord(n, str(n), status=Status.DRY_RUN, message=f"would send {n}") for n in range(3)
    ]
    record = StepRecord(step, status=Status.FAILED, items=loop)
    for verbosity, shown in ((0, True), (-1, False)):
        reporter, out, _ = console(verbosity=verbosity)
        result = make_result(playbook, [record], error=api_error(step))
        result.dry_run = True
        result.files_written = ["exports/media.jsonl"]
        replay(reporter, result)
        text = out.getvalue()
        assert ("would send 1" in text) is shown
        assert "nothing was sent to the account; files written: exports/media.jsonl" in text
        assert "nothing was written" not in text


def test_progress_and_the_interrupted_line_show_the_label_the_step_started_with() -> None:
    """Issue 12: a templated name is rendered as the step starts; every line of it shows that."""
    step = make_step(0, "Unlike the media of {{ owner }}")
    playbook = make_playbook([step])
    reporter, out, clock = console()
    reporter.run_started(playbook, "http://x")
    reporter.step_started(step, "Unlike the media of maya.bakes")
    reporter.loop_started(step, 100)
    for done, item in enumerate(items(40), 1):
        clock.now += 1.0
        reporter.item_finished(step, item, done, 100)
    reporter.run_finished(make_result(playbook, [], interrupted=True))
    text = out.getvalue()
    assert progress_lines(text)
    assert all("1/1 Unlike the media of maya.bakes: " in line for line in progress_lines(text))
    assert "INTR  1/1  Unlike the media of maya.bakes  40 of 100 items done" in text
    assert "{{ owner }}" not in text
