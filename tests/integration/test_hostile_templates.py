"""Hostile templates and oversized input, run through the real CLI as a user would run them.

Every bomb ends quickly, in little memory, with one clear message naming the limit and exit 2
(never 70, never a traceback), and `igflow check` does not hang on it either. The bounds are
in igflow/limits.py; each case below would exhaust memory or run for hours without them.
"""

# ruff: noqa: E501  (each bomb reads best as the one line a playbook would hold)
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Generous: a bomb's limit is met in well under a second; this is the "ends" bound.
SECONDS = 20.0
MEGABYTES = 200

LOOPS = "loop iterations in one render"
STRING = "string longer than 10,000,000 characters"
ITEMS = "list longer than 1,000,000 items"
INT = "integer of more than 4,096 bits"
RANGE = "range() of more than 100,000 items"
REGEX = "ran longer than 1 second"
RENDER = "characters in one render"

# (step, what the message says). `log` renders a string template (Jinja's compiled code);
# `set` evaluates an expression (the interpreter where it can, else compiled code).
BOMBS: list[tuple[str, str]] = [
    (
        'log: "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"',
        LOOPS,
    ),
    (
        'log: "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"',
        LOOPS,
    ),
    ("set: {x: \"([range(100000)] * 100000) | map('list') | list\"}", ITEMS),
    ("set: {x: \"range(100000) | map('string') | map('center', 100000) | list\"}", RENDER),
    ('set: {x: "range(10**9) | list"}', RANGE),
    ('set: {x: "(10**10000)**10000"}', INT),
    # Jinja's `**` groups to the left: `10**10**10` is (10**10)**10, which is harmless.
    ('set: {x: "10**(10**10)"}', INT),
    ('set: {x: "9**(9**9)"}', INT),
    (
        'log: "{% set n = namespace(v=10**1000) %}{% for i in range(40) %}{% set n.v = n.v * n.v %}{% endfor %}"',
        INT,
    ),
    ("log: \"{{ 'a' | center(300000000) }}\"", STRING),
    ("log: \"{{ 'a'.ljust(300000000) }}\"", STRING),
    ("log: \"{{ 'a'.rjust(300000000) }}\"", STRING),
    ("log: \"{{ 'a'.center(300000000) }}\"", STRING),
    ("log: \"{{ 'a'.zfill(300000000) }}\"", STRING),
    ("log: \"{{ 'a' | indent(width=300000000) }}\"", STRING),
    ("log: \"{{ ('a ' * 1000000) | wordwrap(1, wrapstring='x' * 1000) }}\"", STRING),
    ("log: \"{{ '%300000000s' % 'a' }}\"", STRING),
    ("log: \"{{ '%*s' % (300000000, 'a') }}\"", STRING),
    ("log: \"{{ '%.300000000f' % 1.5 }}\"", STRING),
    ("log: \"{{ '%300000000s' | format('a') }}\"", STRING),
    ("log: \"{{ '{:>300000000}'.format('a') }}\"", STRING),
    ("log: \"{{ '{:>{w}}'.format('a', w=300000000) }}\"", STRING),
    ("log: \"{% set a = ['x' * 1000000] * 9 %}{{ '{0!r}'.format([a, a]) }}\"", STRING),
    ("set: {x: \"'a' * 300000000\"}", STRING),
    ('set: {x: "[1, 2, 3] * 100000000"}', ITEMS),
    # A {% set %} inside a loop is the loop's own (Jinja's scoping); a namespace carries over.
    (
        "log: \"{% set n = namespace(s='x') %}{% for i in range(40) %}{% set n.s = n.s ~ n.s %}{% endfor %}\"",
        STRING,
    ),
    (
        "log: \"{% set n = namespace(s='x') %}{% for i in range(40) %}{% set n.s = n.s + n.s %}{% endfor %}\"",
        STRING,
    ),
    (
        'log: "{% set n = namespace(s=[1]) %}{% for i in range(40) %}{% set n.s = n.s + n.s %}{% endfor %}"',
        ITEMS,
    ),
    (
        'log: "{% set n = namespace(s=[1]) %}{% for i in range(40) %}{% set n.s = [n.s, n.s] | sum(start=[]) %}{% endfor %}"',
        ITEMS,
    ),
    (
        'log: "{% set n = namespace(s=[1]) %}{% for i in range(40) %}{% set n.s = [n.s, n.s] %}{% endfor %}{{ n.s }}"',
        STRING,
    ),
    ("log: \"{{ range(100000) | join('x' * 100000) }}\"", STRING),
    ("log: \"{{ 'x'.join(['y' * 1000000] * 9 + ['y' * 1000000] * 9) }}\"", STRING),
    ("log: \"{{ ('x' * 1000000) | replace('x', 'x' * 100) }}\"", STRING),
    ("log: \"{{ ('x' * 1000000).replace('x', 'x' * 100) }}\"", STRING),
    ("log: \"{{ ('x' * 1000000) | regex_replace('x', 'x' * 100) }}\"", STRING),
    ("log: \"{{ ('\\u00e9' * 3000000) | urlencode }}\"", STRING),
    ("log: \"{% set a = ['x' * 1000000] * 9 %}{{ [a, a] | tojson }}\"", STRING),
    ("log: \"{% set a = ['x' * 1000000] * 9 %}{{ [a, a] | to_json }}\"", STRING),
    ("log: \"{% set a = ['x' * 1000000] * 9 %}{{ [a, a] | string }}\"", STRING),
    ("log: \"{% set a = ['x' * 1000000] * 9 %}{{ [a, a] }}\"", STRING),
    ("log: \"{% set a = ['x' * 1000000] * 9 %}{{ [a, a] ~ '' }}\"", STRING),
    ("log: \"{{ (['x'] * 100000) | map('center', 1000) | join }}\"", RENDER),
    ('log: "{{ [1] | batch(1000000000, 0) | list }}"', ITEMS),
    ("log: \"{{ 5 | round(-1000000000, 'floor') }}\"", "round: a precision"),
    ("log: \"{{ (1).to_bytes(300000000, 'big') }}\"", STRING),
    # `regex` sees through the brief's `(a+)+$` (see HARMLESS); `(a|aa)+$` still backtracks.
    ("log: \"{{ ('a' * 60 ~ '!') | regex_search('(a|aa)+$') }}\"", REGEX),
    ("log: \"{{ ('a' * 60 ~ '!') | regex_match('(a|aa)+$') }}\"", REGEX),
    ("log: \"{{ ('a' * 60 ~ '!') is regex_search('(a|aa)+$') }}\"", REGEX),
    ("set: {x: \"('a' * 60 ~ '!') | regex_replace('(a|aa)+$', '')\"}", REGEX),
    ("set: {x: \"s | regex_search('(a|aa)+$')\"}", REGEX),  # the interpreted path
    (
        'log: "{% for x in range(10) recursive %}'
        '{% if loop.depth < 9 %}{{ loop(l) }}{% endif %}{% endfor %}"',
        LOOPS,
    ),
]

