"""The committed sample workbooks exist, match what make_samples.py writes, and 06 is LibreOffice's."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from builders import workbook_values

SAMPLES = Path(__file__).resolve().parent.parent / "sample_workbooks"
EXPECTED = [
    "01_clean.xlsx",
    "02_title_row.xlsx",
    "03_bad_lists_and_dates.xlsx",
    "04_unmasked_contacts.xlsx",
    "05_status_and_time.xlsx",
    "06_libreoffice_saved.xlsx",
    "07_text_dates.xlsx",
    "08_renamed_csv.xlsx",
]
WORKBOOKS = [n for n in EXPECTED if n != "08_renamed_csv.xlsx"]


def _load_make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_samples() -> ModuleType:
    return _load_make_samples()


@pytest.fixture(scope="module")
def regenerated(make_samples: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All samples freshly written by make_samples.py (06 as openpyxl wrote it, before LibreOffice)."""
    out = tmp_path_factory.mktemp("samples")
    make_samples.write_samples(out, libreoffice=False)
    return out


def test_every_sample_is_committed_and_listed(make_samples: ModuleType) -> None:
    assert list(make_samples.WRITERS) == EXPECTED
    for name in EXPECTED:
        path = SAMPLES / name
        assert path.is_file(), f"{name} missing: run python sample_workbooks/make_samples.py"
        assert path.stat().st_size < 50_000


@pytest.mark.parametrize("name", WORKBOOKS)
def test_sample_is_small_record_workbook(name: str) -> None:
    values = workbook_values(SAMPLES / name)
    assert list(values) == ["问题记录表"]
    rows = values["问题记录表"]
    header = next(
        i for i, row in enumerate(rows) if "问题描述" in "".join(str(v) for v in row if v)
    )
    records = [row for row in rows[header + 1 :] if any(v is not None for v in row)]
    assert 5 <= len(records) <= 20


@pytest.mark.parametrize("name", WORKBOOKS)
def test_sample_regenerates_with_same_content(name: str, regenerated: Path) -> None:
    assert workbook_values(regenerated / name) == workbook_values(SAMPLES / name)


def test_renamed_csv_regenerates_and_is_not_a_workbook(regenerated: Path) -> None:
    committed = SAMPLES / "08_renamed_csv.xlsx"
    assert (regenerated / "08_renamed_csv.xlsx").read_bytes() == committed.read_bytes()
    assert not zipfile.is_zipfile(committed)
    assert committed.read_text("utf-8-sig").startswith("问题编号,客户名称/编号,")


def test_libreoffice_sample_was_saved_by_libreoffice() -> None:
    with zipfile.ZipFile(SAMPLES / "06_libreoffice_saved.xlsx") as zf:
        app = zf.read("docProps/app.xml").decode("utf-8")
    assert "<Application>LibreOffice" in app


def test_libreoffice_resave_regenerates_06(
    make_samples: ModuleType, tmp_path: Path, soffice: str
) -> None:
    written = make_samples.write_samples(tmp_path, libreoffice=True)
    fresh = tmp_path / "06_libreoffice_saved.xlsx"
    assert fresh in written
    with zipfile.ZipFile(fresh) as zf:
        assert "LibreOffice" in zf.read("docProps/app.xml").decode("utf-8")
    assert workbook_values(fresh) == workbook_values(SAMPLES / "06_libreoffice_saved.xlsx")


def test_samples_hold_only_fake_contacts() -> None:
    """Every phone-like value is a 138-0013-800x test number; every email is @example.com."""
    from aftersales_xl.pii import find_pii

    for name in WORKBOOKS:
        for rows in workbook_values(SAMPLES / name).values():
            for row in rows:
                for value in row:
                    for m in find_pii(str(value)) if value is not None else ():
                        digits = "".join(c for c in m.text if c.isdigit())
                        assert m.kind in ("mobile", "email"), (name, m.kind)
                        assert m.text.endswith("@example.com") or digits.startswith("1380013800"), (
                            name
                        )
