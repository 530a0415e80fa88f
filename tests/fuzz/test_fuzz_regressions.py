"""What the fuzz suite found, pinned down as small deterministic tests.

Each test is the minimal reproduction of one finding (an internal error, a traceback, a leaked
secret, a malformed message), run through the real CLI in-process. A finding that cannot be
fixed at once is a strict xfail here, with a matching ``fuzz_support.KNOWN_CRASHES`` entry, until
its fix lands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests_mock
from fuzz_support import assert_check_report, assert_no_crash, run_cli, simulated_sleep
from response_strategies import ORIGIN, TOKEN

SCOPES = "[basic, public_content, follower_list, comments, relationships, likes]"
LOGIN = "  - authorize: {scopes: [basic], user: grantwinney}\n"


def check_text(tmp_path: Path, text: str) -> tuple[int, str]:
    """`igflow check` on ``text``; asserts the output invariants, returns (code, stderr)."""
    path = tmp_path / "found.yml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(["check", str(path)])
    assert_check_report(str(path), len(text.splitlines()), code, out, err)
    return code, err


@contextmanager
def origin(*responses: dict[str, Any]) -> Iterator[requests_mock.Mocker]:
    """``http://fuzz.invalid`` answering every request with ``responses`` in turn."""
    with requests_mock.Mocker() as mocker:
        mocker.register_uri(requests_mock.ANY, requests_mock.ANY, list(responses))
        yield mocker


def run_steps(
    tmp_path: Path, steps: str, *argv: str, authorize: bool = True
) -> tuple[int, str, str]:
    """`igflow run` of ``steps`` (YAML list items, indented by 2) against the mocked origin."""
    auth = f'  - authorize: {{scopes: {SCOPES}, token: "{{{{ env.IG_TOKEN }}}}"}}\n'
    header = f"igflow: 1\ntarget: {ORIGIN}\nenv: [IG_TOKEN]\nsteps:\n"
    text = header + (auth if authorize else "") + steps
    path = tmp_path / "found.yml"
    path.write_text(text, encoding="utf-8")
    with simulated_sleep():
        code, out, err = run_cli(["run", str(path), *argv], environ={"IG_TOKEN": TOKEN})
    assert_no_crash(code, out, err)
    assert TOKEN[:12] not in out + err
    return code, out, err


def pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


# --- check: YAML scalars PyYAML cannot construct ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # Python will not read an int of more than 4300 digits (ValueError, was exit 70).
        (
            "9" * 5000,
            "3:10: this number is 5000 characters long; a number in a playbook has at most 1000",
        ),
        ("1_0" * 2000, "3:10: this number is 6000 characters long"),
        ("!!int 0x" + "f" * 4000, "3:10: this number is 4002 characters long"),
        ("!!float " + "1" * 2000, "3:10: this number is 2000 characters long"),
        # An explicit tag on a value that does not fit it (KeyError / ValueError, was exit 70).
        ("!!bool maybe", "3:10: 'maybe' is not a valid !!bool value"),
        ("!!int abc", "3:10: 'abc' is not a valid !!int value"),
        ("!!float 1.2.3", "3:10: '1.2.3' is not a valid !!float value"),
    ],
)
def test_scalars_python_cannot_construct_are_playbook_errors(
    tmp_path: Path, value: str, message: str
) -> None:
    code, err = check_text(tmp_path, f"igflow: 1\nsteps:\n  - log: {value}\n")
    assert code == 2
    assert message in err


def test_a_long_number_within_the_limit_is_still_a_number(tmp_path: Path) -> None:
    code, err = check_text(tmp_path, f"igflow: 1\nsteps:\n  - log: {'9' * 1000}\n")
    assert code == 0, err


# --- check: nesting deep enough to exhaust recursion ---------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 100 + "1" + ")" * 100,  # RecursionError in Jinja's parser (was exit 70)
        "x" + ".a" * 199,  # SyntaxError: too many nested parentheses in the generated code
        "[" * 60 + "]" * 60,
        "1" + " + 1" * 60,
        "x" + " | list" * 60,
    ],
)
def test_deeply_nested_expressions_are_check_errors(tmp_path: Path, expression: str) -> None:
    text = f"igflow: 1\nvars: {{x: 1}}\nsteps:\n  - when: '{expression}'\n    log: hi\n"
    code, err = check_text(tmp_path, text)
    assert code == 2
    assert "4:11: invalid expression" in err and "nested more than 50 levels deep" in err


