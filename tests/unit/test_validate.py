"""compile_playbook: the compiled model, and the semantic checks one rule at a time."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from igflow.errors import (
    ApiPermissionError,
    Issue,
    OAuthPermissionsException,
    PlaybookValidationError,
    SourceLocation,
)
from igflow.extract import MISSING
from igflow.playbook import (
    check_playbook,
    compile_playbook,
    diagnose_playbook,
    format_issue,
    load_playbook_text,
    playbook_schema,
)
from igflow.playbook.model import Playbook

HEADER = "igflow: 1\nsteps:\n"
AUTH = "  - authorize: {scopes: [basic, likes], user: grantwinney}\n"


def compile_text(text: str, **kw: object) -> tuple[Playbook | None, list[str]]:
    playbook, issues = compile_playbook(load_playbook_text(text, "p.yml"), **kw)  # type: ignore[arg-type]
    return playbook, [str(i) for i in issues]


def messages(text: str, **kw: object) -> list[str]:
    return compile_text(text, **kw)[1]


SEED = (
    HEADER
    + AUTH
    + """\
  - id: media
    call: media.shortcode
    with: {shortcode: "{{ shortcode }}"}
    extract:
      media_id: $.data.id
      likes: {path: $.data.likes.count, default: 0}
    assert: [likes == 1]
  - name: Unlike
    call: likes.delete
    with: {media_id: "{{ media_id }}"}
    expect_error: {type: ApiPermissionError, message: permissions}
    on_error: continue
    timeout: 2
  - set: {remaining: likes - 1, flag: true}
  - log: "{{ steps.media.status }}"
    when: remaining >= 0
