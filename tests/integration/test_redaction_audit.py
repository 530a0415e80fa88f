"""The redaction audit: no secret of a run appears in any artefact of it.

A served sandbox records every secret it receives (access tokens, client secrets, ``sig``
values, passwords, codes) before its own log redacts them. igflow then runs a playbook that
exercises everything that prints or stores: a signed client (a fresh ``sig`` on every call),
pagination (signed next links), a loop of writes (the journal), an API error, a declared secret
and a secret environment variable in a log line, the secret in an export, ``-v`` (every
exchange), JSON and JUnit reports and a failed assertion at the end. Every one of those secrets
is then searched for in stdout, stderr, both reports, the journal and the exported file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli

import igflow.sandbox.app as sandbox_app
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.requestlog import SECRET_PARAMS, redact_params
from igflow.sandbox.server import start_sandbox

API_KEY = "k3y-5f1c9e0a7d2b4c6e8f1a3b5c7d9e0f21"
ENV_NOTE = "n0te-from-the-environment-77c1"  # a secret environment variable (declared in env:)
PLAYBOOK = """\
igflow: 1
name: Redaction audit
secrets: [api_key]
env: [IG_NOTE]
steps:
  - authorize: {client: signed, user: grantwinney, scopes: [basic, public_content, likes]}
  - call: users.self
  - id: recent
    call: users.media_recent_self
    with: {count: 2}
    paginate: {max_items: 6}
    extract: {ids: "$.data[*].id"}
  - log: "calling with key {{ api_key }}, note {{ env.IG_NOTE }}"
  - foreach: "{{ ids }}"
    max_writes: 6
    call: likes.create
    with: {media_id: "{{ item }}"}
  - call: media.get
    with: {media_id: "999999999999999999_1"}
    on_error: continue
  - write: {path: export.json, value: "{{ {'key': api_key, 'ids': ids} }}", format: json}
  - assert: ids | length == 99
"""


@pytest.fixture
def seen_secrets(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every secret value the sandbox receives from now on."""
    seen: set[str] = set()

    def recording(params: Any) -> dict[str, Any]:
        items: Mapping[str, Any] = params
        for key in items:
            if key.lower() in SECRET_PARAMS:
                values = params.getlist(key) if hasattr(params, "getlist") else [params[key]]
                seen.update(str(value) for value in values if value)
        return redact_params(params)

    monkeypatch.setattr(sandbox_app, "redact_params", recording)
    return seen


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    config = SandboxConfig(rate_limits="off", request_log=str(tmp_path / "sandbox-log.jsonl"))
    with start_sandbox(config) as running:
        yield running.url


def test_no_secret_appears_in_any_artefact(
    served: str, seen_secrets: set[str], tmp_path: Path
) -> None:
    playbook = tmp_path / "audit.yml"
    export = tmp_path / "export.json"
    playbook.write_text(PLAYBOOK)  # the export: under the playbook's directory
    artefacts = {
        "json report": tmp_path / "report.json",
        "junit report": tmp_path / "report.xml",
        "journal": tmp_path / "journal.jsonl",
        "export": export,
    }
    code, out, err = run_cli(
        "run",
        str(playbook),
        "--target",
        served,
        "-v",
        "--var",
        f"api_key={API_KEY}",
        "--report",
        f"json:{artefacts['json report']}",
        "--report",
        f"junit:{artefacts['junit report']}",
        "--journal",
        str(artefacts["journal"]),
        environ={"IG_NOTE": ENV_NOTE},
    )
    assert code == 1, out + err  # the final assertion fails, on purpose
    texts = {"stdout": out, "stderr": err}
    for name, path in artefacts.items():
        assert path.exists(), f"no {name} was written"
        texts[name] = path.read_text(encoding="utf-8")

    secrets = set(seen_secrets) | {API_KEY, ENV_NOTE}
    secrets |= {"d219b86b951b300f58b171867cfdcb72"}  # the signed client's secret
    signatures = {s for s in seen_secrets if len(s) == 64}  # HMAC-SHA256 hex: one per call
    tokens = {s for s in seen_secrets if "." in s and len(s) > 40}
    # The run really made signed calls with a token, and the audit saw them.
    assert len(signatures) >= 8, seen_secrets
    assert tokens
    for secret in sorted(secrets):
        for name, text in texts.items():
            assert secret not in text, f"a secret ({secret[:4]}…) appears in the {name}"
    # What was redacted is still visible as redacted, so the artefacts stay useful.
    assert "[REDACTED]" in out or "***" in out
    assert "note ***" in out  # the environment variable was read, and masked
    assert '"key": ' in texts["export"] and "ids" in texts["export"]
