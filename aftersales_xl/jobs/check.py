"""The validate job: check many workbooks (folders expanded) one by one, and write the
annotated copies asked for.

One file's check is :func:`aftersales_xl.checking.validate.check_file` (a filled daily report
goes to :func:`aftersales_xl.checking.daily_rules.check_daily_file`); this module isolates one
file's surprise from the run, names the copies so that none overwrites another, and turns a copy
that cannot be written into a note on its file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

from ..checking.daily_rules import check_daily_file
from ..checking.validate import Checked, check_file, shown_path
from ..config import Policy
from ..findings import FileReport, Report, make_finding
from ..forms import FormSpec, load_form
from ..messages import localise
from ..reading.marker import read_marker
from ..reading.opening import Reading, expand_paths
from ..reading.workbook import FormSheet
from ..workcal import WorkCalendar


# -- many files -------------------------------------------------------------------------------
def check_paths(
    paths: Iterable[str | Path],
    form: FormSpec,
    policy: Policy,
    *,
    lang: str = "zh",
    now: datetime | None = None,
    annotate_dir: Path | None = None,
    annotate_only_failed: bool = False,
    on_file: Callable[[Path], None] | None = None,
    debug: bool = False,
    calendar: WorkCalendar | None = None,
    early: Reading | None = None,
    daily_reports: bool = False,
) -> Iterator[Checked]:
    """Check every workbook (folders expanded), yielding one :class:`Checked` per file.

    One file's failure never stops the others: an unexpected error in one file is reported
    as ``unreadable`` for that file (re-raised with ``debug=True``). With ``annotate_dir``,
    an annotated copy is written for every readable file (or only those with errors); a
    copy that cannot be written is a note on its file and sets ``write_failed``. Inputs
    whose copies would share a name (``a/x.xlsx`` and ``b/x.xlsx``, ``x.xls`` and ``x.ods``)
    get ``x (2).checked.xlsx``… in order, with a note saying so.
    ``calendar``: one working calendar for the run (see :func:`check_file`). ``early``: a
    reading of one of the files begun beforehand (:func:`aftersales_xl.reading.opening.start`).
    ``daily_reports``: a workbook with the daily report's marker is checked as a filled
    系统监控日报表 (:func:`~aftersales_xl.checking.daily_rules.check_daily_file`) instead of as
    a record form (validate does this; merge does not, a report is not a submission).
    """
    copy_names: dict[str, Path] = {}  # casefolded copy name -> the input that has it
    daily = load_form("daily") if daily_reports else None  # merge never needs it
    for path in expand_paths(list(paths)):
        if on_file:
            on_file(path)
        try:
            if daily is not None and read_marker(path) == daily.marker:  # a filled 系统监控日报表
                checked = check_daily_file(path, daily, policy, lang=lang)
            else:
                checked = check_file(
                    path, form, policy, lang=lang, now=now, calendar=calendar, reading=early
                )
        except Exception as e:  # noqa: BLE001 - isolate one file's surprise from the run
            if debug:
                raise
            checked = Checked(
                FileReport(
                    path=shown_path(path),
                    form=None,
                    unreadable=True,
                    findings=[
                        make_finding(
                            "unreadable",
                            lang,
                            detail=localise(_TEXT, "internal-error", lang, error=type(e).__name__),
                        )
                    ],
                )
            )
        is_daily = (
            daily is not None
            and checked.report.form == daily.name
            and not checked.report.unreadable
        )
        if (
            annotate_dir is not None
            and (checked.sheet is not None or is_daily)
            and (checked.report.errors or not annotate_only_failed)
        ):
            from ..writing.annotate import (
                LABELS,
                annotated_name,
                input_kind,
                not_carried_over,
                write_annotated,
            )

            cells = _cells_to_load(checked.sheet) if checked.sheet is not None else 0
            limit = policy.limits["max_annotate_cells"]
            if cells > limit:  # openpyxl needs about 0.75 KB per cell it loads
                checked.report.write_failed = True
                checked.report.notes.append(
                    localise(_TEXT, "too-large-to-annotate", lang, cells=cells, limit=limit)
                )
                yield checked
                continue

            # a phone or email in the input's name is masked in the copy's name
            name, number = annotated_name(path), 1
            while name.casefold() in copy_names:
                number += 1
                name = annotated_name(path, number)
            copy_names[name.casefold()] = path
            if number > 1:
                taken = annotated_name(path)
                checked.report.notes.append(
                    LABELS.get(lang, LABELS["zh"])["renamed"].format(
                        name=name, taken=taken, other=shown_path(copy_names[taken.casefold()])
                    )
                )
            try:
                annotate_dir.mkdir(parents=True, exist_ok=True)
                out = write_annotated(
                    path,
                    checked.report.findings,
                    annotate_dir,
                    lang=lang,
                    checked_at=now,
                    masked=(
                        masked_cells(checked.sheet, form, policy, lang)
                        if checked.sheet is not None
                        else {}
                    ),
                    kind=checked.sheet.kind if checked.sheet is not None else None,
                    name=name,
                )
            except Exception as e:  # noqa: BLE001 - a copy that cannot be written never stops the run
                if debug:
                    raise
                checked.report.write_failed = True
                checked.report.notes.append(
                    localise(
                        _TEXT,
                        "copy-not-written",
                        lang,
                        error=type(e).__name__,
                        detail=str(e)[:120],
                    )
                )
            else:
                checked.report.annotated = shown_path(out)
                kind = checked.sheet.kind if checked.sheet is not None else input_kind(path)
                lost = not_carried_over(kind, lang, src=path)
                if lost:
                    separator = localise(_TEXT, "list-separator", lang)
                    checked.report.notes.append(
                        localise(_TEXT, "not-carried-over", lang, items=separator.join(lost))
                    )
        yield checked


def _cells_to_load(sheet: FormSheet) -> int:
    """How many cells openpyxl would load to annotate the workbook: the used areas of all its
    sheets from the safety scan (formatted empty rows included), at least the record table."""
    scanned = sum(s.max_row * s.max_col for s in sheet.inspection.sheets)
    return max(scanned, (sheet.header_row + len(sheet.frame)) * max(len(sheet.columns), 1))


def masked_cells(
    sheet: FormSheet, form: FormSpec, policy: Policy, lang: str = "zh"
) -> dict[tuple[str, str], str]:
    """``(sheet, "A1")`` → masked text, as ``xlcheck mask`` writes it, for every contact,
    name and free-text cell of the form's table and for the record sheet's cells outside
    it (unknown or second columns, rows above the header): a second 联系人 column is masked
    as names, which the annotated copy's own redaction could not find."""
    from ..masking import mask_frame
    from .mask import masked_outside_form

    _masked, changes, _counts = mask_frame(sheet.frame, form, policy)
    cells = {sheet.cell(key, row): text for (row, key), text in changes.items()}
    if sheet.part is not None:
        cells = masked_outside_form(sheet.path, sheet, form, policy, lang) | cells
    else:  # .xls/.ods/.xlsb: mask.py patches .xlsx only; a second 联系人/联系方式 column here
        cells = _masked_second_columns(sheet, form, policy) | cells
    out = {(sheet.sheet, ref): text for ref, text in cells.items()}
    return masked_names_elsewhere(sheet, form, policy) | out


