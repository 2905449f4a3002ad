"""Generate a large, realistic record workbook fast: ``python benchmarks/gen.py OUT.xlsx --rows 100000``.

Rows are valid records spread over 2024 (statuses, severities and response/resolution times
in realistic proportions) with a small share (about 3 %) of the mistakes staff really make:
an unmasked phone, a severity or channel outside the list, an impossible text date, a blank
required value, 接收时间 before 问题发生时间, 已解决 without a solution, a rating of 7. Dates
are real Excel dates. Written with xlsxwriter in constant-memory mode, so memory stays flat.
All personal data is fake (138-0013-8xxx test numbers, example.com addresses).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import xlsxwriter

from aftersales_xl.forms import load_form

EXCEL_EPOCH = datetime(1899, 12, 30)
YEAR_START = datetime(2024, 1, 2, 8, 0)
YEAR_MINUTES = 360 * 24 * 60
MISTAKE_SHARE = 0.03

CUSTOMERS = [f"示例客户{i:03d}/C{i:04d}" for i in range(1, 401)]
SURNAMES = "张王李赵陈刘杨黄吴周徐孙马朱胡郭何高林罗"
CHANNELS = ["电话", "在线客服", "邮件", "现场", "公众号", "其他"]
CHANNEL_WEIGHTS = [30, 35, 12, 5, 15, 3]
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
PROBLEMS = [
    (
        "技术故障",
        "客户登录时提示“账号已锁定”",
        "密码连续输错5次触发锁定",
        "永久方案：后台解锁并指导重置密码",
    ),
    (
        "功能咨询",
        "询问如何批量导出上月订单",
        "客户不熟悉导出入口",
        "永久方案：发送操作手册并远程演示",
    ),
    ("技术故障", "支付成功后订单状态未更新", "支付回调超时未重试", "临时方案：手工同步订单状态"),
    ("操作指导", "不会设置子账号权限", "角色配置入口较深", "永久方案：远程指导配置角色"),
    ("投诉建议", "反映报表加载太慢", "报表查询未走索引", "永久方案：优化查询并加索引"),
    ("退换货", "收到的设备无法开机，要求换货", "设备电池故障", "永久方案：寄出新设备并回收故障机"),
    ("技术故障", "App 推送消息重复收到两次", "推送服务重复投递", "永久方案：推送去重已上线"),
    ("其他", "咨询发票开具时间", "财务流程说明", "永久方案：告知开票周期"),
]
OWNERS = ["王工", "李工", "陈工", "赵工", "刘工", "周工", "吴工", "孙工"]
SEVERITIES = ["P0", "P1", "P2", "P3"]
SEVERITY_WEIGHTS = [3, 20, 50, 27]
# minutes to respond / resolve, typical ranges per severity (mostly inside the default SLA)
RESPOND = {"P0": (5, 50), "P1": (10, 200), "P2": (15, 900), "P3": (30, 2000)}
RESOLVE = {"P0": (30, 1200), "P1": (60, 3600), "P2": (120, 5000), "P3": (240, 20000)}
STATUSES = ["已解决", "已关闭", "处理中", "待处理", "升级处理"]
STATUS_WEIGHTS = [70, 12, 8, 5, 5]
MISTAKES = [
    "unmasked-phone",
    "bad-severity",
    "bad-channel",
    "bad-date",
    "blank-customer",
    "time-order",
    "no-solution",
    "rating-7",
]


def _serial(dt: datetime) -> float:
    return (dt - EXCEL_EPOCH).total_seconds() / 86400.0


def generate(
    path: str | Path,
    n_rows: int,
    *,
    seed: int = 0,
    blank_ids: bool = False,
    mistakes: float = MISTAKE_SHARE,
) -> Path:
    """Write ``n_rows`` records (21 columns, the form's headers) to ``path``; return the path.

    Deterministic for a given ``seed``. With ``blank_ids`` every 问题编号 is empty (as
    submitted before merge); otherwise IDs are ``FW`` + 接收日期 + per-day sequence.
    ``mistakes`` is the share of rows given one typical staff mistake.
    """
    path = Path(path)
    rng = random.Random(seed)
    form = load_form()
    keys = form.keys
    col = {k: i for i, k in enumerate(keys)}
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": datetime(2024, 6, 1, 9, 0)})
    ws = wb.add_worksheet(form.sheet)
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for i, f in enumerate(form.fields):
        ws.set_column(i, i, f.width)
        ws.write_string(0, i, f.label, head)

    step = YEAR_MINUTES / max(n_rows, 1)
    per_day: dict[str, int] = defaultdict(int)
    for r in range(1, n_rows + 1):
        occurred = YEAR_START + timedelta(minutes=int((r - 1) * step + rng.random() * step))
        sev = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        received = occurred + timedelta(minutes=rng.randint(*RESPOND[sev]))
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        done = status in ("已解决", "已关闭")
        ptype, desc, analysis, solution = PROBLEMS[rng.randrange(len(PROBLEMS))]
        texts: dict[str, str | None] = {
            "customer": CUSTOMERS[rng.randrange(len(CUSTOMERS))],
            "contact_name": SURNAMES[rng.randrange(len(SURNAMES))] + "*" * rng.randint(1, 2),
            "contact": f"138****8{rng.randrange(1000):03d}"
            if rng.random() < 0.8
            else f"{'abcdefgh'[rng.randrange(8)]}***@example.com",
            "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
            "module": MODULES[rng.randrange(len(MODULES))],
            "problem_type": ptype,
            "description": desc,
            "severity": sev,
            "owner": None if status == "待处理" else OWNERS[rng.randrange(len(OWNERS))],
            "status": status,
            "analysis": analysis if done or rng.random() < 0.5 else None,
            "solution": solution if done else None,
            "feedback": "处理及时" if done and rng.random() < 0.3 else None,
            "product_version": f"V2.{rng.randrange(4)}",
            "remarks": None,
        }
        dates: dict[str, datetime | str | None] = {
            "occurred_at": occurred,
            "received_at": received,
            "due_at": received + timedelta(days=rng.randint(1, 5)) if rng.random() < 0.6 else None,
            "resolved_at": received + timedelta(minutes=rng.randint(*RESOLVE[sev]))
            if done
            else None,
        }
        rating: int | None = (
            rng.choices([5, 4, 3, 2, 1], [55, 28, 10, 4, 3])[0]
            if done and rng.random() < 0.7
            else None
        )

        if rng.random() < mistakes:
            mistake = MISTAKES[rng.randrange(len(MISTAKES))]
            if mistake == "unmasked-phone":
                texts["contact"] = f"1380013{rng.randrange(10000):04d}"
            elif mistake == "bad-severity":
                texts["severity"] = "P5"
            elif mistake == "bad-channel":
                texts["channel"] = "微信群"
            elif mistake == "bad-date":
                dates["occurred_at"] = "2024/13/45"
            elif mistake == "blank-customer":
                texts["customer"] = None
            elif mistake == "time-order":
                dates["received_at"] = occurred - timedelta(minutes=rng.randint(5, 120))
            elif mistake == "no-solution":
                texts["status"], texts["solution"], dates["resolved_at"] = "已解决", None, None
            elif mistake == "rating-7":
                rating = 7

        if not blank_ids:
            recv = dates["received_at"]
            day = (recv if isinstance(recv, datetime) else occurred).strftime("%Y%m%d")
            per_day[day] += 1
            texts["record_id"] = f"FW{day}{per_day[day]:03d}"

        for key, value in texts.items():
            if value is not None:
                ws.write_string(r, col[key], value)
        for key, value in dates.items():
            if isinstance(value, datetime):
                ws.write_number(r, col[key], _serial(value), date_fmt)
            elif value is not None:
                ws.write_string(r, col[key], value)
        if rating is not None:
            ws.write_number(r, col["satisfaction"], rating)
    wb.close()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a large record workbook for benchmarks.")
    parser.add_argument("out", type=Path, help="the .xlsx to write")
    parser.add_argument(
        "--rows", type=int, default=100_000, help="number of records (default 100000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--blank-ids", action="store_true", help="leave 问题编号 empty, as before merge"
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    generate(args.out, args.rows, seed=args.seed, blank_ids=args.blank_ids)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({args.rows} rows, {size:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
