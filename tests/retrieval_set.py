"""The retrieval test set of the solution library: planted after-sales problems and queries.

32 distinct problems across 10 modules; each has 3–4 solved records worded the way different
staff would write them (synonyms, word order, extra detail, full-width digits and letters),
one analysis and the solution that closed it. Several problems share a module × type, so
they are each other's distractors; :data:`DISTRACTORS` adds one-off records in the same
modules that share words with the problems (``图形验证码`` beside ``短信验证码``) but are not
them. Every problem has two held-apart queries — phrasings that are none of its records —
64 in all. Used by ``tests/test_similarity.py`` (retrieval quality and clustering),
``tests/test_library.py`` and ``benchmarks/retrieval_quality.py`` (the tokeniser / BM25
comparison reported in the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Problem:
    key: str
    module: str
    problem_type: str
    records: tuple[str, ...]
    analysis: str
    solution: str
    queries: tuple[str, ...]


def _p(key, module, ptype, records, analysis, solution, queries) -> Problem:
    return Problem(key, module, ptype, tuple(records), analysis, solution, tuple(queries))


PROBLEMS: tuple[Problem, ...] = (
    # -- 考勤打卡 ------------------------------------------------------------------------
    _p("gps", "考勤打卡", "技术故障",
       ["员工在App打卡时提示定位失败",
        "打卡定位失败，显示不在考勤范围内",
        "外勤人员上班打卡一直定位失败，无法完成打卡",
        "早上８点打卡时定位失败（手机GPS已开）"],
       "手机未授予App定位权限或考勤范围半径过小",
       "永久方案：指导开启App定位权限，考勤范围半径调整为300米",
       ["定位失败 打卡", "打卡时定位不成功"]),
    _p("face", "考勤打卡", "技术故障",
       ["人脸识别打卡失败，提示非本人",
        "刷脸打卡总是识别不通过",
        "考勤机人脸识别失败，员工没法打卡"],
       "人脸底库照片过旧，光线不足",
       "永久方案：重新采集人脸底库照片并开启活体补光",
       ["刷脸识别不了", "人脸打卡识别失败提示不是本人"]),
    _p("missing-punch", "考勤打卡", "技术故障",
       ["打卡成功后考勤记录里查不到",
        "已经打卡但考勤报表显示缺卡",
        "员工打卡提示成功，后台却没有这条记录"],
       "考勤机离线缓存未上传",
       "临时方案：手工同步考勤机缓存数据；永久方案：考勤机恢复联网自动上传",
       ["打了卡却显示缺卡", "考勤记录查不到打卡数据"]),
    _p("make-up", "考勤打卡", "功能咨询",
       ["如何提交补卡申请",
        "忘记打卡了怎么补卡",
        "补卡流程在哪里发起"],
       "客户不熟悉补卡入口",
       "永久方案：告知路径 工作台→考勤→补卡申请，并发送操作说明",
       ["漏打卡 怎么补", "补卡申请的入口在哪"]),
    # -- 登录模块 ------------------------------------------------------------------------
    _p("locked", "登录模块", "技术故障",
       ["客户登录时提示“账号已锁定”",
        "账户被锁定无法登录",
        "密码输错多次后账号锁了，登不上去"],
       "密码连续输错5次触发锁定",
       "永久方案：后台解锁并指导重置密码",
       ["账号锁定 登录不了", "登陆提示帐号被锁"]),
    _p("sms-code", "登录模块", "技术故障",
       ["登录时收不到短信验证码",
        "短信验证码一直没收到，无法登录",
        "点击获取验证码后手机没有收到短信"],
       "运营商拦截了验证码短信",
       "临时方案：改用邮箱验证码登录；永久方案：更换短信通道签名",
       ["验证码收不到", "没收到登录的短信验证码"]),
    _p("qr-login", "登录模块", "技术故障",
       ["扫码登录后电脑端页面不跳转",
        "用企业微信扫码登录一直转圈",
        "PC端扫二维码登录没反应"],
       "回调地址白名单未配置新域名",
       "永久方案：在企业微信后台补充回调域名白名单",
       ["扫码登录 没反应", "扫二维码登录卡住不跳转"]),
    _p("sso", "登录模块", "技术故障",
       ["单点登录跳转后提示token失效",
        "从OA单点登录进入系统报token过期",
        "SSO登录提示令牌已失效"],
       "两台服务器时钟相差超过5分钟",
       "永久方案：服务器开启NTP时间同步",
       ["单点登录 token 失效", "OA跳转过来提示ＴＯＫＥＮ过期"]),
    # -- 订单管理 ------------------------------------------------------------------------
    _p("paid-unpaid", "订单管理", "技术故障",
       ["支付成功后订单状态未更新",
        "付款完成订单仍显示待支付",
        "客户已经付款但订单一直是未支付状态"],
       "支付回调超时未重试",
       "临时方案：手工同步订单状态；永久方案：回调增加重试机制",
       ["付了款订单还是待支付", "订单状态不更新 支付成功了"]),
    _p("dup-order", "订单管理", "技术故障",
       ["提交订单时重复生成两笔订单",
        "点一次提交出现两个相同的订单",
        "下单后系统生成了重复订单，需要删除一笔"],
       "提交按钮未做防重复点击",
       "永久方案：提交按钮增加防重与幂等校验",
       ["订单重复生成", "一次提交变成两张订单"]),
    _p("order-search", "订单管理", "技术故障",
       ["订单列表搜索不到刚创建的订单",
        "新建的订单在列表里查不到",
        "刚下的单搜索不出来，过半小时才能看到"],
       "搜索索引刷新间隔为30分钟",
       "永久方案：订单创建后实时刷新搜索索引",
       ["新订单查不到", "订单列表搜不到新建的单"]),
    _p("bulk-export", "订单管理", "功能咨询",
       ["询问如何批量导出上月订单",
        "想把所有订单导出到Excel",
        "订单能不能批量导出"],
       "客户不熟悉导出入口",
       "永久方案：发送操作手册并远程演示批量导出",
       ["批量导出订单 excel", "怎么导出上个月的订单"]),
    _p("address", "订单管理", "功能咨询",
       ["下单后如何修改收货地址",
        "订单的地址填错了能否更改",
        "客户想改一下订单收货地址"],
       "发货前可修改地址",
       "永久方案：告知在订单详情页点击修改地址（仅限未发货订单）",
       ["改收货地址", "地址填错 订单修改"]),
    # -- 支付结算 ------------------------------------------------------------------------
    _p("refund", "支付结算", "技术故障",
       ["退款申请通过后迟迟未到账",
        "已退款但客户银行卡没收到钱",
        "退款显示成功，７天了还没到账"],
       "银行退款处理周期为3-7个工作日",
       "永久方案：告知到账周期并提供退款流水号供客户向银行查询",
       ["退款没到账", "退款成功 钱没收到"]),
    _p("invoice", "支付结算", "技术故障",
       ["开具电子发票时提示税号错误",
        "电子发票开不出来，报纳税人识别号有误",
        "开票失败提示税号不正确"],
       "客户资料中税号多了空格",
       "永久方案：清理税号空格并增加格式校验",
       ["发票 税号错误 开不了", "开电子发票报税号不对"]),
    _p("wechat-pay", "支付结算", "技术故障",
       ["微信支付时提示商户号配置错误",
        "微信付款报错：商户号无效",
        "用微信支付提示商户配置异常"],
       "商户证书过期",
       "永久方案：更新微信支付商户证书",
       ["微信支付 商户号 报错", "微信付款提示商户配置有问题"]),
    # -- 报表导出 ------------------------------------------------------------------------
    _p("garbled", "报表导出", "技术故障",
       ["导出的CSV用Excel打开中文乱码",
        "报表导出后中文全是乱码",
        "下载的报表文件打开显示乱码"],
       "CSV文件未带UTF-8 BOM",
       "永久方案：导出文件改为带BOM的UTF-8编码",
       ["导出文件 乱码", "csv 中文乱码"]),
    _p("export-timeout", "报表导出", "技术故障",
       ["导出全年数据时页面超时报错",
        "大数据量报表导出失败提示超时",
        "导出１０万行报表一直超时"],
       "同步导出超过网关60秒限制",
       "永久方案：大报表改为后台异步导出，完成后发送下载链接",
       ["报表导出超时", "数据太多导不出来 超时"]),
    _p("slow-report", "报表导出", "投诉建议",
       ["反映报表加载太慢",
        "报表页面打开要等一分钟",
        "投诉报表查询速度很慢"],
       "报表查询未走索引",
       "永久方案：优化查询并加索引",
       ["报表很慢", "报表打开太慢了"]),
    # -- 移动端App -----------------------------------------------------------------------
    _p("crash", "移动端App", "技术故障",
       ["App打开后闪退",
        "安卓手机上应用启动就闪退",
        "升级到新版本后App一打开就崩溃退出"],
       "新版本与安卓14兼容问题",
       "临时方案：回退到上一版本；永久方案：发布修复版本V3.2.1",
       ["app 闪退", "ＡＰＰ启动崩溃"]),
    _p("upload", "移动端App", "技术故障",
       ["App无法上传图片",
        "在App里上传照片一直失败",
        "上传附件图片时提示上传失败"],
       "图片超过10MB限制",
       "永久方案：上传前自动压缩图片",
       ["图片传不上去", "上传照片失败"]),
    _p("white-screen", "移动端App", "技术故障",
       ["App首页白屏不显示内容",
        "打开App后一片空白",
        "应用首页加载不出来，显示空白页"],
       "首页接口返回异常数据导致渲染中断",
       "永久方案：首页接口增加容错，异常时显示默认内容",
       ["首页白屏", "app打开空白"]),
    # -- 消息推送 ------------------------------------------------------------------------
    _p("push", "消息推送", "技术故障",
       ["手机收不到App的推送通知",
        "消息推送不提醒",
        "关掉后台后就收不到任何推送消息"],
       "手机系统限制后台推送",
       "永久方案：指导开启通知权限和自启动，接入厂商推送通道",
       ["推送通知收不到", "没有消息推送提醒"]),
    _p("spam-mail", "消息推送", "技术故障",
       ["系统发的邮件通知进了垃圾箱",
        "通知邮件被识别为垃圾邮件",
        "客户说提醒邮件都在垃圾邮件里"],
       "发信域名未配置SPF记录",
       "永久方案：配置SPF和DKIM记录",
       ["通知邮件 垃圾箱", "邮件提醒被当成垃圾邮件"]),
    _p("dup-sms", "消息推送", "技术故障",
       ["同一条短信通知收到好几遍",
        "短信提醒重复发送",
        "客户反映一条通知短信连发三次"],
       "发送失败重试未判断已送达",
       "永久方案：短信重试前校验送达回执",
       ["短信重复", "通知短信发了好多次"]),
    # -- 权限管理 ------------------------------------------------------------------------
    _p("sub-account", "权限管理", "操作指导",
       ["不会设置子账号权限",
        "如何给子账号分配角色",
        "新员工的子账号怎么配置菜单权限"],
       "角色配置入口较深",
       "永久方案：远程指导配置角色",
       ["子账号 权限 设置", "给员工子账号分配角色权限"]),
    _p("handover", "权限管理", "操作指导",
       ["员工离职后如何转移其客户数据",
        "离职人员的数据怎么交接给别人",
        "怎么把离职员工名下的客户转给新同事"],
       "客户不熟悉离职交接功能",
       "永久方案：指导使用 设置→离职交接 批量转移客户",
       ["离职 数据交接", "离职员工客户转移"]),
    _p("perm-stale", "权限管理", "技术故障",
       ["修改角色权限后不生效",
        "已勾选权限但员工还是看不到菜单",
        "权限调整后重新登录仍然无权访问"],
       "权限缓存未刷新",
       "临时方案：后台清除权限缓存；永久方案：权限变更时自动刷新缓存",
       ["权限改了没生效", "配置权限后看不到菜单"]),
    # -- 数据同步 ------------------------------------------------------------------------
    _p("erp", "数据同步", "技术故障",
       ["与ERP的库存数据同步失败",
        "ERP库存同步接口报错",
        "库存数据没有从ERP同步过来"],
       "ERP接口账号密码已过期",
       "永久方案：更新ERP接口凭据并增加失败告警",
       ["erp 同步失败", "库存同步不过来"]),
    _p("sync-delay", "数据同步", "技术故障",
       ["门店销售数据同步延迟两小时",
        "销售数据要隔很久才同步到总部",
        "数据同步慢，总部看到的销售数据滞后"],
       "同步任务每两小时执行一次",
       "永久方案：同步频率改为每10分钟",
       ["同步延迟", "销售数据同步很慢 滞后"]),
    # -- 硬件设备 ------------------------------------------------------------------------
    _p("dead-device", "硬件设备", "退换货",
       ["收到的设备无法开机，要求换货",
        "新买的考勤机开不了机，申请换货",
        "设备到货后按电源键没反应，要换新的"],
       "设备电池故障",
       "永久方案：寄出新设备并回收故障机",
       ["设备开不了机 换货", "新机器无法开机"]),
    _p("printer", "硬件设备", "技术故障",
       ["小票打印机不出纸",
        "收银打印机打印时不出小票",
        "打印小票没反应，打印机指示灯正常"],
       "打印纸装反",
       "永久方案：指导正确安装热敏纸（光面朝外）",
       ["打印机不出纸", "小票打印不出来"]),
)  # fmt: skip

#: one-off solved records in the same modules: (module, type, description, analysis, solution)
DISTRACTORS: tuple[tuple[str, str, str, str, str], ...] = (
    ("考勤打卡", "技术故障", "考勤机时间比北京时间快了十分钟", "考勤机未联网校时", "永久方案：开启自动校时"),
    ("考勤打卡", "技术故障", "排班表保存后部分班次消失", "班次名称含特殊字符", "永久方案：修复特殊字符转义"),
    ("考勤打卡", "功能咨询", "如何设置弹性工作时间", "客户咨询功能", "永久方案：发送弹性班次配置说明"),
    ("考勤打卡", "功能咨询", "加班时长能否自动计算", "客户咨询功能", "永久方案：介绍加班规则设置"),
    ("登录模块", "技术故障", "登录页面的图形验证码图片不显示", "验证码图片服务宕机", "永久方案：重启图片服务并加监控"),
    ("登录模块", "技术故障", "修改密码后旧密码仍能登录", "会话未失效", "永久方案：改密后注销所有会话"),
    ("订单管理", "技术故障", "订单详情页商品图片加载不出来", "图片CDN域名过期", "永久方案：续费CDN域名"),
    ("订单管理", "技术故障", "订单备注超过200字无法保存", "字段长度限制", "永久方案：备注长度放宽到500字"),
    ("支付结算", "技术故障", "对账单金额与实际收款差一分钱", "四舍五入规则不一致", "永久方案：统一按分计算"),
    ("支付结算", "技术故障", "支付宝支付回调通知延迟", "回调队列积压", "永久方案：扩容回调队列"),
    ("报表导出", "技术故障", "报表中的日期列显示为数字", "单元格格式未设置", "永久方案：导出时设置日期格式"),
    ("报表导出", "技术故障", "导出的报表缺少合计行", "模板未配置合计", "永久方案：模板增加合计行"),
    ("移动端App", "技术故障", "App字体太小看不清", "未适配系统字体大小", "永久方案：支持跟随系统字号"),
    ("移动端App", "技术故障", "iOS版本无法切换深色模式", "未适配深色模式", "永久方案：发布深色模式适配"),
    ("消息推送", "技术故障", "推送消息的跳转链接打不开", "链接参数编码错误", "永久方案：修复链接编码"),
    ("权限管理", "操作指导", "怎么查看操作日志", "客户不熟悉日志入口", "永久方案：指导 设置→操作日志"),
    ("数据同步", "技术故障", "同步后客户名称出现重复", "同步未按客户编号去重", "永久方案：按客户编号去重"),
    ("硬件设备", "技术故障", "扫码枪扫不出条码", "扫码枪模式设置错误", "永久方案：恢复扫码枪出厂设置"),
)  # fmt: skip

START = datetime(2024, 3, 4, 9, 0)


def planted_rows(*, ratings: bool = True) -> tuple[list[dict[str, Any]], list[str | None]]:
    """Every planted record as a register row (form keys), and its problem key (None for a
    distractor). Records are received one after another, 7 h apart, problems interleaved
    (first record of every problem, then the second of every problem, …), distractors last;
    record ``i`` of a problem is rated ``5 - i % 3``."""
    rows: list[dict[str, Any]] = []
    keys: list[str | None] = []
    depth = max(len(p.records) for p in PROBLEMS)
    n = 0

    def add(module, ptype, desc, analysis, solution, key, rating) -> None:
        nonlocal n
        received = START + timedelta(hours=7 * n)
        rows.append({
            "module": module, "problem_type": ptype, "description": desc,
            "analysis": analysis, "solution": solution, "status": "已解决",
            "occurred_at": received - timedelta(minutes=20), "received_at": received,
            "resolved_at": received + timedelta(hours=2),
            "satisfaction": rating if ratings else None,
            "customer": f"示例客户{n % 40 + 1:02d}/C{n % 40 + 1:04d}",
        })  # fmt: skip
        keys.append(key)
        n += 1

    for i in range(depth):
        for p in PROBLEMS:
            if i < len(p.records):
                analysis, solution = _worded(p, i)
                add(p.module, p.problem_type, p.records[i], analysis, solution, p.key, 5 - i % 3)
    for module, ptype, desc, analysis, solution in DISTRACTORS:
        add(module, ptype, desc, analysis, solution, None, 4)
    return rows, keys


def _worded(p: Problem, i: int) -> tuple[str | None, str]:
    """The analysis and solution of record ``i`` of ``p`` as different staff write them up:
    as given; with a closing remark; without analysis and with only the permanent part of the
    solution, its label dropped; with a follow-up note."""
    if i == 1:
        return f"经排查：{p.analysis}", f"{p.solution}，客户确认已恢复"
    if i == 2:
        last = p.solution.split("；")[-1]
        return None, last.split("：", 1)[-1]
    if i == 3:
        return p.analysis, f"{p.solution}。已回访，问题未再出现"
    return p.analysis, p.solution


def queries() -> list[tuple[str, str]]:
    """Every held-apart query with the key of the problem it is about."""
    return [(q, p.key) for p in PROBLEMS for q in p.queries]