def masked_names_elsewhere(
    sheet: FormSheet, form: FormSpec, policy: Policy
) -> dict[tuple[str, str], str]:
    """``(sheet, "A1")`` → masked name for the cells under a 姓名/联系人-like header on the
    workbook's *other* sheets (hidden ones too): names cannot be recognised by pattern, so
    the annotated copy's own redaction would keep them."""
    import python_calamine as pc
    from openpyxl.utils import get_column_letter

    from ..jobs.mask import name_columns
    from ..masking import NAME, mask_value

    others = [s.name for s in sheet.inspection.sheets if s.name != sheet.sheet and s.max_row > 0]
    if not others:
        return {}
    out: dict[tuple[str, str], str] = {}
    try:
        book = pc.CalamineWorkbook.from_path(str(sheet.path))
    except Exception:  # noqa: BLE001 - read a moment ago; the copy's own redaction still runs
        return {}
    try:
        for name in others:
            try:
                grid = book.get_sheet_by_name(name)
            except Exception:  # noqa: BLE001 - a chart sheet, a sheet calamine cannot read
                continue
            rows = grid.to_python(skip_empty_area=False)
            for r, c in name_columns(rows, form, name):
                value = rows[r][c]
                masked = mask_value(NAME, value, policy)
                if masked and masked != value:
                    out[(name, f"{get_column_letter(c + 1)}{r + 1}")] = masked
    finally:
        book.close()
    return out


