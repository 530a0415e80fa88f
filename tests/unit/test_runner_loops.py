"""foreach, concurrency, paginate, write and outputs in the runner, with a fake API.

The fake client serves canned pages and records what was sent; a latch in the concurrency tests
proves items really overlap (no timing assertions).
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from runner_fakes import AUTH, FakeClient, run

from igflow.errors import (
    APINotFoundError,
    AssertionFailed,
    LoopError,
    MalformedResponse,
)
from igflow.export import WriteFailed
from igflow.outputs import OutputDir
from igflow.registry import Endpoint


def media_by_id(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
    media_id = str(params["media_id"])
    if media_id == "missing":
        return APINotFoundError("invalid media id", status=400, code=400)
    return {"data": {"id": media_id, "likes": {"count": len(media_id)}}}


# --- foreach --------------------------------------------------------------------------------


def test_foreach_collects_extracted_values_in_item_order_with_the_loop_object() -> None:
    client = FakeClient(media_by_id)
    result, events = run(
        "vars:\n  ids: [a, bb, ccc]\nsteps:\n"
        + AUTH
        + """\
  - id: each
    foreach: "{{ ids }}"
    as: media_id
    call: media.get
    with: {media_id: "{{ media_id }}"}
    extract: {likes: $.data.likes.count}
    assert:
      - likes == media_id | length
      - loop.length == 3 and loop.index == loop.index0 + 1
      - loop.first == (media_id == 'a') and loop.last == (media_id == 'ccc')
  - assert: likes == [1, 2, 3]
  - assert: steps.each.results | map(attribute='item') | list == ids
""",
        client,
    )
    assert result.ok, result.error
    assert [params["media_id"] for _, params in client.calls] == ["a", "bb", "ccc"]
    record = result.records[1]
    assert record.items is not None
    assert [item.extracted for item in record.items] == [{"likes": 1}, {"likes": 2}, {"likes": 3}]
    assert record.extracted == {"likes": [1, 2, 3]}
    assert "loop 1 3" in events.lines and "item 2 ok 3/3" in events.lines


def test_foreach_over_a_literal_list_of_templates_and_per_item_when() -> None:
    client = FakeClient(media_by_id)
    result, _ = run(
        "vars:\n  first: a\nsteps:\n"
        + AUTH
        + """\
  - foreach: ["{{ first }}", skip, ccc]
    when: item != 'skip'
    call: media.get
    with: {media_id: "{{ item }}"}
    extract: {likes: $.data.likes.count}
  - assert: likes == [1, none, 3]
""",
        client,
    )
    assert result.ok, result.error
    assert [params["media_id"] for _, params in client.calls] == ["a", "ccc"]
    assert [item.status for item in result.records[1].items or ()] == ["ok", "skipped", "ok"]


def test_set_and_log_run_per_item() -> None:
    result, _ = run(
        """\
vars:
  words: [spam, ham]
steps:
  - foreach: "{{ words }}"
    as: word
    set:
      upper: word | upper
      both: upper ~ '/' ~ word
  - foreach: "{{ both }}"
    log: "{{ loop.index }}: {{ item }}"
  - assert: both == ['SPAM/spam', 'HAM/ham']
""",
        FakeClient(media_by_id),
    )
    assert result.ok, result.error
    assert [item.message for item in result.records[1].items or ()] == [
        "1: SPAM/spam",
        "2: HAM/ham",
    ]


def test_on_error_continue_records_failed_items_and_goes_on() -> None:
    client = FakeClient(media_by_id)
    result, _ = run(
        "vars:\n  ids: [a, missing, ccc]\nsteps:\n"
        + AUTH
        + """\
  - foreach: "{{ ids }}"
    call: media.get
    with: {media_id: "{{ item }}"}
    extract: {likes: $.data.likes.count}
    on_error: continue
  - assert: likes == [1, none, 3]
""",
        client,
    )
    assert result.ok, result.error
    record = result.records[1]
    assert record.status == "error-ignored"
    assert record.message == "1 of 3 items failed"
    failed = record.failed_items
    assert [item.index for item in failed] == [1]
    assert isinstance(failed[0].error, APINotFoundError)
    assert "item 2 of 3 ('missing')" in failed[0].error.message


def test_an_unexpected_item_error_halts_the_loop_and_the_run() -> None:
    client = FakeClient(media_by_id)
    result, _ = run(
        "vars:\n  ids: [a, missing, ccc]\nsteps:\n"
        + AUTH
        + """\
  - foreach: "{{ ids }}"
    call: media.get
    with: {media_id: "{{ item }}"}
  - log: never
