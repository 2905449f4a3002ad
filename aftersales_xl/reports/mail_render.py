"""The one jinja2 Environment every email body is rendered through: the privacy boundary of mail.

``autoescape=True`` escapes every value for HTML, and ``finalize`` passes every value a
template prints through :func:`aftersales_xl.pii.redact` first, so no phone number, email or
ID-card number reaches a body whatever the caller handed in (names are masked at the source).
The plain-text templates switch escaping off inside themselves (``{% autoescape false %}``);
redaction stays on, as ``finalize`` runs for every printed value.

Templates are ``templates/*.j2`` in the repository, installed as the package data
``aftersales_xl.templates`` and read with :mod:`importlib.resources`, so they are found in an
editable install (``pip install -e .``) and in a normal one alike.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from ..pii import redact

TEMPLATE_PACKAGE = "aftersales_xl.templates"


def redact_value(value: Any) -> Any:
    """``finalize``: None prints as nothing; everything else is redacted before escaping
    (text already marked safe stays safe, its text redacted too)."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return Markup(redact(str(value)))
    return redact(str(value))


def _load(name: str) -> tuple[str, None, Any]:
    source = resources.files(TEMPLATE_PACKAGE).joinpath(name)
    if not source.is_file():
        raise jinja2.TemplateNotFound(name)
    return source.read_text("utf-8"), None, lambda: True


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The mail Environment (built once): autoescape on, every printed value redacted."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=True,
        finalize=redact_value,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` (e.g. ``weekly.html.j2``) with ``context``."""
    return environment().get_template(name).render(**context)
