"""The portal's Jinja2 environment: templates shipped in the package, every value escaped."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from igflow.resources import package_data


@cache
def environment() -> jinja2.Environment:
    # The templates are the package's own (no user input is ever a template); autoescape is on,
    # so every value a visitor typed comes back as text, not markup.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(package_data("sandbox", "portal", "templates"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
