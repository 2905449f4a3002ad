"""``xlcheck``: thin click commands. Each parses options, calls one library function, renders, exits.

No pandas or openpyxl here. Library exceptions (:mod:`aftersales_xl.errors`) become one
line on stderr and exit 2; anything unexpected becomes one line plus a ``--debug`` hint.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import XlcheckError
from .messages import localise
from .pii import redact, redact_tree

EPILOG_EXIT = (
    "Exit codes: 0 done, no errors; 1 error findings; 2 bad usage, unreadable input "
    "or an output that could not be written."
)

#: what the commands themselves say, in Chinese and English (:func:`messages.localise`)
_TEXT: dict[str, dict[str, str]] = {
    "template-written": {"zh": "已生成模板：{path}", "en": "Template written: {path}"},
    "progress": {"zh": "校验中", "en": "checking"},
    "output-or-in-place": {
        "zh": "请二选一：-o 文件夹 或 --in-place",
        "en": "give either -o DIR or --in-place",
    },
    "no-workbooks": {"zh": "没有找到工作簿", "en": "no workbooks found in the given paths"},
}


# -- the one way out: everything the CLI prints passes here -----------------------------------
def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print ``text`` (stdout, or stderr with ``err``) with every phone number, email and
    ID-card number masked: the terminal's privacy boundary, whatever the caller built."""
    click.echo(redact(text), err=err, nl=nl)


def echo_json(data: Any) -> None:
    """Print ``data`` as the JSON document, every string in the tree redacted as :func:`echo`."""
    # the tree is redacted string by string; serialising it adds no data, so the document is
    # not scanned a second time as one long text
    click.echo(json.dumps(redact_tree(data), ensure_ascii=False, indent=2))


def common_options(f: Callable) -> Callable:
    """--config, --lang and --debug, shared by every command."""
    f = click.option("--debug", is_flag=True, help="Show the full traceback of an internal error.")(
        f
    )
    f = click.option(
        "--lang",
        type=click.Choice(["zh", "en"]),
        default="zh",
        show_default=True,
        help="Language of messages and written sheets.",
    )(f)
    f = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Policy file (TOML). Default: ./xlcheck.toml if present, else built-in defaults.",
    )(f)
    return f


def guarded(f: Callable) -> Callable:
    """Turn library errors into one line + exit 2, and surprises into one line + --debug hint."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        try:
            return f(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except XlcheckError as e:
            echo(f"xlcheck: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            echo("xlcheck: interrupted; no output was left half-written", err=True)
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - last-resort guard for the CLI only
            if debug:
                raise
            echo(
                f"xlcheck: internal error ({type(e).__name__}: {str(e)[:200]}); "
                "rerun with --debug for details",
                err=True,
            )
            sys.exit(2)

    return wrapper


def load(config_path: Path | None, lang: str):
    """The policy in force; a bad file's one-line message is in the command's ``--lang``."""
    from .config import load_policy

    return load_policy(config_path, lang=lang)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="xlcheck")
def cli() -> None:
    """Validate, mask, number and merge after-sales problem records kept in Excel.

    \b
    Example:
        xlcheck validate submissions/ --annotate checked/
    """


@cli.command("template")
@click.argument(
    "form_name", metavar="[FORM]", type=click.Choice(["record", "daily"]), default="record"
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the .xlsx. Default: ./<FORM>_form.xlsx",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it already exists.")
@common_options
@guarded
def template_cmd(
    form_name: str,
    output: Path | None,
    force: bool,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Write the blank Excel form: headers, drop-downs, input hints and a 填写说明 sheet.

    Fields come from the form spec (schemas/FORM.toml; daily: schemas/daily_report.toml,
    the 系统监控日报表) and drop-down values from the policy (--config), so a regenerated
    template always matches what validate checks. OUTPUT is never overwritten without --force.

    \b
    Example:
        xlcheck template record -o templates/record_form.xlsx
        xlcheck template record --lang en -o records_en.xlsx --force
        xlcheck template daily -o templates/daily_report.xlsx
    """
    from .forms import load_form
    from .writing.template import write_template

    default_name = "daily_report.xlsx" if form_name == "daily" else f"{form_name}_form.xlsx"
    out = output or Path(default_name)
    written = write_template(
        out, load_form(form_name), load(config_path, lang), lang, overwrite=force
    )
    echo(localise(_TEXT, "template-written", lang, path=written))


