"""The `env` namespace on a leash: declared names only, never the environment as a whole.

Three layers, each tested here: the namespace object the templates see (run time), the check
that refuses undeclared names and whole uses before a run, and the runner's handing of secret
environment values to the redactor.
"""

from __future__ import annotations

import textwrap
from typing import Any

import jinja2
import pytest
from runner_fakes import Events, FakeClient, FakeConnection

from igflow.envvars import EnvironmentVariables, EnvReference, env_references, secret_values
from igflow.errors import TemplateRenderError
from igflow.playbook import compile_playbook, load_playbook_text
from igflow.playbook.model import Playbook
from igflow.runner import Runner
from igflow.templating import TemplateEngine

SECRET = "tok-5ecret-d0-not-print"
ENVIRON = {"IG_TOKEN": SECRET, "IG_USER": "grantwinney", "HOME": "/home/someone"}
DECLARED = {"IG_TOKEN": False, "IG_USER": True, "UNSET": False}


def render(source: str, environ: dict[str, str] = ENVIRON) -> Any:
    engine = TemplateEngine()
    return engine.compile_value(source).render({"env": EnvironmentVariables(environ, DECLARED)})


# --- the namespace at run time ---------------------------------------------------------------


@pytest.mark.parametrize(
    "source", ["{{ env.IG_USER }}", "{{ env['IG_USER'] }}", '{{ env["IG_USER"] }}']
)
def test_a_declared_variable_reads_by_attribute_or_item(source: str) -> None:
    assert render(source) == "grantwinney"


def test_a_declared_variable_that_is_not_set_says_so() -> None:
    with pytest.raises(TemplateRenderError, match="^environment variable UNSET is not set$"):
        render("{{ env.UNSET }}")


def test_a_declared_unset_variable_still_takes_a_default_and_tests_undefined() -> None:
    assert render("{{ env.UNSET | default('none') }}") == "none"
    assert render("{{ env.UNSET is defined }}") is False
    assert render("{{ env.IG_USER is defined }}") is True


@pytest.mark.parametrize(
    "source",
    [
        "{{ env.HOME }}",
        "{{ env['HOME'] }}",
        "{{ env.HOME | default('x') }}",  # a default does not hide an undeclared name
        "{{ env.HOME is defined }}",
    ],
)
def test_an_undeclared_variable_is_refused_even_when_it_is_set(source: str) -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render(source)
    assert caught.value.message == (
        "environment variable HOME is not declared (declare it: env: [HOME])"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ env | list }}",
        "{{ env | join(',') }}",
        "{{ env | length }}",
        "{{ env | tojson }}",
        "{{ env | to_json }}",
        "{{ env | dictsort }}",
        "{{ env.items() }}",
        "{{ env.keys() }}",
        "{{ env.values() }}",
        "{{ env.get('IG_TOKEN') }}",
        "{{ 'IG_TOKEN' in env }}",
        "{% for k in env %}{{ k }}{% endfor %}",
        "{{ env._EnvironmentVariables__values }}",
        "{{ env.__class__ }}",
    ],
)
def test_the_environment_cannot_be_listed_or_dumped(source: str) -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render(source)
    assert SECRET not in caught.value.message
    assert "/home/someone" not in caught.value.message


def test_printing_the_namespace_shows_no_value() -> None:
    namespace = EnvironmentVariables(ENVIRON, DECLARED)
    for text in (str(namespace), repr(namespace), render("{{ env }}"), render("x {{ env }}")):
        assert SECRET not in str(text) and "grantwinney" not in str(text)
        assert "/home/someone" not in str(text)


def test_only_declared_names_are_copied_out_of_the_environment() -> None:
    namespace = EnvironmentVariables(ENVIRON, {"IG_USER": True})
    assert namespace["IG_USER"] == "grantwinney"
    # The rest of the environment is not even kept: nothing to leak later.
    assert namespace._EnvironmentVariables__values == {"IG_USER": "grantwinney"}  # type: ignore[attr-defined]
    with pytest.raises(TemplateRenderError):
        namespace["IG_TOKEN"]