def test_deeply_nested_templates_are_check_errors(tmp_path: Path) -> None:
    text = "igflow: 1\nsteps:\n  - log: 'n={{ " + "(" * 300 + "1" + ")" * 300 + " }}'\n"
    code, err = check_text(tmp_path, text)
    assert code == 2
    assert "3:10: invalid template 'n={{ ((((" in err
    assert "nested more than 50 levels deep" in err


def test_moderately_nested_expressions_still_work(tmp_path: Path) -> None:
    text = "igflow: 1\nsteps:\n  - when: " + "(" * 20 + "1" + ")" * 20 + "\n    log: hi\n"
    assert check_text(tmp_path, text)[0] == 0


def test_a_deeply_nested_jsonpath_is_a_check_error(tmp_path: Path) -> None:
    # _is_singular (and jsonpath-ng's find at run time) recursed once per level: exit 70.
    text = (
        "igflow: 1\nsteps:\n  - authorize: {scopes: [basic], token: x}\n"
        "  - call: users.self\n    extract:\n      a: $" + ".a" * 3000 + "\n"
    )
    code, err = check_text(tmp_path, text)
    assert code == 2
    assert "6:10: invalid JSONPath '$.a.a.a" in err
    assert "nested more than 100 levels deep" in err


def test_a_jsonpath_of_a_hundred_levels_is_fine(tmp_path: Path) -> None:
    text = (
        "igflow: 1\nsteps:\n  - authorize: {scopes: [basic], token: x}\n"
        "  - call: users.self\n    extract:\n      a: $" + ".a" * 99 + "\n"
    )
    assert check_text(tmp_path, text)[0] == 0


# --- check: messages stay one line each ----------------------------------------------------------


def test_a_newline_in_a_key_is_escaped_in_the_message(tmp_path: Path) -> None:
    code, err = check_text(tmp_path, 'igflow: 1\nvars:\n  ? "a\\nb"\n  : 1\nsteps: [{log: x}]\n')
    assert code == 2
    assert "3:5: 'a\\nb' is not a valid name" in err


def test_a_newline_in_an_endpoint_id_is_escaped_in_the_message(tmp_path: Path) -> None:
    text = 'igflow: 1\nsteps:\n  - authorize: {scopes: [basic], token: x}\n  - call: "a\\nb"\n'
    code, err = check_text(tmp_path, text)  # the one-line form is asserted in there
    assert code == 2


# --- run: what the API sends back ----------------------------------------------------------------


def test_a_deeply_nested_json_body_is_a_malformed_response(tmp_path: Path) -> None:
    # json.loads raised RecursionError, which read_response did not expect: exit 70.
    with origin({"status_code": 200, "content": b"[" * 100_000 + b"]" * 100_000}):
        code, _, err = run_steps(tmp_path, "  - call: users.self\n")
    assert code == 4
    assert "users.self: HTTP 200 response is not the API's JSON" in err


def test_a_location_header_that_is_not_utf8_is_a_malformed_response(tmp_path: Path) -> None:
    # requests decodes Location as UTF-8 even with allow_redirects=False: UnicodeDecodeError
    # escaped the client (exit 70). A real server's header bytes arrive as latin-1 text.
    with origin({"status_code": 301, "headers": {"Location": "/v1/\x80"}}):
        code, _, err = run_steps(tmp_path, "  - call: users.self\n")
    assert code == 4
    assert "response headers could not be decoded" in err


@pytest.mark.parametrize("location", ["http://[::1", "//[bad"])
def test_a_location_header_that_is_not_a_url_is_a_malformed_response(
    tmp_path: Path, location: str
) -> None:
    # requests parses Location even with allow_redirects=False: its ValueError ("Invalid IPv6
    # URL") escaped the client (exit 70).
    with origin({"status_code": 301, "headers": {"Location": location}}):
        code, _, err = run_steps(tmp_path, "  - call: users.self\n")
    assert code == 4
    assert "could not read the response" in err
    with origin({"status_code": 302, "headers": {"Location": location}}):
        code, _, err = run_steps(tmp_path, LOGIN, authorize=False)
    assert code == 4, err


