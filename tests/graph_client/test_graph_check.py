"""`igflow check` of instagram.graph playbooks: permissions, Facebook-Login-only endpoints,
list params, api_version, and --api-version on the wire."""

from __future__ import annotations

from pathlib import Path

import pytest
from graph_sandbox_support import run_igflow

HEAD = """\
igflow: 1
api: instagram.graph
{extra}steps:
  - authorize: {{user: mira.makes, scopes: [instagram_business_basic]}}
"""


def check(tmp_path: Path, steps: str, extra: str = "") -> tuple[int, str]:
    path = tmp_path / "play.yml"
    path.write_text(HEAD.format(extra=extra) + steps, encoding="utf-8")
    run = run_igflow(["check", str(path)])
    return run.code, run.out + run.err


def test_a_missing_permission_is_reported_with_the_graph_leaf(tmp_path: Path) -> None:
    code, text = check(
        tmp_path, "  - call: comments.hide\n    with: {comment_id: '1', hide: true}\n"
    )
    assert code == 2
    assert "needs scope 'instagram_business_manage_comments'" in text
    assert "GraphPermissionError" in text


def test_an_expected_permission_error_is_fine(tmp_path: Path) -> None:
    steps = (
        "  - call: comments.hide\n    with: {comment_id: '1', hide: true}\n"
        "    expect_error: ApiPermissionError\n"
    )
    assert check(tmp_path, steps)[0] == 0


@pytest.mark.parametrize("endpoint", ["hashtags.search", "users.business_discovery"])
def test_facebook_login_only_endpoints_say_why(tmp_path: Path, endpoint: str) -> None:
    with_ = (
        "{user_id: '1', q: coffee}"
        if endpoint == "hashtags.search"
        else ("{user_id: '1', fields: ['business_discovery.username(x){id}']}")
    )
    code, text = check(tmp_path, f"  - call: {endpoint}\n    with: {with_}\n")
    assert code == 2
    assert f"{endpoint} needs a Facebook Login token (graph.facebook.com)" in text
    steps = f"  - call: {endpoint}\n    with: {with_}\n    expect_error: ApiError\n"
    assert check(tmp_path, steps)[0] == 0


def test_list_params_are_checked(tmp_path: Path) -> None:
    good = "  - call: me\n    with: {fields: [id, {media: [id, caption]}]}\n"
    assert check(tmp_path, good)[0] == 0
    bad = "  - call: me\n    with: {fields: [[id]]}\n"
    code, text = check(tmp_path, bad)
    assert code == 2 and "'fields'" in text


def test_api_version_is_for_graph_only(tmp_path: Path) -> None:
    assert check(tmp_path, "  - call: me\n", extra="api_version: v24.0\n")[0] == 0
    code, text = check(tmp_path, "  - call: me\n", extra="api_version: latest\n")
    assert code == 2 and "api_version" in text
    path = tmp_path / "v1.yml"
    path.write_text("igflow: 1\napi_version: v25.0\nsteps:\n  - log: hi\n", encoding="utf-8")
    run = run_igflow(["check", str(path)])
    assert run.code == 2 and "no API versions" in run.err


@pytest.mark.parametrize("version", ["latest", "v25", "v25.0/x", '"v25.0\\n"'])
def test_a_bad_api_version_gets_the_clis_message(tmp_path: Path, version: str) -> None:
    code, text = check(tmp_path, "  - call: me\n", extra=f"api_version: {version}\n")
    shown = version.strip('"')  # as repr() shows it: a newline is \\n
    assert code == 2
    assert f"play.yml:3:14: an API version looks like v25.0, not '{shown}'" in text, text
    assert "not a valid name" not in text
    # The same words as `igflow run --api-version` says for the same text.
    good = tmp_path / "good.yml"
    good.write_text(HEAD.format(extra="") + "  - call: me\n", encoding="utf-8")
    cli = run_igflow(["run", str(good), "--api-version", shown.replace("\\n", "\n")])
    assert cli.code == 2
    assert f"an API version looks like v25.0, not '{shown}'" in cli.err, cli.err


def test_api_version_reaches_the_wire(tmp_path: Path) -> None:
    path = tmp_path / "play.yml"
    path.write_text(
        HEAD.format(extra="api_version: v24.0\n")
        + "  - call: me\n    with: {fields: [username]}\n    extract: {u: $.username}\n",
        encoding="utf-8",
    )
    run = run_igflow(["run", str(path), "-v"])
    assert run.code == 0, run.out + run.err
    assert "/v24.0/me" in run.out
    run = run_igflow(["run", str(path), "-v", "--api-version", "v23.0"])
    assert run.code == 0 and "/v23.0/me" in run.out and "/v24.0/" not in run.out
    run = run_igflow(["run", str(path), "--api-version", "nope"])
    assert run.code == 2 and "looks like v25.0" in run.err


def test_endpoints_lists_the_graph_registry() -> None:
    run = run_igflow(["endpoints", "--api", "instagram.graph"])
    assert run.code == 0
    assert "comments.hide" in run.out and "instagram_business_manage_comments" in run.out
    assert "Facebook Login only" in run.out
    one = run_igflow(["endpoints", "--api", "instagram.graph", "media.publish"])
    assert "Authorization: Bearer header" in one.out and "containers.get" in one.out


def test_a_graph_error_halts_with_its_codes_in_the_report(tmp_path: Path) -> None:
    import json

    path = tmp_path / "play.yml"
    path.write_text(
        "igflow: 1\napi: instagram.graph\nsteps:\n"
        "  - authorize: {user: mira.makes, scopes: [instagram_business_basic]}\n"
        "  - call: media.get\n    with: {media_id: '999', fields: [id]}\n",
        encoding="utf-8",
    )
    report = tmp_path / "run.json"
    run = run_igflow(["run", str(path), "--report", f"json:{report}"])
    assert run.code == 3, run.out + run.err
    error = json.loads(report.read_text())["error"]
    assert error["type"] == "GraphInvalidParameterError" and error["code"] == 100
    assert error["fbtrace_id"] and error["api_type"] == "GraphMethodException"
    assert "fbtrace_id" in run.err and "[100" in run.err


def test_the_docs_example_checks_and_calls_real_endpoints(tmp_path: Path) -> None:
    import re

    from igflow.registry import load_registry

    doc = (Path(__file__).resolve().parents[2] / "docs" / "graph.md").read_text()
    called = set(re.findall(r"call: ([a-z][\w.]*)", doc))
    assert called and called <= set(load_registry("instagram.graph").endpoints)
    example = doc.split("## A playbook", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yml"
    path.write_text(example, encoding="utf-8")
    run = run_igflow(["check", str(path)])
    assert run.code == 0, run.err
