"""The hidden form marker of a workbook (``aftersales-xl:record:1``), read back cheaply.

:mod:`aftersales_xl.writing.template` writes it twice — the custom document property
``xlcheck-form`` and the workbook-level defined name ``_xlcheck_form`` — and both survive a
save in LibreOffice; here either is read with defusedxml, never more than a few MB a part.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from ..forms import MARKER_NAME, MARKER_PROPERTY

_MAX_XML_BYTES = 5 * 1024 * 1024  # read_marker reads no more than this per zip member


def read_marker(path: str | Path) -> str | None:
    """The form marker of a workbook (``aftersales-xl:record:1``), or None if it has none.

    Reads only ``docProps/custom.xml`` (property ``xlcheck-form``) and, failing that, the
    defined name ``_xlcheck_form`` in ``xl/workbook.xml``, parsed with defusedxml. Never
    raises for a bad, foreign or unreadable file: it simply has no marker.
    """
    if not Path(path).is_file():  # a FIFO or a device would block the open: no marker
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            return _marker_from_custom(zf) or _marker_from_names(zf)
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError):
        return None


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """A zip member's bytes, or None if absent or larger than the safe limit."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _MAX_XML_BYTES:
        return None
    with zf.open(info) as fh:
        data = fh.read(_MAX_XML_BYTES + 1)
    return None if len(data) > _MAX_XML_BYTES else data


def _elements(data: bytes | None, local_name: str) -> Iterator[Any]:
    """Elements named ``local_name`` (any namespace) in an XML part, safely parsed."""
    if not data:
        return
    try:
        root = fromstring(data)
    except (ParseError, DefusedXmlException, ValueError):
        return
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] == local_name:
            yield el


def _marker_from_custom(zf: zipfile.ZipFile) -> str | None:
    for prop in _elements(_read_member(zf, "docProps/custom.xml"), "property"):
        if prop.get("name") == MARKER_PROPERTY:
            for value in prop:
                if value.text and value.text.strip():
                    return value.text.strip()
    return None


def _marker_from_names(zf: zipfile.ZipFile) -> str | None:
    for name in _elements(_read_member(zf, "xl/workbook.xml"), "definedName"):
        if name.get("name") == MARKER_NAME and name.get("localSheetId") is None:
            formula = (name.text or "").strip().lstrip("=").strip()
            if len(formula) >= 2 and formula[0] == formula[-1] == '"':
                formula = formula[1:-1].replace('""', '"')
            return formula or None
    return None