def test_secret_values_are_the_set_non_public_ones() -> None:
    assert secret_values(ENVIRON, DECLARED) == [SECRET]
    assert secret_values({}, DECLARED) == []


# --- finding the uses of env in a template ---------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ env.A }}", [EnvReference("A", 1)]),
        ("{{ env['A'] ~ env.B }}", [EnvReference("A", 1), EnvReference("B", 1)]),
        ("{{ env }}", [EnvReference(None, 1)]),
        ("{{ env[name] }}", [EnvReference(None, 1)]),
        ("{{ env[0] }}", [EnvReference(None, 1)]),
        ("{{ env.items() }}", [EnvReference(None, 1)]),
        ("{{ env | list }}", [EnvReference(None, 1)]),
        ("x\n{{ env.A }}", [EnvReference("A", 2)]),
        ("{{ steps.env.A }}", []),  # `env` here is a step id, not the namespace
        ("{{ myenv.A }}", []),
    ],
)
def test_env_references(source: str, expected: list[EnvReference]) -> None:
    assert env_references(jinja2.Environment().parse(source)) == expected


# --- igflow check ----------------------------------------------------------------------------


def check(body: str) -> tuple[Playbook | None, list[str]]:
    doc = load_playbook_text("igflow: 1\n" + textwrap.dedent(body), "p.yml")
    playbook, issues = compile_playbook(doc)
    return playbook, [str(issue) for issue in issues]


def test_check_reports_an_undeclared_variable_where_it_is_read_with_a_hint() -> None:
    _, issues = check(
        """\
        env: [IG_TOKEN]
        steps:
          - log: "user {{ env.IG_USER }}"
        """
    )
    assert issues == [
        "p.yml:4:19: environment variable IG_USER is not declared (declare it: env: [IG_USER])"
    ]


def test_check_suggests_a_declared_name_close_to_a_typo() -> None:
    _, issues = check(
        """\
        env: [IG_TOKEN]
        steps:
          - assert: env.IG_TOKN == 'x'
        """
    )
    assert issues == [
        "p.yml:4:13: environment variable IG_TOKN is not declared; did you mean 'IG_TOKEN'? "
        "(declare it: env: [IG_TOKN])"
    ]


@pytest.mark.parametrize(
    "template",
    [
        "{{ env }}",
        "{{ env | list }}",
        "{{ env.items() }}",
        "{{ env | tojson }}",
        "{{ env.keys() }}",
        "{{ env[key] }}",
        "{% for k in env %}{{ k }}{% endfor %}",
        "{{ [env] }}",
        "{{ env is defined }}",
    ],
)
def test_check_refuses_env_as_a_whole(template: str) -> None:
    _, issues = check(
        f"""\
        env: [IG_TOKEN]
        vars: {{key: IG_TOKEN}}
        steps:
          - log: "{template}"
        """
    )
    assert len(issues) == 1
    assert issues[0].startswith("p.yml:5:")
    assert "`env` cannot be used as a whole" in issues[0]
    assert "env.NAME" in issues[0]


@pytest.mark.parametrize(
    "where",
    [
        "vars: {v: '{{ env.NOPE }}'}\nsteps:\n  - log: x\n",
        "steps:\n  - log: x\n    when: env.NOPE == 'x'\n",
        "steps:\n  - set: {v: env.NOPE}\n",
        "steps:\n  - write: {path: out.json, value: '{{ env.NOPE }}'}\n",
        "steps:\n  - foreach: '{{ [env.NOPE] }}'\n    log: x\n",
        "steps:\n  - log: x\noutputs: {v: env.NOPE}\n",
        "steps:\n  - call: oembed.get\n    with: {url: '{{ env.NOPE }}'}\n",
        "steps:\n  - authorize: {scopes: [basic], token: '{{ env.NOPE }}'}\n",
    ],
)
def test_every_kind_of_template_is_checked(where: str) -> None:
    _, issues = check(where)
    assert [m for m in issues if "environment variable NOPE is not declared" in m], issues