# What the brief of this test named as bombs but Jinja or `regex` already makes harmless: each
# still ends at once, and successfully.
HARMLESS: list[str] = [
    'set: {x: "10**10**10"}',
    'set: {x: "9**9**9"}',
    "set: {x: \"('9' * 1000000) | int\"}",  # the int filter gives its default, 0
    "log: \"{% set s = 'x' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}\"",
    "log: \"{{ ('a' * 40 ~ '!') | regex_search('(a+)+$') }}\"",
    "log: \"{{ ('x' * 1000) | truncate(300000000) }}\"",  # never longer than its text
]


def _playbook(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "bomb.yml"
    lines = [
        "igflow: 1",
        "name: bomb",
        "vars:",
        "  l: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
        "  s: \"{{ 'a' * 60 ~ '!' }}\"",
        "steps:",
    ]
    path.write_text("\n".join([*lines, f"  - {step}", ""]), encoding="utf-8")
    return path


# Starts `python -m igflow ARGS` and reports its peak memory. A launcher of its own, because
# Linux counts in a child's peak what it had before exec: a child forked straight from this
# test process (hundreds of MB deep into the suite) would look that large from the start.
_LAUNCHER = """
import os, sys
report, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "igflow", *argv])
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _igflow(*argv: str) -> tuple[int, str, float, float]:
    """Run `python -m igflow` as a user would; (exit code, stderr, seconds, peak MB)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    report = Path(tempfile.mkdtemp()) / "rss"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(report), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        check=False,
    )
    seconds = time.monotonic() - started
    err = done.stderr.decode("utf-8", "replace")
    return done.returncode, err, seconds, int(report.read_text()) / 1024