""",
        client,
    )
    assert isinstance(result.error, APINotFoundError)
    assert [params["media_id"] for _, params in client.calls] == ["a", "missing"]
    assert len(result.records) == 2 and result.records[1].status == "failed"
    assert result.error.location is not None and result.error.location.line == 6


def test_an_item_assertion_failure_halts_with_exit_1() -> None:
    result, _ = run(
        "vars:\n  ids: [a, bb]\nsteps:\n"
        + AUTH
        + """\
  - foreach: "{{ ids }}"
    call: media.get
    with: {media_id: "{{ item }}"}
    extract: {likes: $.data.likes.count}
    assert: likes == 1
""",
        FakeClient(media_by_id),
    )
    assert isinstance(result.error, AssertionFailed)
    assert int(result.error.exit_code) == 1
    assert "item 2 of 2 ('bb')" in result.error.message


@pytest.mark.parametrize("value", ["'text'", "{'a': 1}", "none", "3"])
def test_foreach_of_something_not_a_list_is_a_clear_error(value: str) -> None:
    result, _ = run(
        f"""\
steps:
  - foreach: "{{{{ {value} }}}}"
    log: "{{{{ item }}}}"
""",
        FakeClient(media_by_id),
    )
    assert isinstance(result.error, LoopError)
    assert result.error.message.startswith("foreach needs a list, got ")
    assert result.error.exit_code == 2  # an invalid value at run time, not a failed assertion


def test_an_empty_list_runs_nothing_and_binds_empty_lists() -> None:
    client = FakeClient(media_by_id)
    result, _ = run(
        "vars:\n  ids: []\nsteps:\n"
        + AUTH
        + """\
  - foreach: "{{ ids }}"
    call: media.get
    with: {media_id: "{{ item }}"}
    extract: {likes: $.data.likes.count}
  - assert: likes == []
""",
        client,
    )
    assert result.ok, result.error
    assert client.calls == []


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_items_overlap_but_keep_item_order_and_report_from_the_runner_thread() -> None:
    # Item 0 waits until 3 other items have started: only a real pool of >= 4 gets past it.
    started = threading.Semaphore(0)
    lock = threading.Lock()
    in_flight = peak = 0

    def respond(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            media_id = str(params["media_id"])
            if media_id == "0":
                for _ in range(3):
                    assert started.acquire(timeout=10), "items did not run concurrently"
            else:
                started.release()
            return {"data": {"id": media_id, "likes": {"count": int(media_id)}}}
        finally:
            with lock:
                in_flight -= 1

    client = FakeClient(respond)
    result, events = run(
        "vars:\n  ids: "
        + json.dumps([str(n) for n in range(12)])
        + "\nsteps:\n"
        + AUTH
        + """\
  - foreach: "{{ ids }}"
    concurrency: 4
    call: media.get
    with: {media_id: "{{ item }}"}
    extract: {likes: $.data.likes.count}
  - assert: likes == range(12) | list
""",
        client,
    )
    assert result.ok, result.error
    assert 2 <= peak <= 4
    assert events.threads == {threading.current_thread().name}
    done = [line.split()[-1] for line in events.lines if line.startswith("item ")]
    assert done == [f"{n}/12" for n in range(1, 13)]


def test_the_first_failure_stops_scheduling_and_in_flight_items_finish() -> None:
    client = FakeClient(media_by_id)
    ids = ["a", "missing"] + [f"id{n}" for n in range(40)]
    result, _ = run(
        "vars:\n  ids: "
        + json.dumps(ids)
        + "\nsteps:\n"
        + AUTH
        + """\
  - foreach: "{{ ids }}"
    concurrency: 3
    call: media.get
    with: {media_id: "{{ item }}"}
""",
        client,
    )
    assert isinstance(result.error, APINotFoundError)
    # At most the failing item's in-flight companions and those already queued ran.
    assert len(client.calls) <= 2 + 3
    items = result.records[1].items or []
    sent = {params["media_id"] for _, params in client.calls}
    assert {item.item for item in items if item.status != "ok" or item.item in sent} >= sent


def test_in_flight_requests_never_exceed_the_rate_limit_remaining() -> None:
    lock = threading.Lock()
    in_flight = peak = 0

    def respond(endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        threading.Event().wait(0.002)
        with lock:
            in_flight -= 1
        return {"data": {"id": params.get("media_id", "self")}}

    client = FakeClient(respond, remaining=lambda: 2)
    result, _ = run(
        "vars:\n  ids: "
        + json.dumps([str(n) for n in range(20)])
        + "\nsteps:\n"
        + AUTH
        + """\
  - call: users.self
  - foreach: "{{ ids }}"
    concurrency: 8
    call: media.get
    with: {media_id: "{{ item }}"}
