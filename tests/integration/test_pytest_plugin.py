"""The pytest plugin, driven by pytester: playbooks as items, options, markers, JUnit, xdist.

Every inner run loads the plugin explicitly (``-p no:igflow -p igflow.pytest_plugin``): the
same whether or not this environment has igflow's ``pytest11`` entry point installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# Imported here, before any in-process pytester run: pytester removes the modules an inner run
# imported when it ends, and a second import of yaml beside its C extension breaks its loaders.
import igflow.compose
import igflow.playbook
import igflow.sandbox.app
import igflow.testing.items
import igflow.testing.mock  # noqa: F401
from igflow.testing.served import serve_sandbox

pytest_plugins = ("pytester",)

PLUGIN = ("-p", "no:igflow", "-p", "igflow.pytest_plugin")
ROOT = Path(__file__).resolve().parents[2]

PASSING = """\
igflow: 1
name: Seed photo
tags: [smoke]
vars:
  shortcode: Bcizg1_B3nu
steps:
  - authorize: {scopes: [basic], user: grantwinney}
  - id: media
    name: Get the photo by its shortcode
    call: media.shortcode
    with: {shortcode: "{{ shortcode }}"}
    extract:
      likes: $.data.likes.count
    assert:
      - likes == 1
"""

FAILING = """\
igflow: 1
name: Wrong like count
steps:
  - authorize: {scopes: [basic], user: grantwinney}
  - name: Count the likes
    call: media.shortcode
    with: {shortcode: Bcizg1_B3nu}
    extract:
      likes: $.data.likes.count
    assert:
      - likes == 99
  - name: Never reached
    call: users.self
"""

INVALID = """\
igflow: 1
name: Typo
steps:
  - call: likes.delte
"""

UNLIKE = """\
igflow: 1
name: Unlike the seed photo
steps:
  - authorize: {scopes: [basic, likes], user: grantwinney}
  - name: Unlike it
    call: likes.delete
    with: {media_id: "1667121369441597934_3657782666"}