@pytest.mark.parametrize(("step", "message"), BOMBS, ids=[step for step, _ in BOMBS])
def test_a_template_bomb_ends_with_the_limit_named(tmp_path: Path, step: str, message: str) -> None:
    playbook = _playbook(tmp_path, step)
    code, err, seconds, megabytes = _igflow("run", str(playbook), "--journal", str(tmp_path / "j"))
    assert (code, message in err) == (2, True), err
    assert "Traceback" not in err
    assert seconds < SECONDS
    assert megabytes < MEGABYTES

    code, err, seconds, _ = _igflow("check", str(playbook))
    assert code in (0, 2), err
    assert "Traceback" not in err
    assert seconds < SECONDS


@pytest.mark.parametrize("step", HARMLESS)
def test_what_jinja_already_bounds_ends_at_once(tmp_path: Path, step: str) -> None:
    code, err, seconds, megabytes = _igflow("run", str(_playbook(tmp_path, step)))
    assert code == 0, err
    assert seconds < SECONDS
    assert megabytes < MEGABYTES


def test_a_shift_is_not_an_operator(tmp_path: Path) -> None:
    # Jinja has no `<<`: the bomb is a syntax error, found before anything runs.
    playbook = _playbook(tmp_path, 'set: {x: "2<<100000000"}')
    code, err, _, _ = _igflow("check", str(playbook))
    assert code == 2
    assert "invalid expression" in err


def _large_file(path: Path, megabytes: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("igflow: 1\nname: big\nsteps:\n")
        # Written in pieces: a 50 MB string in this process would count in the child's peak
        # memory too (Linux counts what a forked child had before it started Python).
        chunk = ("  - log: " + "x" * 90 + "\n") * 10_000
        for _ in range(megabytes * 1_000_000 // len(chunk)):
            fh.write(chunk)
    return path


@pytest.mark.parametrize("command", ["run", "check"])
def test_an_oversized_playbook_is_refused_by_its_size(tmp_path: Path, command: str) -> None:
    playbook = _large_file(tmp_path / "big.yml", 50)
    code, err, seconds, megabytes = _igflow(command, str(playbook))
    assert code == 2, err
    assert "more than the 4 MiB a playbook may have" in err
    assert "50.0 MB" in err
    assert seconds < 5
    assert megabytes < 100  # refused before it was read


def test_an_oversized_vars_file_is_refused_by_its_size(tmp_path: Path) -> None:
    playbook = _playbook(tmp_path, 'log: "hi"')
    variables = tmp_path / "vars.yml"
    with variables.open("w", encoding="utf-8") as fh:
        for index in range(50_000):
            fh.write(f"k{index}: " + "v" * 1000 + "\n")
    code, err, seconds, megabytes = _igflow("check", str(playbook), "--vars-file", str(variables))
    assert code == 2, err
    assert "more than the 4 MiB a --vars-file may have" in err
    assert seconds < 5
    assert megabytes < 100
