"""Column headers as people write them → the fields they mean.

Matching is case-, space-, underscore-, hyphen- and width-insensitive (NFKC), and ignores a
bracketed note ("金额(元)", "手机号（必填）"). Every label the exporter writes, in every
language the site offers, is accepted too, so an exported file imports back unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

CUSTOMERS = "customers"
PURCHASES = "purchases"

# The labels shown in errors, summaries and as export headers.
LABELS = {
    "customer_no": _("Customer number"),
    "name": _("Name"),
    "phone": _("Phone"),
    "wechat_id": _("WeChat ID"),
    "email": _("Email"),
    "gender": _("Gender"),
    "birthday": _("Birthday"),
    "city": _("City"),
    "source": _("Source"),
    "tags": _("Tags"),
    "status": _("Status"),
    "marketing_consent": _("Marketing consent"),
    "assigned_to": _("Assigned to"),
    "notes": _("Notes"),
    "occurred_at": _("Date"),
    "time": _("Time"),
    "amount": _("Amount"),
    "cost": _("Cost"),
    "margin": _("Margin"),
    "channel": _("Channel"),
    "items": _("Items"),
    "external_id": _("External id"),
}

ALIASES: dict[str, tuple[str, ...]] = {
    "customer_no": (
        "customer_no", "customer number", "customer no", "customer id", "member no",
        "member number", "membership number", "membership no", "card no", "card number",
        "member id", "vip no", "会员号", "会员卡号", "卡号", "会员编号", "客户编号", "客户号",
        "编号", "会员id", "客户id", "会员卡",
    ),
    "name": (
        "name", "full name", "customer name", "customer", "member name", "contact", "姓名",
        "名字", "客户", "客户名", "客户姓名", "客户名称", "会员姓名", "会员名", "联系人", "称呼",
        "顾客", "顾客姓名",
    ),
    "phone": (
        "phone", "mobile", "cell", "cellphone", "tel", "telephone", "phone number", "mobile phone",
        "mobile number", "contact number", "手机", "手机号", "手机号码", "电话", "电话号码",
        "联系电话", "联系方式", "移动电话", "会员手机", "会员手机号",
    ),
    "wechat_id": ("wechat", "wechat id", "weixin", "wx", "微信", "微信号", "微信id"),
    "email": ("email", "e-mail", "mail", "email address", "邮箱", "电子邮件", "电子邮箱", "邮件"),
    "gender": ("gender", "sex", "性别"),
    "birthday": (
        "birthday", "birth date", "date of birth", "dob", "生日", "出生日期", "出生年月日",
    ),
    "city": ("city", "town", "城市", "所在城市", "地区", "所在地"),
    "source": ("source", "acquisition source", "lead source", "来源", "客户来源", "获客渠道"),
    "tags": ("tags", "tag", "labels", "label", "标签", "客户标签"),
    "status": ("status", "state", "状态", "客户状态"),
    "marketing_consent": (
        "marketing consent", "consent", "opt in", "营销同意", "同意营销", "接收营销", "营销许可",
    ),
    "assigned_to": (
        "assigned to", "assignee", "staff", "sales rep", "负责人", "跟进人", "专属顾问",
    ),
    "notes": ("notes", "note", "remark", "remarks", "comment", "comments", "备注", "说明", "附注"),
    "occurred_at": (
        "date", "datetime", "when", "purchase date", "order date", "order time",
        "sale date", "transaction date", "paid at", "日期", "购买日期", "消费日期",
        "消费时间", "下单时间", "下单日期", "交易时间", "交易日期", "订单日期", "订单时间",
        "支付时间", "销售日期",
    ),
    "time": ("time", "time of day", "时间", "时刻"),
    "amount": (
        "amount", "total", "price", "sales", "paid", "amount paid", "order amount", "金额",
        "消费金额", "实付金额", "实收金额", "实付", "实收", "总额", "订单金额", "销售额",
        "支付金额",
    ),
    "cost": ("cost", "cost price", "成本", "成本价", "进价"),
    "margin": ("margin", "gross margin", "profit", "gross profit", "毛利", "利润", "毛利额"),
    "channel": ("channel", "sales channel", "渠道", "销售渠道", "购买渠道", "消费渠道"),
    "items": (
        "items", "item", "products", "product", "goods", "details", "商品", "品项", "明细",
        "商品明细", "商品名称", "项目", "服务项目",
    ),
    "external_id": (
        "external_id", "external id", "order no", "order number", "order id", "receipt no",
        "receipt number", "transaction id", "单号", "订单号", "订单编号", "流水号", "小票号",
        "交易号", "交易单号",
    ),
}  # fmt: skip

FIELDS = {
    CUSTOMERS: (
        "customer_no", "name", "phone", "wechat_id", "email", "gender", "birthday", "city",
        "source", "tags", "status", "marketing_consent", "assigned_to", "notes",
    ),
    PURCHASES: (
        "occurred_at", "time", "customer_no", "name", "phone", "amount", "cost", "margin",
        "channel", "items", "external_id",
    ),
}  # fmt: skip


def register_kind(
    kind: str,
    fields: Sequence[str],
    labels: dict[str, Any] | None = None,
    aliases: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """A higher app's own import kind (membership's opening balances), from its ready():
    its fields in matching order, labels and aliases of the fields that are new."""
    FIELDS[kind] = tuple(fields)
    for name, label in (labels or {}).items():
        LABELS.setdefault(name, label)
    for name, words in (aliases or {}).items():
        ALIASES.setdefault(name, words)
    _alias_table.cache_clear()


_NOTE = re.compile(r"[(（\[【].*?[)）\]】]")
_SEPARATORS = re.compile(r"[\s_\-*:：.。/#№'\"]+")


def normalize_header(text: Any) -> str:
    value = unicodedata.normalize("NFKC", "" if text is None else str(text)).lower()
    bare = _SEPARATORS.sub("", _NOTE.sub("", value))
    return bare or _SEPARATORS.sub("", value)


@cache
def _alias_table(kind: str, languages: tuple[str, ...]) -> dict[str, str]:
    table: dict[str, str] = {}
    for name in FIELDS[kind]:
        for alias in ALIASES[name]:
            table.setdefault(normalize_header(alias), name)
    for language in languages:
        with translation.override(language):
            for name in FIELDS[kind]:
                table.setdefault(normalize_header(str(LABELS[name])), name)
    return table


def alias_table(kind: str) -> dict[str, str]:
    return _alias_table(kind, tuple(code for code, _name in settings.LANGUAGES))


@dataclass
class ColumnMap:
    """Which file column feeds which field, and which columns are ignored."""

    fields: dict[str, tuple[int, str]] = field(default_factory=dict)  # field → (index, header)
    ignored: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        """The column as the file names it, else the field's label."""
        if name in self.fields:
            return self.fields[name][1]
        return str(LABELS[name])


def map_headers(headers: Sequence[str], kind: str) -> ColumnMap:
    table = alias_table(kind)
    result = ColumnMap()
    for index, header in enumerate(headers):
        if not header:
            continue
        name = table.get(normalize_header(header))
        if name is None or name in result.fields:
            result.ignored.append(header)
            continue
        result.fields[name] = (index, header)
    return result


def header_scorer(kind: str):
    table = alias_table(kind)

    def score(cells: Sequence[Any]) -> int:
        return len(
            {table[n] for c in cells if c is not None and (n := normalize_header(c)) in table}
        )

    return score