def test_declared_names_compile_into_the_plan() -> None:
    playbook, issues = check(
        """\
        env: [IG_TOKEN, {name: IG_USER, public: true}, {name: IG_OTHER, public: false}]
        secrets: [API_KEY]
        steps:
          - log: "{{ env.IG_TOKEN }} {{ env['IG_USER'] }} {{ env.IG_OTHER }} {{ env.API_KEY }}"
        """
    )
    assert issues == []
    assert playbook is not None
    assert dict(playbook.env) == {
        "IG_TOKEN": False,
        "IG_USER": True,
        "IG_OTHER": False,
        "API_KEY": False,
    }


def test_a_name_in_secrets_is_a_declared_secret_variable() -> None:
    playbook, issues = check(
        """\
        secrets: [IG_TOKEN]
        steps:
          - authorize: {scopes: [basic], token: "{{ env.IG_TOKEN }}"}
        """
    )
    assert issues == [] and playbook is not None
    assert dict(playbook.env) == {"IG_TOKEN": False}


def test_a_public_variable_cannot_also_be_a_secret() -> None:
    _, issues = check(
        """\
        secrets: [IG_USER]
        env: [{name: IG_USER, public: true}]
        steps: [{log: x}]
        """
    )
    assert issues == [
        "p.yml:3:31: 'IG_USER' is listed in `secrets`, so it cannot be public: "
        "remove one of the two"
    ]


def test_a_name_declared_twice_is_reported() -> None:
    _, issues = check(
        """\
        env: [IG_USER, {name: IG_USER, public: true}]
        steps: [{log: x}]
        """
    )
    assert issues == ["p.yml:2:16: 'IG_USER' is declared twice in `env` (first at p.yml:2:7)"]


def test_the_schema_knows_the_env_key() -> None:
    _, issues = check(
        """\
        env: [{name: IG_USER, public: "yes"}, {nam: X}, "1BAD"]
        steps: [{log: x}]
        """
    )
    assert any("'public' must be true or false" in m for m in issues), issues
    assert any("needs 'name'" in m for m in issues), issues
    assert any("'1BAD' is not a valid name" in m for m in issues), issues


# --- the runner ------------------------------------------------------------------------------


def run(playbook: Playbook, environ: dict[str, str], redacted: list[Any]) -> Any:
    connection = FakeConnection(FakeClient(lambda e, p: {}))
    runner = Runner(playbook, connection, Events(), environ=environ, redact_value=redacted.append)
    return runner.run("http://fake")


def test_secret_environment_values_reach_the_redactor_before_vars_render() -> None:
    playbook, issues = check(
        """\
        env: [IG_TOKEN, {name: IG_USER, public: true}, UNSET]
        secrets: [API_KEY]
        vars:
          token: "{{ env.IG_TOKEN }}"
        steps:
          - log: "{{ token }} {{ env.IG_USER }} {{ env.API_KEY }}"
        """
    )
    assert playbook is not None, issues
    redacted: list[Any] = []
    result = run(playbook, {**ENVIRON, "API_KEY": "k3y-value"}, redacted)
    assert result.ok
    # Secret and set: registered. Public (IG_USER), unset (UNSET), undeclared (HOME): not.
    assert sorted(redacted) == sorted([SECRET, "k3y-value"])


def test_the_runner_refuses_a_name_the_plan_does_not_declare() -> None:
    # `check` stops this first; the namespace still refuses if a plan gets past it.
    playbook, _ = check("env: [HOME]\nsteps:\n  - log: '{{ env.HOME }}'\n")
    assert playbook is not None
    result = run(playbook._replace(env={}), ENVIRON, [])
    assert isinstance(result.error, TemplateRenderError)
    assert result.error.exit_code == 2
    assert result.error.message == (
        "environment variable HOME is not declared (declare it: env: [HOME])"
    )