def paging(next_url: str) -> dict[str, Any]:
    body = {"meta": {"code": 200}, "data": [], "pagination": {"next_url": next_url}}
    return {"status_code": 200, "content": json.dumps(body).encode()}


PAGINATE = "  - call: users.media_liked\n    paginate: true\n"


def test_a_next_url_that_is_not_a_url_is_not_a_crash(tmp_path: Path) -> None:
    with origin(paging("http://[::1")):
        code, _, err = run_steps(tmp_path, PAGINATE)
    assert code in (4, 6), err


def test_control_characters_in_a_run_time_error_are_escaped(tmp_path: Path) -> None:
    with origin(paging("http://elsewhere.invalid/v1/x?c=\x1b[2J\x1f")):
        code, _, err = run_steps(tmp_path, PAGINATE)
    assert code == 6
    assert "\x1b" not in err and "\x1f" not in err


@pytest.mark.parametrize("cut", [20, 30, len(TOKEN) - 1])
def test_a_body_cut_short_inside_a_token_shows_no_part_of_it(tmp_path: Path, cut: int) -> None:
    # The redactor knows the whole token; a body cut in transit mid-token showed its first part.
    body = ('{"meta": {"code": 400, "error_message": "bad token ' + TOKEN[:cut]).encode()
    with origin({"status_code": 200, "content": body}):
        code, out, err = run_steps(tmp_path, "  - call: users.self\n")
    assert code == 4
    assert "looks cut short" in err
    assert not [piece for piece in pieces(TOKEN[:cut]) if piece in out + err]


