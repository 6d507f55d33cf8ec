"""Jinja2 environment for every non-HDL text bitsmith writes (templates/ package)."""

from __future__ import annotations

import functools

import jinja2


@functools.cache
def environment() -> jinja2.Environment:
    # HTML templates (``*.html.j2``) escape what they insert: layer names come from the user
    return jinja2.Environment(loader=jinja2.PackageLoader("bitsmith.templates", ""),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True,
                              autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                                                  default_for_string=False))


def render(name: str, **context) -> str:
    """Render ``templates/<name>`` (e.g. ``"report.md.j2"``)."""
    return environment().get_template(name).render(**context)