""",
        client,
    )
    assert result.ok, result.error
    assert peak <= 2


# --- paginate -------------------------------------------------------------------------------


def liked_pages(count: int, per_page: int) -> tuple[Any, dict[str, Any]]:
    """A first page and the next pages of ``count`` liked media."""
    ids = [f"m{n}" for n in range(count)]
    chunks = [ids[i : i + per_page] for i in range(0, count, per_page)]
    bodies = []
    for n, chunk in enumerate(chunks):
        pagination = {"next_url": f"/v1/users.media_liked?page={n + 1}"}
        body = {"data": [{"id": i} for i in chunk], "pagination": pagination}
        bodies.append(body)
    bodies[-1]["pagination"] = {}
    pages = {f"/v1/users.media_liked?page={n}": body for n, body in enumerate(bodies)}
    return bodies[0], pages


@pytest.mark.parametrize(
    ("caps", "expected_items", "expected_pages"),
    [
        ("true", 45, 3),
        ("{max_pages: 2}", 40, 2),
        ("{max_items: 25}", 25, 2),
        ("{max_items: 20}", 20, 1),
        ("{max_items: 100, max_pages: 1}", 20, 1),
    ],
)
def test_paginate_follows_next_url_extracting_page_by_page(
    caps: str, expected_items: int, expected_pages: int
) -> None:
    first, pages = liked_pages(45, 20)
    client = FakeClient(lambda e, p: first, pages=pages)
    result, _ = run(
        "steps:\n"
        + AUTH
        + f"""\
  - id: liked
    call: users.media_liked
    paginate: {caps}
    extract:
      ids: $.data[*].id
      first_ids: $.data[0].id
  - assert: ids == steps.liked.extracted.ids
""",
        client,
    )
    assert result.ok, result.error
    record = result.records[1]
    assert record.extracted["ids"] == [f"m{n}" for n in range(expected_items)]
    # A singular path gives one value per page.
    assert len(record.extracted["first_ids"]) == expected_pages
    assert record.pages == expected_pages
    assert len(client.followed) == expected_pages - 1


def test_a_next_url_seen_twice_is_an_error_not_an_endless_loop() -> None:
    body = {"data": [{"id": "1"}], "pagination": {"next_url": "/v1/again"}}
    client = FakeClient(lambda e, p: body, pages={"/v1/again": body})
    result, _ = run(
        "steps:\n"
        + AUTH
        + """\
  - call: users.media_liked
    paginate: true
    extract: {ids: "$.data[*].id"}
""",
        client,
    )
    assert isinstance(result.error, MalformedResponse)
    assert "already fetched" in result.error.message
    assert client.followed == ["/v1/again"]


def test_paginate_inside_foreach_gives_lists_of_lists() -> None:
    first, pages = liked_pages(30, 20)
    client = FakeClient(lambda e, p: first, pages=pages)
    result, _ = run(
        "steps:\n"
        + AUTH
        + """\
  - foreach: [x, y]
    call: users.media_liked
    paginate: true
    extract: {ids: "$.data[*].id"}
  - assert: ids | length == 2 and ids[0] | length == 30 and ids | flatten | length == 60
""",
        client,
    )
    assert result.ok, result.error
    assert result.records[1].pages == 4


# --- write and outputs ------------------------------------------------------------------------


ROWS = """\
vars:
  rows:
    - {id: "1", caption: "Snap peas, summer", likes: 2, tags: [garden]}
    - {id: "2", caption: null, likes: 0, tags: []}