"""
)


def test_compiled_model() -> None:
    playbook, issues = compile_text("name: Demo\nvars: {shortcode: abc}\n" + SEED)
    assert issues == []
    assert playbook is not None
    assert playbook.name == "Demo" and playbook.api == "instagram.v1" and playbook.target is None
    assert playbook.vars["shortcode"].render({}) == "abc"
    kinds = [s.kind for s in playbook.steps]
    assert kinds == ["authorize", "call", "call", "set", "log"]
    auth, media, unlike, set_step, log = playbook.steps
    assert auth.authorize is not None and auth.authorize.scopes == ("basic", "likes")
    assert auth.authorize.user is not None and auth.authorize.user.render({}) == "grantwinney"
    assert media.id == "media" and media.label == "call media.shortcode"
    assert media.location == SourceLocation("p.yml", 6, 5)
    assert media.endpoint is not None and media.endpoint.id == "media.shortcode"
    assert media.params is not None
    assert media.params.render({"shortcode": "x"}) == {"shortcode": "x"}
    assert media.defines == ("media_id", "likes")
    assert media.extract["media_id"].has_default is False
    assert media.extract["media_id"].default is MISSING
    assert media.extract["likes"].default == 0
    assert media.extract["likes"].path.extract({"data": {"likes": {"count": 3}}}) == 3
    assert [a.source for a in media.asserts] == ["likes == 1"]
    assert media.asserts[0].expression.evaluate({"likes": 1}) is True
    assert unlike.label == "Unlike" and unlike.on_error == "continue" and unlike.timeout == 2.0
    assert unlike.expect_error is not None and unlike.expect_error.cls is ApiPermissionError
    assert unlike.expect_error.matches(OAuthPermissionsException("needs permissions"))
    assert set_step.set_values["flag"].evaluate({}) is True
    assert set_step.set_values["remaining"].evaluate({"likes": 3}) == 2
    assert log.when is not None and log.when.source == "remaining >= 0"
    assert playbook.lines[0] == "name: Demo"


def test_external_names_count_as_defined() -> None:
    assert messages(SEED) == [
        "p.yml:6:23: 'shortcode' is not defined (define it in `vars`, pass it with --var, "
        "or extract it in an earlier step)"
    ]
    assert messages(SEED, external_names=["shortcode"]) == []


def test_top_level_must_be_a_mapping() -> None:
    assert messages("- a\n") == [
        "p.yml:1:1: a playbook must be a mapping with `igflow: 1` and `steps:` at the top level, "
        "got list"
    ]
    assert messages("just text\n")[0].endswith("got string")


def test_issues_are_sorted_and_all_reported() -> None:
    found = messages(
        HEADER + "  - call: nope.nope\n  - call: likes.delete\n    with: {x: 1}\nfoo: 1\n"
    )
    lines = [int(m.split(":")[1]) for m in found]
    assert lines == sorted(lines)
    assert len(found) >= 4


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "  - call: users.self\n",
            [
                "p.yml:3:11: no authorize step before this call (users.self "
                "needs an access token; add an `authorize` step before it)"
            ],
        ),
        ("  - call: users.self\n    expect_error: OAuthParameterException\n", []),
        ("  - call: oembed.get\n    with: {url: x}\n", []),  # auth: none
        ("  - call: subscriptions.list\n", []),  # auth: client
        (
            AUTH.replace("basic, likes", "basic")
            + "  - call: likes.delete\n    with: {media_id: '1'}\n    expect_error: ApiError\n",
            [],
        ),
        (
            AUTH.replace("basic, likes", "basic")
            + "  - call: likes.delete\n    with: {media_id: '1'}\n"
            + "    expect_error: NotFoundError\n",
            [
                "p.yml:4:11: likes.delete needs scope 'likes', but the authorize step at p.yml:3:5 "
                "did not request it (add it to scopes, or expect OAuthPermissionsException)"
            ],
        ),
        # the most recent authorize counts
        (
            AUTH
            + AUTH.replace("basic, likes", "basic")
            + "  - call: likes.create\n    with: {media_id: '1'}\n",
            [
                "p.yml:5:11: likes.create needs scope 'likes', but the authorize step at p.yml:4:5 "
                "did not request it (add it to scopes, or expect OAuthPermissionsException)"
            ],
        ),
    ],
)
def test_scope_checks(steps: str, expected: list[str]) -> None:
    assert messages(HEADER + steps) == expected


def test_names_defined_by_the_step_itself() -> None:
    text = (
        HEADER
        + AUTH
        + (
            "  - call: users.self\n"
            "    when: username is defined\n"
            "    extract: {username: $.data.username}\n"
            "    assert: username != ''\n"
            "  - set: {a: 1, b: a + 1}\n"
            "    assert: b == 2\n"
        )
    )
    assert messages(text) == [
        "p.yml:5:11: 'username' is used before it is defined (it is extracted later, at p.yml:6:15)"
    ]


def test_set_may_update_but_extract_may_not_redefine() -> None:
    text = (
        "vars: {likes: 0}\n"
        + HEADER
        + AUTH
        + (
            "  - set: {likes: likes + 1}\n"
            "  - call: users.self\n"
            "    extract: {likes: $.data.counts.media}\n"
        )
    )
    assert messages(text) == [
        "p.yml:7:15: 'likes' is already defined at p.yml:1:8; use `set` to update it"
    ]
    found = messages(
        HEADER + AUTH + "  - call: users.self\n    extract: {x: $.data}\n", external_names=["x"]
    )
    assert found == [
        "p.yml:5:15: 'x' is already defined outside the playbook (--var or "
        "--vars-file); use `set` to update it"
    ]


def test_vars_read_earlier_vars_only() -> None:
    text = "vars:\n  a: '{{ b }}'\n  b: 1\n  c: '{{ b }}'\n" + HEADER + "  - log: hi\n"
    assert messages(text) == [
        "p.yml:2:6: 'b' is used before it is defined (it is defined in vars later, at p.yml:3:3)"
    ]


def test_step_references() -> None:
    text = (
        HEADER
        + AUTH
        + (
            "  - log: '{{ steps.later.status }}'\n"
            "  - id: later\n    call: users.self\n"
            "  - assert: steps['later'].status == 'ok' and steps.latr\n"
        )
    )
    assert messages(text) == [
        "p.yml:4:10: steps.later refers to a step that has not run yet (it is at p.yml:5:5)",
        "p.yml:7:13: steps.latr: there is no earlier step with id 'latr'; did you mean 'later'?",
    ]


def test_expressions_are_not_templates() -> None:
    text = HEADER + "  - set: {x: '{{ 1 }}'}\n  - log: hi\n    when: ' {{ true }} '\n"
    assert messages(text) == [
        "p.yml:3:14: write the set expression without {{ }}: `1`",
        "p.yml:5:11: write the when expression without {{ }}: `true`",
    ]


def test_multiline_template_error_points_at_its_line() -> None:
    text = HEADER + "  - log: |\n      one\n      two {{ x + }}\n"
    [message] = messages(text)
    assert message.startswith("p.yml:5:7: invalid template")


def test_param_literals_and_enums() -> None:
    text = (
        HEADER + "  - call: oembed.get\n"
        "    with: {url: u, maxwidth: 1.5, omitscript: 'yes', hidecaption: true}\n"
    )
    assert messages(text) == [
        "p.yml:4:30: 'maxwidth' must be an integer, got number",
        "p.yml:4:47: 'omitscript' must be true or false, got string",
    ]
    text = (
        HEADER + AUTH + "  - call: relationships.update\n"
        "    with: {user_id: 1, action: '{{ a }}'}\n"
    )
    assert messages(text, external_names=["a"]) == [
        "p.yml:4:11: relationships.update needs scope 'relationships', but the authorize step at "
        "p.yml:3:5 did not request it (add it to scopes, or expect OAuthPermissionsException)"
    ]


def test_params_on_an_endpoint_without_params() -> None:
    text = HEADER + "  - call: subscriptions.list\n    with: {x: 1}\n"
    assert messages(text) == [
        "p.yml:4:12: unknown param 'x' for subscriptions.list (it takes no params)"
    ]


def test_check_playbook_raises_with_issues_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text(HEADER + "  - call: likes.delte\n", encoding="utf-8")
    with pytest.raises(PlaybookValidationError) as caught:
        check_playbook(str(path))
    error = caught.value
    assert len(error.issues) == 1 and error.exit_code == 2
    assert error.lines[2] == "  - call: likes.delte"  # type: ignore[attr-defined]
    assert "did you mean 'likes.delete'" in error.issues[0].message


def test_diagnose_turns_syntax_errors_into_one_issue(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("a: b: c\n", encoding="utf-8")
    diagnosis = diagnose_playbook(str(path))
    assert not diagnosis.ok
    assert [i.message for i in diagnosis.issues] == ["mapping values are not allowed here"]
    assert diagnosis.lines == ["a: b: c"]


def test_format_issue_renders_source_and_caret() -> None:
    issue = Issue(SourceLocation("p.yml", 2, 9), "unknown endpoint")
    assert format_issue(issue, ["igflow: 1", "  call:\tx"]) == (
        "p.yml:2:9: unknown endpoint\n      call: x\n            ^"
    )
    assert format_issue(issue, []) == "p.yml:2:9: unknown endpoint"
    assert format_issue(Issue(SourceLocation("p.yml", 9, 1), "m"), ["a"]) == "p.yml:9:1: m"


def test_schema_describes_every_property() -> None:
    schema = playbook_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["$id"]

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub or "$ref" in sub, f"{where}.{name} has no description"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}[{i}]")

    walk(schema, "$")


# --- robustness: mangled playbooks give issues, never a crash ------------------------------

GOOD_DIR = Path(__file__).resolve().parents[1] / "playbooks" / "good"
_TOKENS = [
    ":",
    "-",
    " ",
    "{",
    "}",
    "[",
    "]",
    "{{",
    "}}",
    "\n",
    "'",
    '"',
    "*a",
    "&a",
    "<<",
    "1",
    "null",
    "true",
    "steps",
    "call",
    "with",
    "extract",
    "$",
    "[*]",
    "assert",
    "when",
    "?",
]
_VALUES: list[object] = [
    None,
    1,
    2.5,
    True,
    "",
    "{{ x }}",
    "{{",
    "$.a[",
    [],
    [1],
    {},
    {"a": 1},
    {"path": 1},
    [None],
]


def _compile_never_crashes(text: str) -> None:
    from igflow.errors import IgflowError

    # a PlaybookSyntaxError is the expected outcome for broken YAML
    with contextlib.suppress(IgflowError):
        compile_playbook(load_playbook_text(text, "f.yml"))


@pytest.mark.parametrize("seed", range(4))
def test_mangled_text_never_crashes(seed: int) -> None:
    import random

    rng = random.Random(seed)
    sources = [p.read_text(encoding="utf-8") for p in sorted(GOOD_DIR.glob("*.yml"))]
    for _ in range(150):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text) + 1)
            text = text[:i] + rng.choice(_TOKENS) + text[i + rng.randint(0, 6) :]
        _compile_never_crashes(text)


@pytest.mark.parametrize("seed", range(3))
def test_mistyped_values_never_crash(seed: int) -> None:
    import copy
    import random

    import yaml

    rng = random.Random(seed)
    documents = [
        yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(GOOD_DIR.glob("*.yml"))
    ]
    for _ in range(60):
        data = copy.deepcopy(rng.choice(documents))
        for _ in range(rng.randint(1, 3)):
            parent: object = data
            while True:  # walk down to a random container
                keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))  # type: ignore[arg-type]
                key = rng.choice(keys) if keys else None
                child = parent[key] if key is not None else None  # type: ignore[index]
                if key is None or not isinstance(child, dict | list) or rng.random() < 0.3:
                    break
                parent = child
            if key is not None:
                parent[key] = copy.deepcopy(rng.choice(_VALUES))  # type: ignore[index]
        _compile_never_crashes(yaml.safe_dump(data))