@cli.group("config")
def config_group() -> None:
    """Show the policy in force: built-in defaults merged with xlcheck.toml / --config.

    \b
    Example:
        xlcheck config show --config xlcheck.toml
    """


@config_group.command("show")
@common_options
@guarded
def config_show(config_path: Path | None, lang: str, debug: bool) -> None:
    """Print the policy in force as TOML (a starting point for your own xlcheck.toml).

    A bad config file prints one line naming the key and the allowed values, exit 2.

    \b
    Example:
        xlcheck config show > policy-in-force.toml
        xlcheck config show --config team/xlcheck.toml
    """
    from .config import policy_to_toml

    echo(policy_to_toml(load(config_path, lang)), nl=False)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for programs (see the README's JSON contract).",
)
@click.option(
    "--annotate",
    "annotate_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write NAME.checked.xlsx copies with every finding marked on its cell into this folder.",
)
@common_options
@guarded
def validate(
    paths: tuple[Path, ...],
    fmt: str,
    annotate_dir: Path | None,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Validate record workbooks (files or folders) against the record form.

    A filled 系统监控日报表 (made from `xlcheck template daily` or by `xlcheck daily`) is
    recognised by its marker and checked against the daily form instead.

    Folders mean every .xlsx/.xlsm/.xls/.ods in them; Excel lock files (~$...) and hidden
    files are skipped. The originals are never modified.

    \b
    Example:
        xlcheck validate submissions/ --annotate checked/
        xlcheck validate 周报.xlsx --format json > report.json
        xlcheck validate reports/daily-2024-05-21.xlsx --annotate checked/
    """
    from datetime import datetime

    from .forms import load_form
    from .reading import opening

    policy = load(config_path, lang)
    files = opening.expand_paths(list(paths))
    if not files:
        raise click.UsageError("no workbooks found in the given paths")
    form = load_form("record")
    # python-calamine parses the first file while pandas, pandera and numpy are imported
    with opening.start(files[0], form, policy.limits, lang) as early:
        from .jobs.check import validate_paths
        from .reports.render import render_text

        with _progress(files, lang) as tick:
            report = validate_paths(
                files,
                form,
                policy,
                lang=lang,
                now=datetime.now(),
                annotate_dir=annotate_dir,
                on_file=tick,
                debug=debug,
                early=early,
            )
    if fmt == "json":
        echo_json(report.to_dict())
    else:
        echo(render_text(report, lang))
    sys.exit(report.exit_code())


@cli.command("merge")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--register",
    "register",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The master register (总台账.xlsx); created if missing.",
)
@click.option(
    "--annotate",
    "annotate_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write NAME.checked.xlsx copies of the submissions with errors into this folder.",
)
@click.option(
    "--keep",
    default=5,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="How many backups of the previous register to keep beside it (0: none).",
)
@click.option(
    "--week-start",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Monday of the overview's 'latest week' (default: the last complete week).",
)
@click.option(
    "--prefer",
    type=click.Choice(["submission", "register"]),
    help="Settle fields changed both in the register and in a submission: take the "
    "submission's value, or keep the register's (default: keep it and list the conflict in 待修正).",
)
@click.option(
    "--return",
    "return_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a copy of each submission with the assigned 问题编号 filled in and contacts "
    "masked into this folder, to send back to staff.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what the merge would do per file and write nothing.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@common_options
@guarded
def merge_cmd(
    paths: tuple[Path, ...],
    register: Path,
    annotate_dir: Path | None,
    keep: int,
    week_start: Any,
    prefer: str | None,
    return_dir: Path | None,
    dry_run: bool,
    fmt: str,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Validate submissions and merge the good rows into the master register.

    Rows with errors are kept out and listed in the register's 待修正 sheet; contact data
    is masked; blank 问题编号 are assigned. Per record and field, a change made in the
    submission since it was last merged is applied (the old version kept in 变更记录), a
    change made by hand in the register stays, and a field changed on both sides is listed
    in 待修正 (settle with --prefer). Records deleted from the register by hand are
    restored. The previous register is kept as a backup. Exit 1 if any row was kept out, a
    field is in conflict or another register was skipped, 2 if a submission could not be
    read or its annotated or returned copy could not be written.

    \b
    Example:
        xlcheck merge submissions/ --register 总台账.xlsx --annotate checked/
        xlcheck merge submissions/ --register 总台账.xlsx --return back-to-staff/
        xlcheck merge submissions/ --register 总台账.xlsx --dry-run
    """
    from datetime import datetime

    from .forms import load_form
    from .jobs.merge import merge
    from .reading.opening import expand_paths
    from .reports.render import render_merge

    policy = load(config_path, lang)
    files = expand_paths(list(paths))
    if not files:
        raise click.UsageError("no workbooks found in the given paths")
    with _progress(files, lang) as tick:
        result = merge(
            files,
            register,
            load_form("record"),
            policy,
            now=datetime.now(),
            week_start=week_start,
            lang=lang,
            annotate_dir=annotate_dir,
            keep=keep,
            on_file=tick,
            debug=debug,
            notify=lambda line: echo(line, err=True),
            prefer=prefer,
            return_dir=return_dir,
            dry_run=dry_run,
        )
    if fmt == "json":
        echo_json(result.to_dict())
    else:
        echo(render_merge(result, lang))
    sys.exit(result.exit_code)


class _progress:
    """A progress bar on stderr for long runs; silent when stderr is not a terminal."""

    def __init__(self, items: list, lang: str):
        self.items, self.bar = items, None
        if len(items) > 3 and sys.stderr.isatty():
            label = localise(_TEXT, "progress", lang)
            self.bar = click.progressbar(length=len(items), label=label, file=sys.stderr)

    def __enter__(self) -> Callable[[Any], None]:
        if self.bar is None:
            return lambda _item: None
        self.bar.__enter__()
        return lambda _item: self.bar.update(1)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# -- mask / assign-ids: patched copies that keep everything else (mask.py, ids.py) ----------------
def _output_options(f: Callable) -> Callable:
    """-o/--output-dir and --in-place, for the commands that write changed copies."""
    f = click.option(
        "--in-place",
        is_flag=True,
        help="Change the files themselves, after keeping NAME.bak-YYYYmmdd-HHMMSS.xlsx beside each. "
        "Refused while the file is open in Excel (~$NAME.xlsx).",
    )(f)
    f = click.option(
        "-o",
        "--output-dir",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder for the changed copies (created if needed). The originals are not touched.",
    )(f)
    return f


def _writable_inputs(
    paths: tuple[Path, ...], out_dir: Path | None, in_place: bool, lang: str
) -> list[Path]:
    """The workbooks to write, each once; refused (one line, exit 2) before anything is
    written when two of them would go to the same output file."""
    from .reading.opening import expand_paths
    from .writing.xlsxpatch import check_distinct_outputs

    if in_place == (out_dir is not None):
        raise click.UsageError(localise(_TEXT, "output-or-in-place", lang))
    files = expand_paths(list(paths))
    if not files:
        raise click.UsageError(localise(_TEXT, "no-workbooks", lang))
    check_distinct_outputs(files, out_dir, in_place, lang)
    return files


def _exit_with(outcomes: list) -> None:
    """Print each file's one-line error on stderr, then exit with the run's code: the highest
    of its files' :attr:`~aftersales_xl.findings.FileOutcome.exit_code`."""
    for o in outcomes:
        if o.error is not None:
            echo(f"xlcheck: {o.error}", err=True)
    sys.exit(max((o.exit_code for o in outcomes), default=0))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_output_options
@common_options
@guarded
def mask(
    paths: tuple[Path, ...],
    out_dir: Path | None,
    in_place: bool,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Mask 联系人, 联系方式 and phones/emails/ID numbers in free text.

    联系人 keeps its first character (张**), phones their last 4 digits (****5678), emails
    the first letter and the domain (z***@example.com); the style is policy ([mask]).
    Only the masked cells change: other sheets, formats, drop-downs, text boxes and macros
    are kept, and the copy is read back and checked before it is saved. Prints counts per
    field, never the values. Masking a masked file changes nothing.

    On the record sheet, columns the form does not know and the rows above the header are
    masked as free text, cell comments too, and hyperlinks to personal data are removed.
    Personal data mask cannot change (other sheets, headers/footers, conditional formats,
    sheet names) means no copy is written (exit 2); personal document properties are
    emptied and a phone or email in the file name is masked in the copy's name.

    \b
    Example:
        xlcheck mask submissions/ -o masked/
        xlcheck mask 周报.xlsx --in-place
    """
    from .forms import load_form
    from .jobs.mask import mask_workbooks
    from .reports.render import render_mask

    files = _writable_inputs(paths, out_dir, in_place, lang)
    form = load_form("record")
    outcomes = mask_workbooks(
        files, form, load(config_path, lang), out_dir=out_dir, in_place=in_place, lang=lang
    )
    echo(render_mask(outcomes, form, lang))
    _exit_with(outcomes)


@cli.command("assign-ids")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--register",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The master register (总台账): its IDs are never reused; sequences continue after them.",
)
@click.option(
    "--fix-duplicates",
    is_flag=True,
    help="Give the later uses of a duplicated 问题编号 new IDs (listed old → new).",
)
@_output_options
@common_options
@guarded
def assign_ids_cmd(
    paths: tuple[Path, ...],
    register: Path | None,
    fix_duplicates: bool,
    out_dir: Path | None,
    in_place: bool,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Fill blank 问题编号 cells: FW + date of 接收时间 + a per-day sequence (FW20240521001).

    All files of one run are numbered together, in order of 接收时间 (else 问题发生时间),
    then file, then row, continuing after the highest number already used that day in the
    files and the register; a rerun gives the same IDs. Existing valid IDs never change;
    malformed and duplicate ones are reported (exit 1). Prefix, digits and the monthly
    scheme (202405001) are policy ([ids]).

    \b
    Example:
        xlcheck assign-ids submissions/ --register 总台账.xlsx -o numbered/
        xlcheck assign-ids 周报.xlsx --in-place --fix-duplicates
    """
    from .forms import load_form
    from .jobs.assign_ids import assign_workbooks
    from .reports.render import render_ids

    files = _writable_inputs(paths, out_dir, in_place, lang)
    outcomes = assign_workbooks(
        files,
        load_form("record"),
        load(config_path, lang),
        register=register,
        out_dir=out_dir,
        in_place=in_place,
        fix_duplicates=fix_duplicates,
        lang=lang,
    )
    echo(render_ids(outcomes, lang))
    _exit_with(outcomes)


# -- weekly: the management email (jobs/weekly.py) ----------------------------------------------
@cli.command("weekly")
@click.option(
    "--register",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The master register (总台账.xlsx) written by xlcheck merge.",
)
@click.option(
    "--week",
    metavar="YYYY-Www",
    help="ISO week to report, e.g. 2024-W21. Default: the last complete week.",
)
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the .eml and the sent-log. Default: outbox/ beside the register.",
)
@click.option("--send", is_flag=True, help="Also deliver it over SMTP ([mail] in the policy).")
@click.option("--force", is_flag=True, help="With --send: send again a week the sent-log has.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print subject, recipients, attachment size and the KPI table; write or send nothing.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the HTML body alone to this file, for a preview in a browser.",
)
@click.option(
    "--attach",
    type=click.Choice(["all", "week"]),
    default="all",
    show_default=True,
    help="Attach the whole register, or only the week's records with summary tabs.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@common_options
@guarded
def weekly_cmd(
    register: Path,
    week: str | None,
    outbox: Path | None,
    send: bool,
    force: bool,
    dry_run: bool,
    html_path: Path | None,
    attach: str,
    fmt: str,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Build the weekly management email from the register: KPIs beside last week, an
    8-week chart, recurring problems, open P0/P1, past due, the satisfaction follow-up
    list, and the register attached (masked).

    By default the message is written as OUTBOX/<register>-<week>.eml (opens in any mail
    client). --send delivers it over SMTP with [mail] from the policy; the password comes
    only from the environment variable [mail] password_env (default XLCHECK_SMTP_PASSWORD).
    A week already in the outbox's sent-log is not sent again (--force resends). Exit 2
    when the register cannot be read, the attachment is over [weekly] max_attachment_mb,
    or sending fails (the .eml is still written).

    \b
    Example:
        xlcheck weekly --register out/总台账.xlsx --week 2024-W21
        xlcheck weekly --register out/总台账.xlsx --dry-run --html preview.html
        XLCHECK_SMTP_PASSWORD=... xlcheck weekly --register out/总台账.xlsx --send
    """
    from datetime import datetime

    from .forms import load_form
    from .jobs.weekly import run_weekly

    result = run_weekly(
        register,
        load_form("record"),
        load(config_path, lang),
        now=datetime.now().replace(microsecond=0),
        week=week,
        outbox=outbox,
        send=send,
        force=force,
        dry_run=dry_run,
        html=html_path,
        attach=attach,
        lang=lang,
    )
    if fmt == "json":
        echo_json(result.to_dict())
    else:
        echo("\n".join(result.lines(lang)))
        failure = result.failure(lang)
        if failure:
            echo(f"xlcheck: {failure}", err=True)
    sys.exit(result.exit_code)


@cli.command("daily")
@click.option(
    "--register",
    "register",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The master register (总台账.xlsx) written by xlcheck merge.",
)
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="The day to report on (YYYY-MM-DD). Default: yesterday.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The report (.xlsx). An existing report of the same day is refreshed: what people "
    "typed (填写人, 异常情况, 备注) is kept.",
)
@click.option(
    "--fail-on-warning", is_flag=True, help="Exit 1 when any metric is 预警 (for schedulers)."
)
@click.option(
    "--notify",
    is_flag=True,
    help="Push the warnings and overdue records to the channels of [notify] in the policy.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@common_options
@guarded
def daily_cmd(
    register: Path,
    day: Any,
    output: Path,
    fail_on_warning: bool,
    notify: bool,
    fmt: str,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Compute the monitoring daily report (系统监控日报表) of one day from the register.

    Each metric (first response, closure rate, CSAT, bad-review rate, anomalies) is computed
    with the SLA module, its 状态 set against the [daily] thresholds, and the records over
    the first-response threshold are listed. Webhook URLs and secrets are read only from the
    environment variables [notify] names. Exit 0 done; 1 with --fail-on-warning when a
    metric warns; 2 when the register cannot be read, the day is outside it, the report
    cannot be written, or a --notify channel failed (the report is still written and the
    other channels still tried).

    \b
    Example:
        xlcheck daily --register 总台账.xlsx -o reports/daily-2024-05-21.xlsx --date 2024-05-21
        xlcheck daily --register 总台账.xlsx -o daily.xlsx --notify --fail-on-warning
    """
    from datetime import datetime

    from .jobs.daily import daily_report, render_daily

    result = daily_report(
        register,
        output,
        load(config_path, lang),
        day=day.date() if day is not None else None,
        now=datetime.now(),
        lang=lang,
        notify=notify,
    )
    if fmt == "json":
        echo_json(result.to_dict(lang))
    else:
        echo(render_daily(result, lang))
    for delivery in result.failed:
        echo(f"xlcheck: {delivery.line(lang)}", err=True)
    sys.exit(result.exit_code(fail_on_warning))


# -- the solution library: search and the library workbook (jobs/search.py, jobs/library.py) ---
@cli.command("search")
@click.argument("query")
@click.option(
    "--register",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The master register (总台账.xlsx) to search.",
)
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 100), help="How many.")
@click.option("--module", help="Only records whose 产品/服务模块 contains this text.")
@click.option("--type", "problem_type", help="Only records whose 问题类型 contains this text.")
@click.option(
    "--open",
    "include_open",
    is_flag=True,
    help="Search open records too (spot a second report of an ongoing incident).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@common_options
@guarded
def search_cmd(
    query: str,
    register: Path,
    top: int,
    module: str | None,
    problem_type: str | None,
    include_open: bool,
    fmt: str,
    config_path: Path | None,
    lang: str,
    debug: bool,
) -> None:
    """Find solved records (已解决/已关闭) like QUERY and show how they were solved.

    Ranks by similarity of 问题描述, 问题分析过程, 产品/服务模块 and 问题类型 (Chinese
    character bigrams, BM25); word order, full-/half-width and case do not matter. The
    index is cached beside the register (.总台账.xlsx.search-cache) and rebuilt when the
    register changes. Exit 0 with results or a one-line reason (empty register, nothing
    solved, nothing similar); 2 for a query of only punctuation or an unreadable register.

    \b
    Example:
        xlcheck search "打卡 定位失败" --register 总台账.xlsx
        xlcheck search "退款没到账" --register 总台账.xlsx --module 支付 --format json
        xlcheck search "App 闪退" --register 总台账.xlsx --open --top 10
    """
    from .forms import load_form
    from .jobs.search import search
    from .reports.search_text import render_search

    result = search(
        register,
        query,
        load_form("record"),
        load(config_path, lang),
        top=top,
        module=module,
        problem_type=problem_type,
        include_open=include_open,
        lang=lang,
    )
    if fmt == "json":
        echo_json(result.to_dict())
    else:
        echo(render_search(result, lang))
    sys.exit(0)


@cli.command("library")
@click.option(
    "--register",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The master register (总台账.xlsx); only read.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The library workbook to write (replaced if it exists), e.g. 解决方案库.xlsx.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@common_options
@guarded
def library_cmd(
    register: Path, output: Path, fmt: str, config_path: Path | None, lang: str, debug: bool
) -> None:
    """Write the solution library: one row per recurring problem, most frequent first.

    Records of one 产品/服务模块 and 问题类型 whose description, analysis and solution are
    similar are one problem; a problem seen at least library.min_count times gets a row
    with 次数, 首次/最近出现, a representative description, the solution that closed most
    of them (else the latest 永久方案), the mean rating, example IDs and tags. Only masked
    data, no contact columns. Exit 0 when written, 2 if the register cannot be read or the
    output cannot be written.

    \b
    Example:
        xlcheck library --register 总台账.xlsx -o 解决方案库.xlsx
        xlcheck library --register 总台账.xlsx -o shared/解决方案库.xlsx --format json
    """
    from datetime import datetime

    from .forms import load_form
    from .jobs.library import build_library, render_library

    result = build_library(
        register,
        output,
        load_form("record"),
        load(config_path, lang),
        now=datetime.now(),
        lang=lang,
    )
    if fmt == "json":
        echo_json(result.to_dict())
    else:
        echo(render_library(result, lang))
    sys.exit(0)


def main() -> None:
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