"""


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_write_exports_each_format(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "out" / f"media.{fmt}"
    result, _ = run(
        ROWS + f"steps:\n  - write: {{path: 'out/media.{fmt}', value: '{{{{ rows }}}}'}}\n",
        FakeClient(media_by_id),
        outputs=OutputDir(str(tmp_path)),
    )
    assert result.ok, result.error
    text = target.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(text)[0]["caption"] == "Snap peas, summer"
    elif fmt == "jsonl":
        assert [json.loads(line)["id"] for line in text.splitlines()] == ["1", "2"]
    else:
        rows = list(csv.DictReader(text.splitlines()))
        assert rows == [
            {"id": "1", "caption": "Snap peas, summer", "likes": "2", "tags": '["garden"]'},
            {"id": "2", "caption": "", "likes": "0", "tags": "[]"},
        ]
    assert result.records[0].message is not None
    assert result.records[0].message.startswith("wrote ")
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


def test_write_csv_with_columns_and_redacted_secrets(tmp_path: Path) -> None:
    target = tmp_path / "media.csv"
    result, _ = run(
        ROWS.replace("Snap peas", "s3cr3t-token")
        + "steps:\n"
        + "  - write: {path: media.csv, value: '{{ rows }}', columns: [likes, caption]}\n",
        FakeClient(media_by_id),
        outputs=OutputDir(str(tmp_path)),
        redact_text=lambda text: text.replace("s3cr3t-token", "[REDACTED]"),
    )
    assert result.ok, result.error
    assert target.read_text().splitlines() == ["likes,caption", '2,"[REDACTED], summer"', "0,"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "media.jsonl"
    target.write_text("old\n")
    result, _ = run(
        "vars:\n  thing: {a: 1}\n"
        + "steps:\n  - write: {path: media.jsonl, value: '{{ thing }}'}\n",
        FakeClient(media_by_id),
        outputs=OutputDir(str(tmp_path)),
    )
    assert result.error is not None and "jsonl needs a list" in result.error.message
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["media.jsonl"]


def test_writing_over_a_directory_is_a_clear_usage_error(tmp_path: Path) -> None:
    (tmp_path / "taken.json").mkdir()
    result, _ = run(
        "steps:\n  - write: {path: taken.json, value: '1'}\n",
        FakeClient(media_by_id),
        outputs=OutputDir(str(tmp_path)),
    )
    assert isinstance(result.error, WriteFailed)
    assert int(result.error.exit_code) == 2


def test_outputs_are_evaluated_after_the_run_one_by_one() -> None:
    result, _ = run(
        """\
vars:
  ids: [a, bb]
steps:
  - set: {n: ids | length}
outputs:
  count: n
  doubled: n * 2
  broken: ids[5]
""",
        FakeClient(media_by_id),
    )
    assert result.ok
    assert result.outputs == {"count": 2, "doubled": 4}
    assert list(result.output_errors) == ["broken"]


def test_an_item_label_never_shows_half_a_token() -> None:
    from igflow.runner import _brief

    token = "3657782666.4c56a5e.46b64f8eca0fffccb70a33b4adbdb272"
    label = _brief(["a long enough list to be cut, then", token])
    assert label.endswith("…") and len(label) <= 60
    assert not any(piece in label for piece in ("3657782666", "4c56a5e", token[:20]))


def test_items_a_halted_loop_never_ran_are_not_run_everywhere() -> None:
    """Issue 12: a four-item loop halting on item 2 reported items 3 and 4 as ok."""
    from runner_fakes import FakeClient, run

    from igflow.errors import APINotFoundError
    from igflow.results import Status

    def respond(endpoint: Any, params: Any) -> Any:
        if params.get("media_id") == "b":
            return APINotFoundError("no such media", status=400, error_type="APINotFoundError")
        return {"meta": {"code": 200}, "data": {"id": params.get("media_id")}}

    body = """\
vars:
  ids: [a, b, c, d]
steps:
  - authorize: {scopes: [basic, public_content], user: grantwinney}
  - id: each
    foreach: "{{ ids }}"
    call: media.get
    with: {media_id: "{{ item }}"}
outputs:
  oks: steps.each.results | selectattr("status", "equalto", "ok") | list | length
  not_run: steps.each.results | selectattr("status", "equalto", "not-run") | list | length
"""
    result, _ = run(body, FakeClient(respond))
    items = result.records[1].items or []
    assert [item.status for item in items] == [
        Status.OK,
        Status.FAILED,
        Status.NOT_RUN,
        Status.NOT_RUN,
    ]
    assert result.outputs == {"oks": 1, "not_run": 2}
    from igflow.reporters.common import item_counts

    assert item_counts(items) == "2 of 4 items run, 1 failed, 2 not run"


def test_outputs_that_cannot_be_computed_say_why_in_words() -> None:
    from runner_fakes import FakeClient, run

    from igflow.errors import APINotFoundError

    def respond(endpoint: Any, params: Any) -> Any:
        return APINotFoundError("invalid media id", status=400, error_type="APINotFoundError")

    body = """\
vars:
  ids: [a, b]
steps:
  - authorize: {scopes: [basic, public_content], user: grantwinney}
  - call: media.get
    with: {media_id: nope}
  - id: each
    foreach: "{{ ids }}"
    call: media.get
    with: {media_id: "{{ item }}"}
    extract: {mid: $.data.id}
outputs:
  oks: steps.each.results | selectattr("status", "equalto", "ok") | list | length
  n: mid | length
"""
    result, _ = run(body, FakeClient(respond))
    assert result.output_errors == {
        "oks": "the run stopped before step `each` finished",
        "n": "the run stopped before `mid` was set",
    }
