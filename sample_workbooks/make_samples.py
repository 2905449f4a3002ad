"""(Re)generate the sample workbooks in this folder: ``python sample_workbooks/make_samples.py``.

One small workbook per quirk staff really produce, named after it. Output is deterministic:
the xlsxwriter files are byte-for-byte reproducible; ``06_libreoffice_saved.xlsx`` is written
by openpyxl and then re-saved by headless LibreOffice (skipped, keeping the committed file,
when LibreOffice is not installed). All personal data is fake: 138-0013-8000-style test
numbers, ``example.com`` addresses, ``示例`` companies.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from builders import (  # noqa: E402 - needs the path above
    excel_serial,
    libreoffice_resave,
    record_row,
    workbook_values,
    write_record_xlsx,
)

CUSTOMERS = [
    "华东示例贸易有限公司/C0101",
    "星河示例科技/C0102",
    "示例连锁超市/C0103",
    "蓝海示例物流/C0104",
    "示例教育集团/C0105",
    "示例医疗器械/C0106",
    "北辰示例制造/C0107",
    "示例餐饮管理/C0108",
    "南山示例软件/C0109",
    "示例物业服务/C0110",
]
CONTACT_NAMES = ["张*", "李**", "王先生", "陈*", "刘女士", "赵*", "周**", "吴*", "孙经理", "郑*"]
CONTACTS = [
    "****8000",
    "138****8001",
    "z***@example.com",
    "****8002",
    "139****8003",
    "l***@example.com",
    "****8004",
    "186****8005",
    "****8006",
    "w***@example.com",
]
CHANNELS = ["电话", "在线客服", "邮件", "现场", "公众号", "其他"]
MODULES = [
    "登录模块",
    "订单管理",
    "支付结算",
    "报表导出",
    "移动端App",
    "消息推送",
    "权限管理",
    "数据同步",
]
OWNERS = ["王工", "李工", "陈工", "赵工"]
VERSIONS = ["V2.1", "V2.1", "V2.2", "App 3.4"]
SEVERITIES = ["P1", "P2", "P0", "P2", "P1", "P3"]
SATISFACTION = [5, 4, 5, 3, 4, 5, 4]
# (问题类型, 问题描述, 问题分析过程, 解决方案, 客户反馈)
PROBLEMS = [
    (
        "技术故障",
        "客户登录时提示“账号已锁定”",
        "密码连续输错5次触发锁定",
        "永久方案：后台解锁并指导重置密码",
        "处理及时",
    ),
    (
        "功能咨询",
        "询问如何批量导出上月订单",
        "客户不熟悉导出入口",
        "永久方案：发送操作手册并远程演示",
        "讲解清楚",
    ),
    (
        "技术故障",
        "支付成功后订单状态未更新",
        "支付回调超时未重试",
        "临时方案：手工同步订单状态；永久方案：增加回调重试",
        "希望尽快彻底修复",
    ),
    ("操作指导", "不会设置子账号权限", "角色配置入口较深", "永久方案：远程指导配置角色", "很耐心"),
    (
        "投诉建议",
        "反映报表加载太慢",
        "报表查询未走索引",
        "永久方案：优化查询并加索引，V2.2 发布",
        "速度明显变快",
    ),
    (
        "退换货",
        "收到的扫码枪无法开机，要求换货",
        "设备电池故障",
        "永久方案：寄出新设备并回收故障机",
        "换货很快",
    ),
    ("技术故障", "App 推送消息重复收到两次", "推送服务重复投递", "永久方案：推送去重已上线", ""),
    ("其他", "咨询发票开具时间", "财务流程说明", "永久方案：告知开票周期为3个工作日", ""),
]


def record(i: int, occurred: datetime, **overrides: Any) -> dict[str, Any]:
    """A valid resolved record, varied by ``i``: received 15–40 min after ``occurred``, fixed in 1–4 h."""
    ptype, desc, analysis, solution, feedback = PROBLEMS[i % len(PROBLEMS)]
    received = occurred + timedelta(minutes=15 + 5 * (i % 6))
    resolved = received + timedelta(hours=1 + i % 4, minutes=10 * (i % 3))
    values: dict[str, Any] = {
        "customer": CUSTOMERS[i % len(CUSTOMERS)],
        "contact_name": CONTACT_NAMES[i % len(CONTACT_NAMES)],
        "contact": CONTACTS[i % len(CONTACTS)],
        "channel": CHANNELS[i % len(CHANNELS)],
        "occurred_at": occurred,
        "module": MODULES[i % len(MODULES)],
        "problem_type": ptype,
        "description": desc,
        "severity": SEVERITIES[i % len(SEVERITIES)],
        "owner": OWNERS[i % len(OWNERS)],
        "received_at": received,
        "status": "已关闭" if i % 5 == 4 else "已解决",
        "analysis": analysis,
        "solution": solution,
        "due_at": received + timedelta(days=1),
        "resolved_at": resolved,
        "satisfaction": SATISFACTION[i % len(SATISFACTION)],
        "feedback": feedback or None,
        "product_version": VERSIONS[i % len(VERSIONS)],
        "remarks": None,
    }
    values.update(overrides)
    return record_row(**values)


def open_record(i: int, occurred: datetime, status: str, **overrides: Any) -> dict[str, Any]:
    """A valid unfinished record (P3, no SLA target): no solution, 解决时间 or rating yet."""
    values: dict[str, Any] = {
        "status": status,
        "severity": "P3",
        "analysis": None,
        "solution": None,
        "resolved_at": None,
        "satisfaction": None,
        "feedback": None,
    }
    values.update(overrides)
    return record(i, occurred, **values)


def week(n: int, start: datetime = datetime(2024, 5, 20, 9, 5)) -> list[datetime]:
    """``n`` occurrence times across the working week of 2024-05-20 (2 h 37 min apart, office hours)."""
    out, t = [], start
    for _ in range(n):
        out.append(t)
        t += timedelta(hours=2, minutes=37)
        if t.hour >= 17:
            t = (t + timedelta(days=1)).replace(hour=9, minute=t.minute)
    return out


def clean_rows() -> list[dict[str, Any]]:
    times = week(10)
    rows = [record(i, t) for i, t in enumerate(times)]
    # a couple already numbered (FW + 接收日期 + per-day sequence); the rest get IDs at merge
    rows[0]["record_id"] = "FW" + rows[0]["received_at"].strftime("%Y%m%d") + "001"
    rows[4]["record_id"] = "FW" + rows[4]["received_at"].strftime("%Y%m%d") + "001"
    rows[7] = open_record(7, times[7], "处理中")
    rows[8] = open_record(8, times[8], "待处理", owner=None)
    rows[9] = open_record(9, times[9], "升级处理", analysis="疑似第三方接口问题，已升级研发")
    return rows


def s01_clean(path: Path) -> None:
    write_record_xlsx(path, clean_rows(), engine="xlsxwriter")


def s02_title_row(path: Path) -> None:
    rows = [record(i + 2, t) for i, t in enumerate(week(6, datetime(2024, 5, 27, 9, 20)))]
    headers = {
        "record_id": "问题编号（选填）",
        "customer": "客户名称/编号*",
        "contact_name": "联系人*",
        "contact": "联系方式(脱敏)",
        "description": "问题描述（必填）",
    }
    write_record_xlsx(path, rows, engine="xlsxwriter", title_rows=2, headers=headers)


def s03_bad_lists_and_dates(path: Path) -> None:
    times = week(8, datetime(2024, 5, 21, 9, 0))
    rows = [record(i, t) for i, t in enumerate(times)]
    rows[1]["severity"] = "P5"  # not-in-list
    rows[2]["channel"] = "未知"  # not-in-list
    rows[3]["occurred_at"] = "2024/13/45"  # bad-date: month 13, day 45
    rows[4]["severity"] = "p1"  # normalises to P1
    rows[5]["severity"] = "P1重要"  # normalises to P1
    rows[6]["severity"] = "P1-重要"  # normalises to P1
    write_record_xlsx(path, rows, engine="xlsxwriter")


def s04_unmasked_contacts(path: Path) -> None:
    times = week(8, datetime(2024, 5, 22, 9, 0))
    rows = [record(i, t) for i, t in enumerate(times)]
    rows[1]["contact"] = "13800138000"  # full mobile number as text
    rows[2]["contact"] = "zhangsan@example.com"  # full email
    rows[3]["contact_name"] = "张三"  # full name
    rows[4]["contact"] = 13800138001  # phone typed as a number
    rows[5]["description"] = "客户要求回电 138-0013-8002，登录后页面白屏"  # phone in free text
    write_record_xlsx(path, rows, engine="xlsxwriter")


def s05_status_and_time(path: Path) -> None:
    # its own times: a record of another sample (same customer, time and description) would be
    # the same problem, and merge would hold the two versions back as a conflict
    times = week(9, datetime(2024, 5, 21, 10, 3))
    rows = [record(i, t) for i, t in enumerate(times)]
    dup = "FW" + rows[0]["received_at"].strftime("%Y%m%d") + "001"
    rows[0]["record_id"] = dup
    rows[1].update(solution=None, resolved_at=None)  # 已解决 without 解决方案 / 解决时间
    rows[2]["resolved_at"] = rows[2]["received_at"] - timedelta(hours=2)  # 解决时间 before 接收时间
    rows[3]["record_id"] = dup  # duplicate 问题编号
    rows[4]["satisfaction"] = 7  # out of 1–5
    rows[5] = open_record(5, times[5], "处理中", owner=None)  # owner blank while 处理中
    rows[6]["received_at"] = rows[6]["occurred_at"] - timedelta(
        minutes=30
    )  # 接收时间 before 发生时间
    rows[6]["resolved_at"] = rows[6]["occurred_at"] + timedelta(hours=2)
    rows[7] = open_record(
        7, times[7], "待处理", owner=None
    )  # valid: owner may be blank while 待处理
    write_record_xlsx(path, rows, engine="xlsxwriter")


def libreoffice_source_rows() -> list[dict[str, Any]]:
    return [record(i + 1, t) for i, t in enumerate(week(8, datetime(2024, 5, 23, 9, 40)))]


def s06_libreoffice_source(path: Path) -> None:
    """The openpyxl workbook that LibreOffice re-saves into ``06_libreoffice_saved.xlsx``."""
    write_record_xlsx(path, libreoffice_source_rows(), engine="openpyxl")


TEXT_DATE_FORMS: list[Callable[[datetime], Any]] = [
    lambda d: d.strftime("%Y-%m-%d %H:%M"),  # 2024-05-21 14:30
    lambda d: f"{d.year}/{d.month}/{d.day} {d:%H:%M}",  # 2024/5/21 14:30
    lambda d: f"{d.year}年{d.month}月{d.day}日 {d:%H:%M}",  # 2024年5月21日 14:30
    lambda d: d.strftime("%Y-%m-%d%H:%M"),  # 2024-05-2114:30 (space lost in a paste)
    lambda d: excel_serial(d),  # a bare Excel serial number, General format
    lambda d: d,  # a real Excel date
]


def s07_text_dates(path: Path) -> None:
    """Each date form appears in each of the four date columns (6 rows × 4 columns)."""
    times = week(6, datetime(2024, 5, 21, 9, 15))
    rows = []
    for i, t in enumerate(times):
        row = record(i, t)
        for shift, key in enumerate(("occurred_at", "received_at", "resolved_at", "due_at")):
            row[key] = TEXT_DATE_FORMS[(i + shift) % len(TEXT_DATE_FORMS)](row[key])
        rows.append(row)
    write_record_xlsx(path, rows, engine="xlsxwriter")


def s08_renamed_csv(path: Path) -> None:
    """A CSV export renamed to .xlsx: not a workbook at all."""
    from aftersales_xl.forms import load_form

    form = load_form()
    lines = [",".join(f.label for f in form.fields)]
    for row in clean_rows()[:2]:
        cells = []
        for f in form.fields:
            v = row[f.key]
            cells.append(
                ""
                if v is None
                else v.strftime("%Y-%m-%d %H:%M")
                if isinstance(v, datetime)
                else str(v)
            )
        lines.append(",".join(cells))
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))


LIBREOFFICE_SAMPLE = "06_libreoffice_saved.xlsx"
WRITERS: dict[str, Callable[[Path], None]] = {
    "01_clean.xlsx": s01_clean,
    "02_title_row.xlsx": s02_title_row,
    "03_bad_lists_and_dates.xlsx": s03_bad_lists_and_dates,
    "04_unmasked_contacts.xlsx": s04_unmasked_contacts,
    "05_status_and_time.xlsx": s05_status_and_time,
    LIBREOFFICE_SAMPLE: s06_libreoffice_source,
    "07_text_dates.xlsx": s07_text_dates,
    "08_renamed_csv.xlsx": s08_renamed_csv,
}


def write_samples(out_dir: str | Path, *, libreoffice: bool = True) -> list[Path]:
    """Write every sample into ``out_dir`` and return the paths written.

    With ``libreoffice=False`` the 06 sample is left as written by openpyxl (its content is
    what LibreOffice must preserve). With ``libreoffice=True`` an existing 06 whose content
    is unchanged is kept as is (LibreOffice stamps each save); with no LibreOffice installed
    06 is not written at all (a note goes to stderr) so a committed copy is kept.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, writer in WRITERS.items():
        target = out / name
        if name == LIBREOFFICE_SAMPLE and libreoffice:
            with tempfile.TemporaryDirectory(prefix="xlcheck-sample-") as tmp:
                src = Path(tmp) / "src" / name
                src.parent.mkdir()
                writer(src)
                saved = libreoffice_resave(src, Path(tmp) / "saved")
                if saved is None:
                    print(
                        f"make_samples: LibreOffice not installed; {name} left as it is",
                        file=sys.stderr,
                    )
                    continue
                # LibreOffice stamps every save: keep the committed file unless the content changed
                if not (target.is_file() and workbook_values(target) == workbook_values(saved)):
                    shutil.copyfile(saved, target)
        else:
            writer(target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output folder (default: this folder)"
    )
    parser.add_argument(
        "--no-libreoffice",
        action="store_true",
        help="write 06 with openpyxl only (not LibreOffice-saved)",
    )
    args = parser.parse_args(argv)
    for path in write_samples(args.out, libreoffice=not args.no_libreoffice):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
