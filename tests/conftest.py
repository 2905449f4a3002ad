"""Shared fixtures: the default policy and form, and a factory for real record workbooks.

``make_workbook(rows, name="records.xlsx", **options)`` writes into the test's ``tmp_path``
with :func:`builders.write_record_xlsx` (same options) and returns the path; ``rows`` defaults
to three valid records. Import row helpers directly: ``from builders import record_row``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from builders import record_rows, soffice_path, write_record_xlsx

from aftersales_xl.config import Policy, load_policy
from aftersales_xl.forms import FormSpec, load_form

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_workbooks"


@pytest.fixture
def policy() -> Policy:
    """The built-in default policy (never picks up an ``xlcheck.toml`` from the cwd)."""
    return load_policy(search_cwd=False)


@pytest.fixture
def form() -> FormSpec:
    """The record form spec (``schemas/record.toml``)."""
    return load_form()


@pytest.fixture
def make_workbook(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a real record workbook into ``tmp_path``; see the module docstring."""

    def make(
        rows: Sequence[Mapping[str, Any]] | None = None, name: str = "records.xlsx", **options: Any
    ) -> Path:
        return write_record_xlsx(
            tmp_path / name, record_rows(3) if rows is None else rows, **options
        )

    return make


@pytest.fixture
def samples_dir() -> Path:
    """The committed ``sample_workbooks/`` folder."""
    return SAMPLES


@pytest.fixture
def soffice() -> str:
    """Path of LibreOffice's ``soffice``; skips the test when LibreOffice is not installed."""
    exe = soffice_path()
    if exe is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    return exe
