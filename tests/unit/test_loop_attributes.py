"""`loop.*` inside templates skips the sandbox's attribute checks (igflow.jinja_env.Sandbox
.getattr): the public attributes read as before, anything else is still checked."""

from __future__ import annotations

import pytest

from igflow.errors import TemplateRenderError
from igflow.templating import TemplateEngine


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine()


def test_the_loop_attributes_read_as_jinja_defines_them(engine: TemplateEngine) -> None:
    template = engine.compile_value(
        "{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
        "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.depth }}"
        "{{ loop.depth0 }}{{ loop.cycle('a', 'b') }}{{ loop.nextitem if not loop.last else '' }}"
        "{{ loop.changed(x) }};{% endfor %}"
    )
    assert template.render({"items": [7, 8]}) == ("1021TrueFalse210a8True;2110FalseTrue210bTrue;")


@pytest.mark.parametrize("attribute", ["_iterator", "__class__", "_after"])
def test_private_parts_of_the_loop_stay_out_of_reach(
    engine: TemplateEngine, attribute: str
) -> None:
    template = engine.compile_value("{% for x in [1] %}{{ loop." + attribute + " }}{% endfor %}")
    with pytest.raises(TemplateRenderError):
        template.render({})