def _masked_second_columns(sheet: FormSheet, form: FormSpec, policy: Policy) -> dict[str, str]:
    """``"A1"`` → masked text for the columns of a value-only workbook's record sheet that
    repeat a name or contact field (free text elsewhere is redacted by the copy itself)."""
    from openpyxl.utils import get_column_letter

    from ..masking import mask_value
    from ..pii import cell_text
    from ..writing.annotate import read_values

    found = next((s for s in read_values(sheet.path) if s.name == sheet.sheet), None)
    at = sheet.header_row - found.first_row if found is not None else -1
    if found is None or not 0 <= at < len(found.rows):
        return {}
    mapped, out = set(sheet.columns.values()), {}
    for i, label in enumerate(found.rows[at]):
        col = found.first_col - 1 + i  # 0-based physical column
        key = next(iter(form.match_headers([label])), None) if col not in mapped else None
        check = form.field(key).check if key is not None else None
        if check not in ("masked-name", "masked-contact"):
            continue
        for r, row in enumerate(found.rows[at + 1 :], start=sheet.header_row + 1):
            value = row[i] if i < len(row) else None
            masked = mask_value(check, value, policy)
            if masked and masked != cell_text(value):
                out[f"{get_column_letter(col + 1)}{r}"] = masked
    return out


def validate_paths(
    paths: Iterable[str | Path], form: FormSpec, policy: Policy, **options
) -> Report:
    """Validate every workbook and return the report (options as for :func:`check_paths`).

    One working calendar serves the whole run; its warnings (a year without holiday data)
    are the report's run-level ``notes``, given once however many files touch that year.
    """
    calendar = options.pop("calendar", None) or WorkCalendar.from_policy(policy)
    options.setdefault("daily_reports", True)
    lang = options.get("lang", "zh")
    files = [c.report for c in check_paths(paths, form, policy, calendar=calendar, **options)]
    return Report(files, notes=calendar.warning_messages(lang))


_TEXT: dict[str, dict[str, str]] = {
    "internal-error": {
        "zh": "内部错误（{error}），请加 --debug 重跑并报告",
        "en": "internal error ({error}); rerun with --debug and report it",
    },
    "too-large-to-annotate": {
        "zh": "表格太大（约 {cells:,} 个单元格，批注副本上限 {limit:,}），未写批注副本："
        "请删除表格下方多余的空行和格式，或分成几个文件提交",
        "en": "too large for an annotated copy (about {cells:,} cells, limit "
        "{limit:,}): delete the empty formatted rows below the table, or split the file",
    },
    "copy-not-written": {
        "zh": "批注副本未能写出（{error}）：{detail}",
        "en": "the annotated copy could not be written ({error}): {detail}",
    },
    "not-carried-over": {
        "zh": "批注副本未带入：{items}",
        "en": "not carried over into the annotated copy: {items}",
    },
    "list-separator": {"zh": "；", "en": "; "},
}