"""


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Subprocess runs (xdist) import this checkout's igflow, not an installed one.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for key in [k for k in os.environ if k.startswith(("IGFLOW_VAR_", "IGFLOW_SECRET_"))]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("IGFLOW_TARGET", raising=False)
    return pytester


def junit_counts(path: Path) -> dict[str, int]:
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    return {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}


def test_passing_failing_and_invalid_playbooks(pytester: pytest.Pytester) -> None:
    pytester.makefile(".igflow.yml", seed=PASSING, wrong=FAILING, typo=INVALID)
    result = pytester.runpytest(*PLUGIN, "-rA")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    # The failing step, with its file:line message, the source line and the values...
    result.stdout.fnmatch_lines(
        [
            "*wrong.igflow.yml:11:*likes == 99*",
            "*- likes == 99",
            "*where likes = 1",
        ]
    )
    # ... and every step as a sub-result, the steps after it not run.
    result.stdout.fnmatch_lines(
        [
            "Wrong like count: steps",
            "  ok * line 4 *",
            "  failed * line 5 * Count the likes  ?media.shortcode, 200?",
            "  not-run * line 12 * Never reached",
        ]
    )
    # An invalid playbook fails with igflow check's message (file:line:col, did you mean).
    result.stdout.fnmatch_lines(
        ["*typo.igflow.yml:4:*unknown endpoint 'likes.delte'*likes.delete*", "*nothing was sent*"]
    )
    assert "Traceback" not in out
    assert "PASSED seed.igflow.yml::Seed photo" in out


def test_collection_by_suffix_and_by_content(pytester: pytest.Pytester) -> None:
    pytester.makefile(".igflow.yml", a=PASSING)
    pytester.makefile(".yml", b=PASSING.replace("Seed photo", "Plain yml"))
    pytester.makefile(".yaml", c="# not a playbook\nigflowish: 1\nsteps: []\n")
    pytester.makefile(".yml", d="nested:\n  igflow: 1\n")
    result = pytester.runpytest(*PLUGIN, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["a.igflow.yml::Seed photo", "b.yml::Plain yml"])
    assert "c.yaml" not in result.stdout.str() and "d.yml" not in result.stdout.str()
    suffix_only = pytester.runpytest(*PLUGIN, "--collect-only", "-q", "-o", "igflow_collect=suffix")
    assert "b.yml" not in suffix_only.stdout.str()
    assert "a.igflow.yml::Seed photo" in suffix_only.stdout.str()


def test_k_selects_by_playbook_and_step_name(pytester: pytest.Pytester) -> None:
    pytester.makefile(".igflow.yml", seed=PASSING, wrong=FAILING)
    by_playbook = pytester.runpytest(*PLUGIN, "-k", "Wrong and like")
    by_playbook.assert_outcomes(failed=1)
    by_step = pytester.runpytest(*PLUGIN, "-k", "shortcode")  # a step name of 'Seed photo'
    by_step.assert_outcomes(passed=1)
    by_id = pytester.runpytest(*PLUGIN, "-k", "media and not Wrong")  # a step id
    by_id.assert_outcomes(passed=1)
    by_file = pytester.runpytest(*PLUGIN, "-k", "wrong")
    by_file.assert_outcomes(failed=1)


def test_junit_xml_counts_match(pytester: pytest.Pytester) -> None:
    skipped = PASSING.replace("name: Seed photo", "name: Later\nskip: not yet")
    pytester.makefile(".igflow.yml", seed=PASSING, wrong=FAILING, typo=INVALID, later=skipped)
    result = pytester.runpytest(*PLUGIN, "--junitxml=out.xml")
    result.assert_outcomes(passed=1, failed=2, skipped=1)
    assert junit_counts(pytester.path / "out.xml") == {
        "tests": 4,
        "failures": 2,
        "errors": 0,
        "skipped": 1,
    }
    xml = (pytester.path / "out.xml").read_text(encoding="utf-8")
    assert 'name="Seed photo"' in xml
    assert "likes == 99" in xml  # the failure text
    assert 'name="step line 5" value="failed: Count the likes"' in xml


def test_tags_are_markers_and_skip_skips(pytester: pytest.Pytester) -> None:
    skipped = FAILING.replace("name: Wrong like count", "name: Later\nskip: waiting for Graph")
    pytester.makefile(".igflow.yml", seed=PASSING, wrong=FAILING, later=skipped)
    smoke = pytester.runpytest(*PLUGIN, "--strict-markers", "-m", "smoke")
    smoke.assert_outcomes(passed=1)
    every = pytester.runpytest(*PLUGIN, "-m", "igflow", "-rs")
    every.assert_outcomes(passed=1, failed=1, skipped=1)
    every.stdout.fnmatch_lines(["*waiting for Graph*"])


def test_xfail_and_reserved_tags(pytester: pytest.Pytester) -> None:
    known_bug = FAILING.replace("name: Wrong like count", "name: Known bug\ntags: [xfail]")
    reserved = PASSING.replace("tags: [smoke]", "tags: [parametrize]")
    pytester.makefile(".igflow.yml", known=known_bug, reserved=reserved)
    result = pytester.runpytest(*PLUGIN, "--strict-markers")
    result.assert_outcomes(xfailed=1, failed=1)
    result.stdout.fnmatch_lines(["*tag 'parametrize' is one of pytest's own markers*"])


def test_x_stops_and_lf_reruns_the_failed(pytester: pytest.Pytester) -> None:
    pytester.makefile(".igflow.yml", a_wrong=FAILING, b_seed=PASSING)
    stopped = pytester.runpytest(*PLUGIN, "-x")
    stopped.assert_outcomes(failed=1)
    again = pytester.runpytest(*PLUGIN, "--lf")
    again.assert_outcomes(failed=1)
    assert "run-last-failure: rerun previous 1 failure" in again.stdout.str()


def test_vars_target_dry_run_and_reports(pytester: pytest.Pytester) -> None:
    pytester.makefile(".igflow.yml", unlike=UNLIKE)
    pytester.makefile(
        ".igflow.yml",
        needs_var=PASSING.replace("vars:\n  shortcode: Bcizg1_B3nu\n", "").replace(
            "Seed photo", "Needs a var"
        ),
    )
    with serve_sandbox() as sandbox:
        target = ("--igflow-target", sandbox.url, "--igflow-var", "shortcode=Bcizg1_B3nu")
        dry = pytester.runpytest(*PLUGIN, *target, "--igflow-dry-run")
        dry.assert_outcomes(passed=2)
        assert sandbox.state.likers_of("Bcizg1_B3nu") == ["grantwinney"]  # nothing written
        real = pytester.runpytest(*PLUGIN, *target, "--igflow-report", "json:reports")
        real.assert_outcomes(passed=2)
        assert sandbox.state.likers_of("Bcizg1_B3nu") == []  # the served sandbox was the target
        assert {r["endpoint"] for r in sandbox.requests()} >= {"likes.delete", "media.shortcode"}
    # One file per item: its id made safe, and a digest of the id (two ids may be made the same).
    reports = sorted(p.name for p in (pytester.path / "reports").iterdir())
    assert [name.rsplit("-", 1)[0] for name in reports] == [
        "needs_var.igflow.yml_Needs_a_var",
        "unlike.igflow.yml_Unlike_the_seed_photo",
    ]
    assert all(len(name.rsplit("-", 1)[1]) == len("01234567.json") for name in reports)
    missing = pytester.runpytest(*PLUGIN, "-k", "Needs")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*'shortcode' is not defined*"])


def test_confirm_needs_igflow_yes_and_journals_stay_out_of_the_project(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".igflow.yml",
        unlike=UNLIKE.replace(
            "    call: likes.delete", "    confirm: true\n    call: likes.delete"
        ),
    )
    with serve_sandbox() as sandbox:
        target = ("--igflow-target", sandbox.url)
        refused = pytester.runpytest(*PLUGIN, *target)
        refused.assert_outcomes(failed=1)
        refused.stdout.fnmatch_lines(["*Unlike it: not confirmed, nothing sent*"])
        assert sandbox.state.likers_of("Bcizg1_B3nu") == ["grantwinney"]
        pytester.runpytest(*PLUGIN, *target, "--igflow-yes").assert_outcomes(passed=1)
        assert sandbox.state.likers_of("Bcizg1_B3nu") == []
    # A write run keeps its journal in pytest's temporary directory, not in the project.
    assert not (pytester.path / ".igflow").exists()


def test_environment_overrides(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(
        ".igflow.yml",
        env=PASSING.replace("vars:\n  shortcode: Bcizg1_B3nu\n", "")
        + "  - log: 'the code is {{ shortcode }}'\n",
    )
    monkeypatch.setenv("IGFLOW_SECRET_shortcode", "Bcizg1_B3nu")
    with serve_sandbox() as sandbox:
        monkeypatch.setenv("IGFLOW_TARGET", sandbox.url)
        result = pytester.runpytest(*PLUGIN, "-rA")
        result.assert_outcomes(passed=1)
        assert sandbox.requests(), "IGFLOW_TARGET was not used"
    out = result.stdout.str()
    assert "the code is" in out  # the console output is a report section
    assert "Bcizg1_B3nu" not in out  # IGFLOW_SECRET_ values are redacted


def test_xdist_runs_playbooks_in_parallel_without_port_clashes(pytester: pytest.Pytester) -> None:
    for n in range(6):
        pytester.makefile(".igflow.yml", **{f"seed{n}": PASSING.replace("Seed photo", f"Seed {n}")})
    pytester.makefile(".igflow.yml", wrong=FAILING, unlike=UNLIKE)
    pytester.makepyfile(
        test_served="""
        import requests

        def test_session_one(igflow_sandbox_session):
            assert requests.get(igflow_sandbox_session.url + "/_sandbox/info").ok

        def test_function_one(igflow_sandbox):
            assert requests.get(igflow_sandbox.url + "/_sandbox/info").ok
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, "-n", "2", "--junitxml=out.xml", "-p", "xdist")
    result.assert_outcomes(passed=9, failed=1)
    assert "2 workers" in result.stdout.str()
    assert junit_counts(pytester.path / "out.xml") == {
        "tests": 10,
        "failures": 1,
        "errors": 0,
        "skipped": 0,
    }


