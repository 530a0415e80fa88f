"""Hypothesis strategies for playbook texts: plausible, broken, hostile, and plain garbage.

The generated documents mix real registry endpoints, parameters and scopes with wrong types,
unknown keys, Jinja (valid, broken, and sandbox escapes), JSONPaths (valid and broken), every
step modifier in random places, unicode, deep nesting, anchors and aliases (alias bombs
included), merge keys and YAML tags. Data is dumped with PyYAML in random styles, then the text
is sometimes mutated character by character.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

from igflow.errors import EXPECTABLE
from igflow.registry import load_registry

REGISTRY = load_registry("instagram.v1")
ENDPOINT_IDS = sorted(REGISTRY.endpoints)
PARAM_NAMES = sorted({name for e in REGISTRY.endpoints.values() for name in e.params})
SCOPES = sorted(REGISTRY.scopes)

STEP_KEYS = [
    "id",
    "name",
    "when",
    "authorize",
    "call",
    "with",
    "set",
    "assert",
    "log",
    "write",
    "extract",
    "expect_error",
    "on_error",
    "timeout",
    "foreach",
    "as",
    "concurrency",
    "paginate",
    # Keys of the safe-writes work (issue 5), present or not in this version of the language.
    "retry",
    "max_writes",
    "confirm",
]
TOP_KEYS = [
    "igflow",
    "name",
    "description",
    "api",
    "target",
    "env",
    "vars",
    "secrets",
    "steps",
    "outputs",
]


# --- scalars that PyYAML cannot dump on its own ------------------------------------------


class Raw:
    """A scalar written exactly as ``text`` with ``tag`` (huge ints, odd floats, custom tags)."""

    def __init__(self, text: str, tag: str) -> None:
        self.text = text
        self.tag = tag


class _Dumper(yaml.SafeDumper):
    pass


def _represent_raw(dumper: yaml.SafeDumper, raw: Raw) -> yaml.Node:
    return dumper.represent_scalar(raw.tag, raw.text)


_Dumper.add_representer(Raw, _represent_raw)

INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
RAW_SCALARS = st.one_of(
    st.integers(min_value=4290, max_value=6000).map(lambda n: Raw("9" * n, INT)),
    st.sampled_from(
        [
            Raw("1.0e+400", FLOAT),
            Raw("-1.0e+400", FLOAT),
            Raw(".nan", FLOAT),
            Raw(".inf", FLOAT),
            Raw("0x" + "f" * 5000, INT),
            Raw("0b" + "1" * 20000, INT),
            Raw("1_000_000", INT),
            Raw("190:20:30", INT),  # YAML 1.1 sexagesimal
            Raw("2018-04-04", "tag:yaml.org,2002:timestamp"),
            Raw("2001-12-14t21:59:43.10-05:00", "tag:yaml.org,2002:timestamp"),
            Raw("2001-13-45", "tag:yaml.org,2002:timestamp"),
            Raw("aGVsbG8=", "tag:yaml.org,2002:binary"),
            Raw("not base64!", "tag:yaml.org,2002:binary"),
            Raw("os.system", "tag:yaml.org,2002:python/name:os.system"),
            Raw("x", "tag:yaml.org,2002:python/object/apply:os.system"),
            Raw("x", "!custom"),
            Raw("x", "tag:yaml.org,2002:set"),
            Raw("x", "tag:yaml.org,2002:omap"),
            Raw("true", "tag:yaml.org,2002:bool"),
            Raw("maybe", "tag:yaml.org,2002:bool"),
            Raw("~", "tag:yaml.org,2002:null"),
        ]
    ),
)

TEXT = st.text(max_size=20)
WEIRD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "\n",
        "a\nb",
        "\u202e",
        "\u2028",
        "\x85",
        "\ufeff",
        "\x7f",
        "💥",
        "é" * 3,
        "null",
        "~",
        "yes",
        "no",
        "on",
        "0o17",
        "- a",
        "a: b",
        "#",
        "&a",
        "*a",
        "!tag",
        "%YAML",
        "---",
        "...",
        "x" * 5000,
        "{{",
        "}}",
        "{%",
        "'",
        '"',
        "\\",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    TEXT,
    WEIRD_TEXT,
    RAW_SCALARS,
)
ANY = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(TEXT, WEIRD_TEXT), inner, max_size=4),
    ),
    max_leaves=12,
)


# --- names, Jinja, JSONPath ------------------------------------------------------------------

NAMES = st.one_of(
    st.sampled_from(
        [
            "media_id",
            "likes",
            "ids",
            "item",
            "loop",
            "env",
            "steps",
            "x",
            "y",
            "user",
            "data",
            "_",
            "a1",
            "média",
            "1bad",
            "",
            "true",
            "none",
            "self",
            "range",
            "namespace",
            "cycler",
            "joiner",
            "dict",
            "lipsum",
            "__class__",
        ]
    ),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)
FILTERS = [
    "length",
    "list",
    "unique",
    "sort",
    "first",
    "last",
    "sum",
    "int",
    "float",
    "string",
    "tojson",
    "to_json",
    "flatten",
    "from_epoch",
    "epoch_to_iso",
    "dictsort",
    "reverse",
    "join(',')",
    "default('d')",
    "select",
    "select('regex_search', '(a+)+$')",
    "regex_search('[')",
    "regex_replace('(', 'x')",
    "regex_match('^a', ignorecase=true)",
    "difference([1])",
    "intersect(x)",
    "zip([1], [2])",
    "subelements('data')",
    "map(attribute='id')",
    "selectattr('id', 'regex_search', 'x')",
    "attr('__class__')",
    "format('%s%s')",
    "random",
    "nosuchfilter",
    "truncate(-1)",
    "center(10**9)",
    "indent(10**8)",
    "batch(0)",
    "slice(0)",
    "round(-10**9)",
    "wordwrap(0)",
]
ESCAPES = [
    "''.__class__",
    "''.__class__.__mro__[1].__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "cycler.__init__.__globals__.os",
    "lipsum.__globals__",
    "self._TemplateReference__context",
    "namespace.__init__.__globals__",
    "x.__dict__",
    "range.__self__",
    "[].append(1)",
    "{}.update(a=1)",
    "{}.pop('x')",
    "'a' * 10**9",
    "[0] * 10**9",
    "9 ** 9 ** 9",
    "2 ** 10000000",
    "range(10**12) | list",
    "range(10**9) | length",
    "'%s' % ('x' * 1000000)",
    "'{0:>1000000000}'.format(1)",
    "'x'.ljust(10**9)",
    "(1, 2)[5]",
    "1 / 0",
    "1 // 0",
    "env.HOME",
    "env['NO_SUCH']",
    "steps.nosuch.status",
    "loop.index",
    "item.id",
    "none.x",
    "{'a': 1}.items()",
    "(x for x in y)",
    "lambda: 1",
]
LITERALS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False).map(repr),
    TEXT.map(repr),
    st.sampled_from(
        ["true", "false", "none", "[]", "{}", "[1, 'a', none]", "{'k': [1]}", "'9' * 3"]
    ),
)


def _combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    ops = st.sampled_from(
        [
            "+",
            "-",
            "*",
            "/",
            "//",
            "%",
            "**",
            "==",
            "!=",
            "<",
            ">=",
            "and",
            "or",
            "in",
            "not in",
            "~",
        ]
    )
    return st.one_of(
        st.tuples(inner, ops, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(inner, st.sampled_from(FILTERS)).map(lambda t: f"{t[0]} | {t[1]}"),
        st.tuples(
            inner,
            st.sampled_from(
                ["defined", "undefined", "none", "number", "regex_search('a')", "nosuchtest"]
            ),
        ).map(lambda t: f"{t[0]} is {t[1]}"),
        st.tuples(inner, NAMES).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        inner.map(lambda e: f"not {e}"),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"{e}()"),
        inner.map(lambda e: f"{e}[1:]"),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(TEXT, inner).map(lambda t: "{" + repr(t[0]) + ": " + t[1] + "}"),
    )


EXPRESSIONS = st.recursive(
    st.one_of(NAMES, LITERALS, st.sampled_from(ESCAPES)),
    _combine,
    max_leaves=6,
)
DEEP_EXPRESSIONS = st.integers(min_value=1, max_value=3000).flatmap(
    lambda n: st.sampled_from(
        [
            "(" * n + "1" + ")" * n,
            "[" * n + "]" * n,
            "not " * n + "x",
            "-" * n + "1",
            "x" + ".a" * n,
            "x" + "[0]" * n,
            " + ".join(["1"] * n),
            "x" + " | list" * n,
            "{'a': " * n + "1" + "}" * n,
        ]
    )
)
BROKEN_EXPRESSIONS = st.one_of(
    EXPRESSIONS.flatmap(lambda e: st.integers(0, len(e)).map(lambda i: e[:i])),
    st.sampled_from(
        [
            "(",
            ")",
            "[1,",
            "a |",
            "| a",
            "a..b",
            "a.",
            "1 +",
            "'unclosed",
            '"unclosed',
            "{{ a }}",
            "{% if a %}",
            "a }}",
            "a %}",
            "{# a",
            "a is",
            "a if b",
            "*a",
            "**a",
            "a = 1",
            "a; b",
            "@",
            "$",
            "`",
            "\x00",
            "a\nb",
            "a\n\n  |",
        ]
    ),
)
ANY_EXPRESSION = st.one_of(EXPRESSIONS, BROKEN_EXPRESSIONS, DEEP_EXPRESSIONS, TEXT)


def _template_part() -> st.SearchStrategy[str]:
    return st.one_of(
        TEXT,
        ANY_EXPRESSION.map(lambda e: "{{ " + e + " }}"),
        ANY_EXPRESSION.map(lambda e: "{{" + e + "}}"),
        ANY_EXPRESSION.map(lambda e: "{%- if " + e + " %}y{% else %}n{% endif -%}"),
        ANY_EXPRESSION.map(lambda e: "{% for v in " + e + " %}{{ v }}{% endfor %}"),
        ANY_EXPRESSION.map(lambda e: "{% set z = " + e + " %}{{ z }}"),
        st.sampled_from(
            [
                "{{",
                "}}",
                "{%",
                "%}",
                "{#",
                "#}",
                "{{ }}",
                "{% %}",
                "{% endif %}",
                "{% raw %}{{ x }}{% endraw %}",
                "{% raw %}",
                "{% macro m() %}{% endmacro %}{{ m() }}",
                "{% include 'x' %}",
                "{% import 'os' as os %}",
                "{% extends 'x' %}",
                "{% filter upper %}x{% endfilter %}",
                "{% block b %}{% endblock %}",
                "{{ caller() }}",
                "{% call m() %}{% endcall %}",
                "{% do x %}",
                "{% break %}",
                "{%+ x +%}",
            ]
        ),
    )


TEMPLATES = st.one_of(
    ANY_EXPRESSION.map(lambda e: "{{ " + e + " }}"),
    st.lists(_template_part(), min_size=1, max_size=4).map("".join),
)

_PATH_STEPS = st.sampled_from(
    [
        ".data",
        ".id",
        ".likes.count",
        ".caption.text",
        "[*]",
        "[0]",
        "[-1]",
        "[1:3]",
        "[::2]",
        "..id",
        "..*",
        ".*",
        "[?(@.likes.count > 1)]",
        "[?(@.id == 'x')]",
        "[?(@.x =~ '(a+)+$')]",
        ".`len`",
        ".`this`",
        ".`parent`",
        "[0,1]",
        "['a','b']",
        ".'quoted key'",
        " | $.x",
        " where id",
        " wherenot id",
        ".true_count",
        "[\\x]",
        ".é",
        "[/id]",
        "[\\id]",
        ".data[*] + 1",
        ".a.b.c",
    ]
)
JSONPATHS = st.one_of(
    st.lists(_PATH_STEPS, max_size=6).map(lambda parts: "$" + "".join(parts)),
    st.lists(_PATH_STEPS, min_size=1, max_size=6).map(lambda parts: "".join(parts).lstrip(".")),
    st.integers(min_value=1, max_value=3000).flatmap(
        lambda n: st.sampled_from(
            [
                "$" + ".a" * n,
                "$" + "[0]" * n,
                "$" + "[*]" * n,
                "$" + "..a" * n,
                "(" * n + "$" + ")" * n,
            ]
        )
    ),
    st.sampled_from(
        ["$", "@", "", " ", "$.", "$[", "$]", "$..", "$[?(", "$.[*", "$$", "$.a[", "[", "'"]
    ),
    TEXT,
)


# --- steps and documents -------------------------------------------------------------------


def _maybe_template(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, TEMPLATES, ANY)


ENDPOINT = st.one_of(
    st.sampled_from(ENDPOINT_IDS),
    st.sampled_from(ENDPOINT_IDS).map(lambda e: e[:-1]),
    st.sampled_from(ENDPOINT_IDS).map(str.upper),
    TEXT,
    ANY,
)
PARAM_VALUES = st.one_of(
    SCALARS,
    TEMPLATES,
    st.sampled_from(
        [
            "{{ media_id }}",
            "{{ ids }}",
            "{{ item }}",
            "{{ item.id }}",
            "{{ loop.index }}",
            "1_2",
            "-1",
        ]
    ),
    ANY,
)
WITH = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(PARAM_NAMES), TEXT), PARAM_VALUES, max_size=5),
    ANY,
)
EXPECT = st.one_of(
    st.sampled_from(sorted(EXPECTABLE)),
    st.sampled_from(["IgflowError", "Exception", "ApiErr", "oauthpermissionsexception", ""]),
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(sorted(EXPECTABLE)), ANY)},
        optional={"message": st.one_of(TEXT, ANY), "extra": ANY},
    ),
    ANY,
)
AUTHORIZE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "scopes": st.one_of(
                st.lists(st.one_of(st.sampled_from(SCOPES), TEXT, ANY), max_size=7), ANY
            ),
            "user": _maybe_template(st.sampled_from(["grantwinney", "{{ env.IG_USER }}"])),
            "password": _maybe_template(TEXT),
            "client": _maybe_template(st.sampled_from(["default", "live", "signed", "nosuch"])),
            "token": _maybe_template(st.sampled_from(["{{ env.IG_TOKEN }}", "tok", ""])),
            "extra": ANY,
        },
    ),
    ANY,
)
EXTRACTION = st.one_of(
    JSONPATHS,
    st.fixed_dictionaries({"path": JSONPATHS}, optional={"default": ANY, "extra": ANY}),
    st.fixed_dictionaries({}, optional={"default": ANY}),
    ANY,
)
WRITE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "path": _maybe_template(
                st.sampled_from(["out.json", "out.jsonl", "out.csv", "out.txt", "", "/", ".json"])
            ),
            "value": _maybe_template(st.just("{{ ids }}")),
            "format": st.one_of(st.sampled_from(["json", "jsonl", "csv", "xml", ""]), ANY),
            "columns": st.one_of(st.lists(st.one_of(TEXT, ANY), max_size=3), ANY),
            "extra": ANY,
        },
    ),
    ANY,
)
PAGINATE = st.one_of(
    st.booleans(),
    st.fixed_dictionaries(
        {},
        optional={
            "max_pages": st.one_of(st.integers(-2, 10**20), ANY),
            "max_items": st.one_of(st.integers(-2, 10**20), ANY),
            "extra": ANY,
        },
    ),
    ANY,
)

STEP_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(NAMES, ANY),
    "name": st.one_of(TEXT, TEMPLATES, ANY),
    "when": st.one_of(ANY_EXPRESSION, st.booleans(), ANY),
    "authorize": AUTHORIZE,
    "call": ENDPOINT,
    "with": WITH,
    "set": st.one_of(
        st.dictionaries(NAMES, st.one_of(ANY_EXPRESSION, SCALARS), max_size=4),
        ANY,
    ),
    "assert": st.one_of(ANY_EXPRESSION, st.lists(st.one_of(ANY_EXPRESSION, ANY), max_size=4), ANY),
    "log": st.one_of(TEMPLATES, ANY),
    "write": WRITE,
    "extract": st.one_of(st.dictionaries(NAMES, EXTRACTION, max_size=4), ANY),
    "expect_error": EXPECT,
    "on_error": st.one_of(st.sampled_from(["halt", "continue", "ignore"]), ANY),
    "timeout": st.one_of(st.floats(), st.integers(), ANY),
    "foreach": st.one_of(
        st.lists(PARAM_VALUES, max_size=4),
        ANY_EXPRESSION.map(lambda e: "{{ " + e + " }}"),
        TEMPLATES,
        ANY,
    ),
    "as": st.one_of(NAMES, ANY),
    "concurrency": st.one_of(st.integers(-5, 100), ANY),
    "paginate": PAGINATE,
    "retry": ANY,
    "max_writes": st.one_of(st.integers(-1, 10), ANY),
    "confirm": ANY,
}


@st.composite
def steps(draw: st.DrawFn) -> Any:
    """One step: usually one action plus a random handful of modifiers, sometimes junk."""
    if draw(st.integers(0, 19)) == 0:
        return draw(ANY)
    keys = draw(st.lists(st.sampled_from(STEP_KEYS), max_size=6, unique=True))
    action = draw(
        st.sampled_from(["authorize", "call", "call", "call", "set", "assert", "log", "write"])
    )
    if action not in keys and draw(st.integers(0, 9)) > 0:
        keys.insert(0, action)
    step = {key: draw(STEP_VALUES[key]) for key in keys}
    if draw(st.integers(0, 4)) == 0:
        step.update(draw(st.dictionaries(st.one_of(TEXT, WEIRD_TEXT), ANY, max_size=2)))
    return step


def _alias_bomb(depth: int, width: int) -> list[Any]:
    level: list[Any] = ["lol"]
    for _ in range(depth):
        level = [level] * width
    return level


# `env:` items: the names templates read (IG_USER, IG_TOKEN, HOME...), public or not, or junk.
_ENV_NAMES = st.one_of(st.sampled_from(["IG_USER", "IG_TOKEN", "HOME", "NO_SUCH"]), NAMES)
ENV_DECLARATION = st.one_of(
    _ENV_NAMES,
    st.fixed_dictionaries(
        {"name": st.one_of(_ENV_NAMES, ANY)},
        optional={"public": st.one_of(st.booleans(), ANY), "extra": ANY},
    ),
    ANY,
)


@st.composite
def playbooks(draw: st.DrawFn) -> dict[str, Any]:
    """A playbook document (a dict to dump): real structure, random contents."""
    the_steps = draw(st.lists(steps(), max_size=6))
    if the_steps and draw(st.booleans()):
        # The same object twice dumps as an anchor and an alias.
        the_steps.append(the_steps[draw(st.integers(0, len(the_steps) - 1))])
    doc: dict[str, Any] = {}
    values: dict[str, st.SearchStrategy[Any]] = {
        "igflow": st.one_of(st.just(1), st.just(1), ANY),
        "name": st.one_of(TEXT, ANY),
        "description": st.one_of(TEXT, ANY),
        "api": st.one_of(st.sampled_from(["instagram.v1", "instagram.v2"]), ANY),
        "target": st.one_of(
            st.sampled_from(
                [
                    "sandbox",
                    "http://fuzz.invalid",
                    "https://api.instagram.com/v1",
                    "ftp://x",
                    "http://",
                ]
            ),
            ANY,
        ),
        "vars": st.one_of(
            st.dictionaries(NAMES, st.one_of(PARAM_VALUES, TEMPLATES), max_size=4), ANY
        ),
        "secrets": st.one_of(st.lists(st.one_of(NAMES, ANY), max_size=3), ANY),
        "env": st.one_of(st.lists(ENV_DECLARATION, max_size=4), ANY),
        "steps": st.one_of(st.just(the_steps), st.just(the_steps), ANY),
        "outputs": st.one_of(
            st.dictionaries(NAMES, st.one_of(ANY_EXPRESSION, SCALARS), max_size=3), ANY
        ),
    }
    for key in TOP_KEYS:
        wanted = key in ("igflow", "steps") or draw(st.integers(0, 2)) == 0
        # Sometimes even the required keys are missing.
        if wanted and draw(st.integers(0, 14)) > 0:
            doc[key] = draw(values[key])
    if draw(st.integers(0, 5)) == 0:
        doc.update(draw(st.dictionaries(st.one_of(TEXT, WEIRD_TEXT), ANY, max_size=2)))
    if draw(st.integers(0, 14)) == 0:
        doc["vars"] = {"bomb": _alias_bomb(draw(st.integers(2, 9)), draw(st.integers(2, 12)))}
    if draw(st.integers(0, 14)) == 0:  # around the loader's nesting limit (MAX_DEPTH = 100)
        deep: Any = draw(SCALARS)
        for _ in range(draw(st.integers(90, 110))):
            deep = [deep] if draw(st.booleans()) else {"k": deep}
        doc[draw(st.sampled_from(["vars", "outputs", "steps"]))] = deep
    return doc


def dump(data: Any, flow: bool | None, width: int, unicode: bool) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        default_flow_style=flow,
        width=width,
        allow_unicode=unicode,
        sort_keys=False,
    )


@st.composite
def merged_playbooks(draw: st.DrawFn) -> str:
    """Steps built with merge keys (``<<: *base``) from anchored mappings."""
    bases = draw(
        st.lists(
            st.dictionaries(st.sampled_from(STEP_KEYS), ANY, max_size=3), min_size=1, max_size=3
        )
    )
    text = "igflow: 1\nx-bases:\n"
    for index, base in enumerate(bases):
        text += f"  - &b{index} " + dump(base, True, 10**6, True).strip() + "\n"
    text += "steps:\n"
    for step in draw(st.lists(steps(), min_size=1, max_size=4)):
        merge = draw(
            st.sampled_from(
                [
                    "*b0",
                    f"[{', '.join(f'*b{i}' for i in range(len(bases)))}]",
                    "*nosuch",
                    "[1, 2]",
                    "x",
                ]
            )
        )
        body = dump(step if isinstance(step, dict) else {"log": step}, False, 80, True)
        text += f"  - <<: {merge}\n" + "".join("    " + line + "\n" for line in body.splitlines())
    return text


MUTATION_CHARS = st.sampled_from(
    list("{}[]:-&*!|>'\"#%@`,?\t\n ")
    + ["\r", "\x00", "\ufeff", "\x85", "\u2028", "{{", "}}", "<<: *a", "\n- ", "\n  "]
)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """A few random character-level edits: YAML syntax errors of every kind."""
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(text)))
        edit = draw(st.integers(0, 4))
        if edit == 0:
            text = text[:where] + draw(MUTATION_CHARS) + text[where:]
        elif edit == 1:
            text = text[:where] + text[where + draw(st.integers(1, 20)) :]
        elif edit == 2:
            text = text[:where]
        elif edit == 3:
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines.insert(i, lines[i])
                text = "".join(lines)
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "   "])) + lines[i].lstrip(
                    " "
                )
                text = "".join(lines)
    return text


@st.composite
def playbook_texts(draw: st.DrawFn) -> str:
    """YAML text: a dumped playbook in a random style, a merge-key playbook, maybe mutated."""
    if draw(st.integers(0, 5)) == 0:
        text = draw(merged_playbooks())
    else:
        text = dump(
            draw(playbooks()),
            draw(st.sampled_from([False, False, True, None])),
            draw(st.sampled_from([80, 20, 10**6])),
            draw(st.booleans()),
        )
    if draw(st.integers(0, 3)) == 0:
        text = draw(mutated(text))
    return text


RAW_BYTES = st.one_of(
    st.binary(max_size=300),
    st.tuples(
        st.sampled_from(
            [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"igflow: 1\nsteps:\n  - log: "]
        ),
        st.binary(max_size=100),
    ).map(b"".join),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.text(max_size=50).map(lambda t: t.encode("utf-16")),
)