def test_verbose_output_cut_inside_a_token_shows_no_part_of_it(tmp_path: Path) -> None:
    # -v shows the first 8192 bytes of a body, redacted: a token straddling that cut (here
    # after multi-byte text, so it falls within the 4096 characters shown) was half visible.
    head = b'{"meta": {"code": 200}, "data": "'
    room = 8192 - len(head) - 1 - 30  # 30 bytes of the token before the cut
    filler = "€" * (room // 3) + "x" * (room % 3) + " "
    body = head + (filler + TOKEN + " tail" * 100 + '"}').encode()
    assert body.index(TOKEN.encode()) == 8192 - 30
    with origin({"status_code": 200, "content": body}):
        code, out, err = run_steps(tmp_path, "  - call: users.self\n", "-v")
    assert code == 0, err
    assert "€€€" in out  # the body is shown ...
    assert not [piece for piece in pieces(TOKEN) if piece in out + err]  # ... not the token


def test_escape_sequences_from_the_api_are_shown_escaped(tmp_path: Path) -> None:
    # An error message is printed to the terminal: ESC sequences cleared the screen and
    # retitled the window, and a newline faked a line of igflow's own.
    message = "\x1b[2J\x1b]0;pwned\x07gone\nigflow: ok"
    body = json.dumps(
        {"meta": {"code": 400, "error_type": "APINotFoundError", "error_message": message}}
    )
    with origin({"status_code": 400, "content": body.encode(), "reason": "Bad\x1b[5m"}):
        code, _, err = run_steps(tmp_path, "  - call: users.self\n")
    assert code == 3
    assert "\x1b" not in err and "\x07" not in err
    assert "APINotFoundError: \\x1b[2J\\x1b]0;pwned\\x07gone\\nigflow: ok [400]" in err
    with origin({"status_code": 404, "content": b"<p>\x1b[2Jgone", "reason": "Bad\x1b[5m"}):
        code, _, err = run_steps(tmp_path, "  - call: users.self\n")
    assert code == 3
    assert "HTTP 404 Bad\\x1b[5m: <p>\\x1b[2Jgone" in err


def test_response_keys_in_an_extraction_message_are_escaped(tmp_path: Path) -> None:
    # "matched nothing in the response (the response has keys: ...)" quoted the keys raw.
    body = b'{"\\u001b[2J": 1, "a\\nb": 2}'
    steps = "  - call: users.self\n    extract:\n      n: $.data.id\n"
    with origin({"status_code": 200, "content": body}):
        code, _, err = run_steps(tmp_path, steps)
    assert code == 1
    assert "(the response has keys: \\x1b[2J, a\\nb)" in err
    assert "\x1b" not in err


def test_a_token_in_a_string_an_extraction_quotes_is_not_cut_in_half(tmp_path: Path) -> None:
    # "(the response is a string ('tokFUZZ-4021937711-c0ffee5eed-SECRET-...'))": cut at 37
    # characters before the CLI redacted the message, so the redactor never saw the token whole.
    steps = "  - call: users.self\n    extract:\n      n: $.data.id\n"
    with origin({"status_code": 200, "content": json.dumps(TOKEN).encode()}):
        code, _, err = run_steps(tmp_path, steps)
    assert code == 1
    assert "matched nothing in the response (the response is a string (" in err
    assert not [piece for piece in pieces(TOKEN) if piece in err]


def test_a_token_in_an_assertions_values_is_not_cut_in_half(tmp_path: Path) -> None:
    # "where name = 'xxx... tokFUZZ-4021937711...'": the value is cut to 80 characters, then
    # redacted; a token straddling the cut showed its first half.
    name = "x" * 60 + " " + TOKEN
    body = json.dumps({"meta": {"code": 200}, "data": {"username": name}}).encode()
    steps = (
        "  - call: users.self\n    extract:\n      name: $.data.username\n"
        "  - assert: name == 'nobody'\n"
    )
    with origin({"status_code": 200, "content": body}):
        code, _, err = run_steps(tmp_path, steps)
    assert code == 1
    assert "where name = 'xxxxxxxx" in err
    assert not [piece for piece in pieces(TOKEN) if piece in err]


def test_verbose_run_shows_a_deeply_nested_body(tmp_path: Path) -> None:
    # Within the 8192 bytes -v takes, so the console gets the nested text to pretty-print.
    with origin({"status_code": 200, "content": b"[" * 4000 + b"]" * 4000}):
        code, _, _ = run_steps(tmp_path, "  - call: users.self\n", "-v")
    assert code == 4


# --- run: a target that claims to be a sandbox ---------------------------------------------------


@pytest.mark.parametrize(
    "info",
    [
        b'{"sandbox": true, "clients": null}',
        b'{"sandbox": true, "clients": [{}]}',
        b'{"sandbox": true, "clients": [1]}',
        b'{"sandbox": true, "clients": [{"name": "default", "client_id": "x", '
        b'"client_secret": "y", "redirect_uris": []}], "users": [{"password": "p"}]}',
        b'{"sandbox": true, "users": {"a": 1}}',
    ],
)
def test_sandbox_info_that_is_not_what_igflow_expects(tmp_path: Path, info: bytes) -> None:
    with origin({"status_code": 200, "content": info}):
        code, _, err = run_steps(tmp_path, LOGIN, authorize=False)
    assert code in (4, 5), err


@pytest.mark.parametrize(
    "response",
    [
        {"status_code": 301, "headers": {"Location": "\x80"}},
        {"exc": ConnectionResetError(104, "Connection reset by peer")},
    ],
    ids=["non-utf8-location", "connection-reset"],
)
def test_sandbox_discovery_failures_are_transport_errors(
    tmp_path: Path, response: dict[str, Any]
) -> None:
    with origin(response):
        code, _, err = run_steps(tmp_path, LOGIN, authorize=False)
    assert code in (4, 5), err


# --- --vars-file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    ["n: " + "9" * 5000, "n: !!bool maybe", "n: " + "[" * 5000 + "]" * 5000],
    ids=["huge-int", "bad-bool", "deep"],
)
def test_vars_file_that_python_cannot_construct(tmp_path: Path, content: str) -> None:
    playbook = tmp_path / "p.yml"
    playbook.write_text('igflow: 1\nsteps:\n  - log: "{{ n }}"\n', encoding="utf-8")
    variables = tmp_path / "vars.yml"
    variables.write_text(content, encoding="utf-8")
    code, out, err = run_cli(["check", str(playbook), "--vars-file", str(variables)])
    assert_no_crash(code, out, err)
    assert code == 2
