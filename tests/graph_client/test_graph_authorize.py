"""The Graph `authorize` step: Instagram Login on the sandbox's pages, the code exchange, the
long-lived token; `token:` used as is; refusals typed (exit 5) with the sandbox's words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from graph_sandbox_support import MIRA, GraphSandbox, run_igflow, serve

from igflow.auth_graph import code_from_redirect, short_lived_token
from igflow.errors import OAuthError


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[GraphSandbox]:
    yield from serve(tmp_path)


def playbook(tmp_path: Path, authorize: str) -> str:
    path = tmp_path / "login.yml"
    path.write_text(
        "igflow: 1\napi: instagram.graph\nsecrets: [IG_TOKEN]\nsteps:\n"
        f"  - authorize: {authorize}\n"
        "  - call: me\n    with: {fields: [username]}\n    extract: {who: $.username}\n"
        "outputs:\n  who: who\n",
        encoding="utf-8",
    )
    return str(path)


def test_instagram_login_gets_a_long_lived_token(sandbox: GraphSandbox, tmp_path: Path) -> None:
    path = playbook(tmp_path, "{user: mira.makes, scopes: [instagram_business_basic]}")
    run = run_igflow(["run", path, "--target", sandbox.url])
    assert run.code == 0, run.out + run.err
    assert 'who = "mira.makes"' in run.out
    seen = sandbox.recorder.seen
    paths = [s.path for s in seen]
    assert "/oauth/authorize" in paths and "/oauth/access_token" in paths
    exchange = [s for s in seen if s.path == "/access_token"]
    assert len(exchange) == 1 and "grant_type=ig_exchange_token" in exchange[0].query
    short = exchange[0].authorization.split(" ", 1)[1]
    me = [s for s in seen if s.path == "/v25.0/me"]
    long_lived = me[0].authorization.split(" ", 1)[1]
    assert short != long_lived  # the API calls use the exchanged token, not the 1-hour one
    authorize = next(s for s in seen if s.path == "/oauth/authorize")
    assert "scope=instagram_business_basic" in authorize.query and "state=" in authorize.query


def test_a_given_token_is_used_as_it_is(sandbox: GraphSandbox, tmp_path: Path) -> None:
    token = sandbox.token(MIRA)
    path = playbook(tmp_path, '{token: "{{ env.IG_TOKEN }}", scopes: [instagram_business_basic]}')
    run = run_igflow(["run", path, "--target", sandbox.url], environ={"IG_TOKEN": token})
    assert run.code == 0, run.out + run.err
    calls = [s for s in sandbox.recorder.seen if not s.path.startswith("/_sandbox")]
    assert [s.path for s in calls] == ["/v25.0/me"]
    assert calls[0].authorization == f"Bearer {token}"
    assert token not in run.out + run.err


def test_a_personal_account_is_refused_on_the_login_page(
    sandbox: GraphSandbox, tmp_path: Path
) -> None:
    path = playbook(tmp_path, "{user: jo.personal, scopes: [instagram_business_basic]}")
    run = run_igflow(["run", path, "--target", sandbox.url])
    assert run.code == 5
    assert "refused the login of user 'jo.personal': This account is not a professional" in (
        run.err
    )


def test_a_wrong_password_is_refused(sandbox: GraphSandbox, tmp_path: Path) -> None:
    path = playbook(
        tmp_path, "{user: mira.makes, password: not-it, scopes: [instagram_business_basic]}"
    )
    run = run_igflow(["run", path, "--target", sandbox.url])
    assert run.code == 5 and "refused the login of user 'mira.makes'" in run.err
    assert "not-it" not in run.err  # the password is redacted like any secret


def test_an_app_that_requires_the_secret_gets_appsecret_proof(
    sandbox: GraphSandbox, tmp_path: Path
) -> None:
    path = playbook(
        tmp_path, "{user: mira.makes, client: strict, scopes: [instagram_business_basic]}"
    )
    run = run_igflow(["run", path, "--target", sandbox.url])
    assert run.code == 0, run.out + run.err  # the sandbox checks the proof on every call
    me = [s for s in sandbox.recorder.seen if s.path == "/v25.0/me"]
    assert "appsecret_proof=" in me[0].query and "access_token" not in me[0].query


def test_code_from_redirect() -> None:
    assert code_from_redirect("http://localhost/?code=AQD1&state=s1#_", "s1") == "AQD1"
    with pytest.raises(OAuthError, match="state does not match"):
        code_from_redirect("http://localhost/?code=AQD1&state=other#_", "s1")
    denied = (
        "http://localhost/?error=access_denied&error_reason=user_denied"
        "&error_description=The+user+denied+your+request&state=s1"
    )
    with pytest.raises(OAuthError, match="The user denied your request"):
        code_from_redirect(denied, "s1")
    with pytest.raises(OAuthError, match="no code"):
        code_from_redirect("http://localhost/?state=s1", "s1")


def test_both_shapes_of_the_code_exchange_answer() -> None:
    nested = {"data": [{"access_token": "T1", "user_id": 17841, "permissions": "a,b"}]}
    assert short_lived_token(nested) == ("T1", "17841")
    assert short_lived_token({"access_token": "T2", "user_id": "9"}) == ("T2", "9")
    assert short_lived_token({"error_type": "OAuthException"}) is None
    assert short_lived_token({"data": []}) is None


def test_a_given_app_secret_signs_every_call(sandbox: GraphSandbox, tmp_path: Path) -> None:
    import hashlib
    import hmac

    import requests

    info = requests.get(f"{sandbox.url}/_sandbox/info", timeout=10).json()
    secret = next(c["client_secret"] for c in info["clients"] if c["name"] == "strict")
    answer = requests.post(
        f"{sandbox.url}/_sandbox/token",
        json={"user": MIRA, "scopes": ["instagram_business_basic"], "client": "strict"},
        timeout=10,
    )
    token = answer.json()["access_token"]
    environ = {"IG_TOKEN": token, "IG_APP_SECRET": secret}
    unsigned = playbook(
        tmp_path, '{token: "{{ env.IG_TOKEN }}", scopes: [instagram_business_basic]}'
    )
    run = run_igflow(["run", unsigned, "--target", sandbox.url], environ=environ)
    assert run.code != 0  # the app requires appsecret_proof: the sandbox refuses without
    path = tmp_path / "signed.yml"
    path.write_text(
        Path(unsigned)
        .read_text()
        .replace("secrets: [IG_TOKEN]", "secrets: [IG_TOKEN, IG_APP_SECRET]")
        .replace(
            'token: "{{ env.IG_TOKEN }}",',
            'token: "{{ env.IG_TOKEN }}", app_secret: "{{ env.IG_APP_SECRET }}",',
        ),
        encoding="utf-8",
    )
    run = run_igflow(["run", str(path), "--target", sandbox.url], environ=environ)
    assert run.code == 0, run.out + run.err
    proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    me = [s for s in sandbox.recorder.seen if s.path == "/v25.0/me"][-1]
    assert f"appsecret_proof={proof}" in me.query
    assert secret not in run.out + run.err and proof not in run.out + run.err


def test_app_secret_without_a_token_is_a_check_error(tmp_path: Path) -> None:
    path = playbook(
        tmp_path, "{user: mira.makes, app_secret: x1234567, scopes: [instagram_business_basic]}"
    )
    run = run_igflow(["check", path])
    assert run.code == 2 and "`app_secret` goes with `token`" in run.err


def test_a_dry_run_asks_only_for_what_its_reads_need(sandbox: GraphSandbox, tmp_path: Path) -> None:
    # A rehearsal must not leave the account's grant holding the write permission
    # (igflow.dry_scopes): the dry run's login asks for the reads' permissions only.
    path = tmp_path / "hide.yml"
    path.write_text(
        "igflow: 1\napi: instagram.graph\nsteps:\n"
        "  - authorize:\n      user: mira.makes\n"
        "      scopes: [instagram_business_basic, instagram_business_manage_comments]\n"
        "  - call: me\n    with: {fields: [username]}\n"
        '  - call: comments.hide\n    with: {comment_id: "17800000000010004", hide: true}\n',
        encoding="utf-8",
    )
    dry = run_igflow(["run", str(path), "--target", sandbox.url, "--dry-run"])
    assert dry.code == 0, dry.out + dry.err
    asked = [s.query for s in sandbox.recorder.seen if s.path == "/oauth/authorize"]
    assert asked and not any("instagram_business_manage_comments" in q for q in asked)
    assert "scope=instagram_business_basic" in asked[0]
    before = len(asked)
    real = run_igflow(["run", str(path), "--target", sandbox.url])
    assert real.code == 0, real.out + real.err
    asked_now = [s.query for s in sandbox.recorder.seen if s.path == "/oauth/authorize"][before:]
    assert any("instagram_business_manage_comments" in q for q in asked_now)