def test_the_plugin_imports_nothing_until_it_is_needed(pytester: pytest.Pytester) -> None:
    probe = (
        "import sys, igflow.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('igflow')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['igflow', 'igflow.pytest_plugin']"
    # A pytest run that collects no playbook and uses no fixture loads none of igflow either.
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_plain():
            loaded = sorted(m for m in sys.modules if m.startswith("igflow."))
            assert loaded == ["igflow.pytest_plugin"], loaded
        """
    )
    pytester.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=1)


def test_the_entry_point_is_declared() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["pytest11"] == {"igflow": "igflow.pytest_plugin"}


def test_fixtures_serve_reset_and_tear_down(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixtures=textwrap.dedent(
            """
            import json, os, pathlib, requests, pytest

            MEDIA = "1667121369441597934_3657782666"
            SEEN = pathlib.Path("seen.jsonl")

            def note(sandbox, test):
                with SEEN.open("a") as f:
                    f.write(json.dumps({"test": test, "url": sandbox.url, "port": sandbox.port,
                                        "log": sandbox._slot.log_path}) + "\\n")

            def unlike(sandbox):
                token = sandbox.token("grantwinney", scopes=["basic", "likes"])
                r = requests.delete(f"{sandbox.url}/v1/media/{MEDIA}/likes",
                                    params={"access_token": token})
                assert r.json()["meta"]["code"] == 200

            def test_my_unliker(igflow_sandbox):
                note(igflow_sandbox, "function")
                unlike(igflow_sandbox)
                assert igflow_sandbox.state.likers_of("Bcizg1_B3nu") == []
                assert [r["endpoint"] for r in igflow_sandbox.requests()] == ["likes.delete"]

            def test_fails_but_is_torn_down(igflow_sandbox):
                note(igflow_sandbox, "failing")
                unlike(igflow_sandbox)
                raise AssertionError("this test fails on purpose")

            def test_session_first(igflow_sandbox_session):
                note(igflow_sandbox_session, "session-1")
                unlike(igflow_sandbox_session)
                assert igflow_sandbox_session.state.likers_of("Bcizg1_B3nu") == []

            def test_session_second_sees_fresh_state(igflow_sandbox_session):
                note(igflow_sandbox_session, "session-2")
                assert igflow_sandbox_session.state.likers_of("Bcizg1_B3nu") == ["grantwinney"]
                assert igflow_sandbox_session.requests() == []

            @pytest.mark.igflow_sandbox(clock="fake", era="2018-04-04")
            def test_marker_configures(igflow_sandbox):
                start = igflow_sandbox.clock.now()
                assert igflow_sandbox.clock.advance(60) == start + 60
                token = igflow_sandbox.token("grantwinney", ["basic", "public_content"])
                r = requests.get(f"{igflow_sandbox.url}/v1/media/{MEDIA}",
                                 params={"access_token": token})
                assert r.json()["meta"]["error_message"] == "This endpoint has been retired"

            @pytest.mark.igflow_mock(era="2016")
            def test_mock_fixture(igflow_mock):
                token = igflow_mock.token("grantwinney")
                r = requests.get("https://api.instagram.com/v1/users/self",
                                 params={"access_token": token})
                assert r.json()["data"]["username"] == "grantwinney"
            """
        )
    )
    import socket
    import threading

    before = {t.ident for t in threading.enumerate()}
    result = pytester.runpytest_inprocess(*PLUGIN)
    result.assert_outcomes(passed=5, failed=1)
    import json

    seen = [json.loads(line) for line in (pytester.path / "seen.jsonl").read_text().splitlines()]
    session = [s for s in seen if s["test"].startswith("session")]
    assert session[0]["url"] == session[1]["url"]  # one sandbox for the session, reset between
    assert len({s["port"] for s in seen}) == 3  # two function sandboxes and the session one
    leaked = [t for t in threading.enumerate() if t.ident not in before]
    assert leaked == [], leaked
    for entry in seen:
        assert not os.path.exists(entry["log"]), entry  # the temporary files are gone
        with socket.socket() as probe, pytest.raises(OSError):
            probe.settimeout(2)
            probe.connect(("127.0.0.1", entry["port"]))  # nothing listens any more


def test_bad_options_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makefile(".igflow.yml", seed=PASSING)
    bad_report = pytester.runpytest(*PLUGIN, "--igflow-report", "xml:out")
    assert bad_report.ret == pytest.ExitCode.USAGE_ERROR
    bad_report.stderr.fnmatch_lines(["*--igflow-report xml:out: expected FORMAT:DIR*"])
    bad_var = pytester.runpytest(*PLUGIN, "--igflow-var", "no-equals")
    assert bad_var.ret == pytest.ExitCode.USAGE_ERROR
    bad_ini = pytester.runpytest_subprocess(*PLUGIN, "-o", "igflow_collect=everything")
    assert bad_ini.ret == pytest.ExitCode.USAGE_ERROR


GRAPH_FIXTURES = """
import json, pathlib, threading, time, requests, pytest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

V = "v25.0"
MIRA_ID = "17841400000000101"
IMAGE = "17900000000001001"
SPAM = "17800000000010003"
SCOPES = ["instagram_business_basic", "instagram_business_manage_comments"]
SEEN = pathlib.Path("seen.jsonl")

def note(sandbox, test):
    with SEEN.open("a") as f:
        f.write(json.dumps({"test": test, "url": sandbox.url, "port": sandbox.port,
                            "log": sandbox._slot.log_path}) + "\\n")

def hide_spam(sandbox):
    token = sandbox.token("mira.makes", scopes=SCOPES)
    r = requests.post(f"{sandbox.url}/{V}/{SPAM}", data={"hide": "true"},
                      headers={"Authorization": f"Bearer {token}"})
    assert r.json() == {"success": True}, r.text

def test_function_sandbox(igflow_sandbox):
    note(igflow_sandbox, "function")
    assert igflow_sandbox.api == "instagram.graph"
    info = requests.get(igflow_sandbox.url + "/_sandbox/info").json()
    assert info["api"] == "instagram.graph"
    hide_spam(igflow_sandbox)
    assert igflow_sandbox.state.hidden_on(IMAGE) == [SPAM]
    spam = [c for c in igflow_sandbox.state.comments_on(IMAGE) if c["id"] == SPAM]
    assert [c["hidden"] for c in spam] == [True]
    assert IMAGE in igflow_sandbox.state.media_of("mira.makes")
    # The log has every request, the control endpoint's too (endpoint None).
    assert [(r["path"], r["endpoint"]) for r in igflow_sandbox.requests()] == [
        ("/_sandbox/info", None), (f"/{V}/{SPAM}", "comments.hide")]

def test_fails_but_is_torn_down(igflow_sandbox):
    note(igflow_sandbox, "failing")
    hide_spam(igflow_sandbox)
    raise AssertionError("this test fails on purpose")

def test_session_first(igflow_sandbox_session):
    note(igflow_sandbox_session, "session-1")
    hide_spam(igflow_sandbox_session)
    assert igflow_sandbox_session.state.hidden_on(IMAGE) == [SPAM]

def test_session_second_sees_fresh_state(igflow_sandbox_session):
    note(igflow_sandbox_session, "session-2")
    assert igflow_sandbox_session.state.hidden_on(IMAGE) == []
    assert igflow_sandbox_session.requests() == []
    before = igflow_sandbox_session.clock.now()  # the session options ask for a fake clock
    assert igflow_sandbox_session.clock.advance(3600) == before + 3600

class CallbackServer(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins its handler threads (the leak check)

class Callback(BaseHTTPRequestHandler):
    received = []
    def log_message(self, *args):
        pass
    def do_GET(self):  # the verification handshake: echo the challenge
        challenge = parse_qs(urlsplit(self.path).query)["hub.challenge"][0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(challenge)))
        self.end_headers()
        self.wfile.write(challenge)
    def do_POST(self):
        Callback.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

@pytest.mark.igflow_sandbox(api="instagram.graph", clock="fake")
def test_marker_webhooks_and_faults(igflow_sandbox):
    note(igflow_sandbox, "webhooks")
    server = CallbackServer(("127.0.0.1", 0), Callback)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        igflow_sandbox.subscribe_webhooks(f"http://127.0.0.1:{server.server_port}/hook")
        token = igflow_sandbox.token("mira.makes", scopes=SCOPES)
        auth = {"Authorization": f"Bearer {token}"}
        subscribed = requests.post(f"{igflow_sandbox.url}/{V}/{MIRA_ID}/subscribed_apps",
                                   data={"subscribed_fields": "comments"}, headers=auth)
        assert subscribed.json() == {"success": True}, subscribed.text
        new = igflow_sandbox.comment_as(IMAGE, "kiln_kate", "Restock when?")
        for _ in range(100):
            if Callback.received:
                break
            time.sleep(0.05)
        change = Callback.received[0]["entry"][0]["changes"][0]
        assert change["field"] == "comments" and change["value"]["id"] == new
        assert igflow_sandbox.webhook_deliveries()[0]["state"] == "delivered"
        igflow_sandbox.set_faults(fail_nth=1, fail_status=503)
        failed = requests.get(f"{igflow_sandbox.url}/{V}/me", headers=auth)
        assert failed.status_code == 503 and "error" in failed.json()
        assert requests.get(f"{igflow_sandbox.url}/{V}/me", headers=auth).ok
    finally:
        server.shutdown()
        server.server_close()
        serving.join()

@pytest.mark.igflow_mock(api="instagram.graph")
def test_mock_fixture(igflow_mock):
    token = igflow_mock.token("northwind.coffee")
    r = requests.get("https://graph.instagram.com/v25.0/me", params={"fields": "username"},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.json()["username"] == "northwind.coffee"
"""


def test_graph_fixtures_serve_reset_and_tear_down(pytester: pytest.Pytester) -> None:
    import json
    import socket
    import threading

    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def igflow_sandbox_session_options():
            return {"api": "instagram.graph", "clock": "fake"}

        def pytest_collection_modifyitems(items):
            for item in items:  # the function fixture of every test here serves Graph too
                if not item.get_closest_marker("igflow_sandbox"):
                    item.add_marker(pytest.mark.igflow_sandbox(api="instagram.graph"))
        """
    )
    pytester.makepyfile(test_graph_fixtures=GRAPH_FIXTURES)
    before = {t.ident for t in threading.enumerate()}
    result = pytester.runpytest_inprocess(*PLUGIN)
    result.assert_outcomes(passed=5, failed=1)
    seen = [json.loads(line) for line in (pytester.path / "seen.jsonl").read_text().splitlines()]
    session = [s for s in seen if s["test"].startswith("session")]
    assert session[0]["url"] == session[1]["url"]  # one sandbox for the session, reset between
    assert len({s["port"] for s in seen}) == 4  # three function sandboxes and the session one
    # No thread left: servers, and the Graph sandbox's webhook sender, are joined.
    leaked = [t for t in threading.enumerate() if t.ident not in before]
    assert leaked == [], leaked
    for entry in seen:
        assert not os.path.exists(entry["log"]), entry  # the temporary files are gone
        with socket.socket() as probe, pytest.raises(OSError):
            probe.settimeout(2)
            probe.connect(("127.0.0.1", entry["port"]))  # nothing listens any more


def test_graph_marker_refuses_v1_settings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.igflow_sandbox(api="instagram.graph", era="2018-04-04")
        def test_x(igflow_sandbox):
            pass
        """
    )
    result = pytester.runpytest_inprocess(*PLUGIN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*igflow sandbox: --era is the v1 sandbox's*"])


GRAPH_WRONG = """\
igflow: 1
name: Graph wrong username
api: instagram.graph
steps:
  - authorize: {user: mira.makes, scopes: [instagram_business_basic]}
  - name: Who am I
    call: me
    with: {fields: [user_id, username]}
    extract:
      username: $.username
    assert:
      - username == "grantwinney"
"""


def test_graph_playbooks_run_against_the_built_in_graph_sandbox(pytester: pytest.Pytester) -> None:
    shipped = (ROOT / "playbooks" / "graph" / "hide_spam_comments.yml").read_text(encoding="utf-8")
    pytester.makefile(".yml", hide_spam_comments=shipped)  # collected by its `igflow: 1`
    pytester.makefile(".igflow.yml", graph_wrong=GRAPH_WRONG)
    result = pytester.runpytest_inprocess(
        *PLUGIN, "-v", "--junitxml=out.xml", "--igflow-report", "json:reports"
    )
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "Hide spam comments on my recent media PASSED" in out
    # It ran against the built-in Graph sandbox's dataset: mira.makes's spam was hidden.
    import json

    (report,) = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (pytester.path / "reports").iterdir()
        if p.name.startswith("hide_spam")
    ]
    assert report["exit_code"] == 0, report["status"]
    assert sorted(report["outputs"]["spam"]) == [
        "17800000000010003",
        "17800000000010004",
        "17800000000010009",
    ]
    assert [s["status"] for s in report["steps"] if s.get("endpoint") == "comments.hide"] == ["ok"]
    # The failing one ran against a Graph sandbox: its `me` answered mira.makes.
    result.stdout.fnmatch_lines(
        ["*failed*line 6*Who am I*[me, 200]*", "*assertion failed: username == *grantwinney*"]
    )
    assert "where username = 'mira.makes'" in out
    assert junit_counts(pytester.path / "out.xml")["tests"] == 2


WRITER = """\
igflow: 1
name: Export a value
steps:
  - set: {answer: "41 + 1"}
  - write: {path: out/answer.json, value: "{{ answer }}"}
"""


def test_write_steps_write_under_pytests_temporary_directory(pytester: pytest.Pytester) -> None:
    # `igflow run` writes beside the playbook; a test run leaves the project as it was.
    pytester.makefile(".igflow.yml", writer=WRITER)
    basetemp = pytester.path.parent / "inner-basetemp"
    result = pytester.runpytest(*PLUGIN, "--basetemp", str(basetemp))
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "out").exists()
    (written,) = basetemp.glob("igflow-out/*/out/answer.json")
    assert written.read_text(encoding="utf-8").strip() == "42"

    chosen = pytester.path.parent / "chosen"
    again = pytester.runpytest(*PLUGIN, "--igflow-out-dir", str(chosen))
    again.assert_outcomes(passed=1)
    assert (chosen / "out" / "answer.json").read_text(encoding="utf-8").strip() == "42"


def test_two_items_whose_ids_look_alike_keep_their_own_outputs(pytester: pytest.Pytester) -> None:
    # a/x.igflow.yml and a_x.igflow.yml made safe are both a_x.igflow.yml_x: one wrote over the
    # other's output (and journal) before each item's name had a digest of its own id.
    one = WRITER.replace("Export a value", "x").replace('"41 + 1"', '"1"')
    other = WRITER.replace("Export a value", "x").replace('"41 + 1"', '"2"')
    (pytester.path / "a").mkdir()
    (pytester.path / "a" / "x.igflow.yml").write_text(one, encoding="utf-8")
    (pytester.path / "a_x.igflow.yml").write_text(other, encoding="utf-8")
    basetemp = pytester.path.parent / "alike-basetemp"
    result = pytester.runpytest(*PLUGIN, "--basetemp", str(basetemp))
    result.assert_outcomes(passed=2)
    written = sorted(
        p.read_text(encoding="utf-8").strip() for p in basetemp.glob("igflow-out/*/out/answer.json")
    )
    assert written == ["1", "2"]
