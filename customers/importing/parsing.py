"""Cells → values: text, phones, dates, amounts, choices. Errors are `CellError` with a
message in the user's language.

Cells come as str (CSV) or as whatever openpyxl gives (int, float, datetime, bool, None).
Parsers are built per import (`Parsers`), so their caches hold messages in that import's
language and die with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..money import AMOUNT_MAX
from ..phones import cn_mobile_valid, invalid_phone_error, normalize_phone
from .columns import normalize_header

CENT = Decimal("0.01")
EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 - Excel serials are wall-clock, no zone
# Spreadsheets run these as formulas, the full-width forms too (typed with a Chinese IME).
FORMULA_START = frozenset("=+-@＝＋－＠﹦")
# What people type into a cell that means "nothing here".
PLACEHOLDERS = frozenset({"-", "--", "—", "——", "/", "n/a", "na", "null", "none", "无", "暂无"})
_PLACEHOLDER_START = frozenset(p[0] for p in PLACEHOLDERS) | frozenset(
    p[0].upper() for p in PLACEHOLDERS
)


class CellError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet run this cell as a formula (or as its start)?"""
    if not text:
        return False
    if text[0] in "\t\r":
        return True
    stripped = text.lstrip()
    return bool(stripped) and stripped[0] in FORMULA_START


def is_quoted_by_export(text: str) -> bool:
    """Does `text` carry the exporter's quote? It quotes formula-like text and text that
    starts with a quote itself, so that '=1+1 and a neutralised =1+1 stay apart."""
    return len(text) > 1 and text[0] == "'" and (text[1] == "'" or is_formula_like(text[1:]))


def cell_text(raw: Any) -> str:
    """Any cell as stripped text; undoes the exporter's neutralising quote ('=…, '+86…)."""
    if type(raw) is str:
        text = raw.strip()
        if text and text[0] == "'" and is_quoted_by_export(text):
            text = text[1:].strip()
        if text and text[0] in _PLACEHOLDER_START and text.lower() in PLACEHOLDERS:
            return ""
        return text
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, datetime):
        return raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw).strip()


def text_parser(max_length: int | None) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        if type(raw) is str:  # the common case, without a call
            text = raw.strip()
            if text and (text[0] == "'" or text[0] in _PLACEHOLDER_START):
                text = cell_text(text)
        else:
            text = cell_text(raw)
        if max_length is not None and len(text) > max_length:
            raise CellError(
                _("Too long: %(length)d characters, at most %(max)d.")
                % {"length": len(text), "max": max_length}
            )
        return text

    return parse


def business_zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


# --- dates -----------------------------------------------------------------------------

_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_TIME = r"(\d{1,2})\s*[:：时点]\s*(\d{1,2})\s*分?(?:\s*[:：]?\s*(\d{1,2})(?:[.,]\d+)?\s*秒?)?"
_DATETIME_RE = re.compile(_DATE + r"(?:\s*T?\s*" + _TIME + r")?")
_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:[\sT]*(\d{2}):?(\d{2})(?::?(\d{2}))?)?")
_SERIAL_RE = re.compile(r"\d{1,5}(?:\.\d+)?")
_TIME_RE = re.compile(_TIME)


def _not_a_date(value: Any) -> CellError:
    return CellError(
        _("“%(value)s” is not a date. Write it like 2025-03-01 or 2025/3/1.") % {"value": value}
    )


def _build(parts: tuple, text: Any) -> date | datetime:
    try:
        y, m, d = int(parts[0]), int(parts[1]), int(parts[2])
        if not 1900 <= y <= 2200:
            raise ValueError
        if parts[3] is None:
            return date(y, m, d)
        return datetime(y, m, d, int(parts[3]), int(parts[4]), int(parts[5] or 0))  # noqa: DTZ001
    except ValueError:
        raise _not_a_date(text) from None


def from_number(number: float, text: Any) -> date | datetime:
    """A number in a date column: 20250301, or an Excel serial (45717 = 2025-03-01)."""
    if number == int(number) and 19000101 <= number <= 22001231:
        digits = str(int(number))
        return _build((digits[:4], digits[4:6], digits[6:], None), text)
    if not 1 <= number < 100000:
        raise _not_a_date(text)
    moment = EXCEL_EPOCH + timedelta(days=number)
    if number == int(number):
        return moment.date()
    return moment.replace(microsecond=0) + timedelta(seconds=round(moment.microsecond / 1e6))


def parse_when_text(text: str) -> date | datetime:
    """date for a date, naive or aware datetime when a time is given."""
    if m := _DATETIME_RE.fullmatch(text):
        return _build(m.groups(), text)
    if m := _COMPACT_RE.fullmatch(text):
        return _build(m.groups(), text)
    if _SERIAL_RE.fullmatch(text):
        return from_number(float(text), text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _not_a_date(text) from None


def parse_time_text(text: str) -> time:
    if m := _TIME_RE.fullmatch(text):
        try:
            return time(int(m[1]), int(m[2]), int(m[3] or 0))
        except ValueError:
            pass
    raise CellError(_("“%(value)s” is not a time of day. Write it like 14:30.") % {"value": text})


# --- amounts ---------------------------------------------------------------------------

_PLAIN = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_CURRENCY = re.compile(r"(?i)rmb|cny|人民币|元|¥|\$|\s")


def _checked_amount(value: Decimal, text: Any) -> Decimal:
    if value < 0:
        raise CellError(_("An amount cannot be negative."))
    value = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if value > AMOUNT_MAX:
        raise CellError(
            _("“%(value)s” is too large an amount: at most %(max)s.")
            % {"value": text, "max": f"{AMOUNT_MAX:,.2f}"}
        )
    return value


def parse_amount(raw: Any) -> Decimal | None:
    """¥1,280.50 / ￥ 1 280 / 1280元 / RMB 12.5 / full-width digits → Decimal; None if blank."""
    if type(raw) is str:
        text = raw.strip()
        if _PLAIN.fullmatch(text):
            return _checked_amount(Decimal(text), text)
        text = cell_text(raw)
        if not text:
            return None
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        compact = _CURRENCY.sub("", text)
        if compact.startswith(("-", "−")) or (compact.startswith("(") and compact.endswith(")")):
            raise CellError(_("An amount cannot be negative."))
        compact = compact.removeprefix("+")
        if "," in compact:
            if not _THOUSANDS.fullmatch(compact):
                raise CellError(_("“%(value)s” is not an amount.") % {"value": text})
            compact = compact.replace(",", "")
        if not _PLAIN.fullmatch(compact):
            raise CellError(_("“%(value)s” is not an amount.") % {"value": text})
        return _checked_amount(Decimal(compact), text)
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise CellError(_("“%(value)s” is not an amount.") % {"value": raw})
    if isinstance(raw, int | Decimal):
        return _checked_amount(Decimal(raw), raw)
    if isinstance(raw, float):
        try:
            return _checked_amount(Decimal(repr(raw)), raw)
        except InvalidOperation:
            raise CellError(_("“%(value)s” is not an amount.") % {"value": raw}) from None
    return parse_amount(str(raw))


# --- choices ---------------------------------------------------------------------------

BOOL_WORDS = {
    True: ("yes", "y", "true", "t", "1", "是", "有", "同意", "已同意", "√", "✓", "✔", "on"),
    False: ("no", "n", "false", "f", "0", "否", "不", "不同意", "未同意", "×", "✗", "✘", "off"),
}

GENDER_WORDS = {
    "male": ("m", "男", "男性", "先生", "man"),
    "female": ("f", "女", "女性", "女士", "小姐", "woman"),
    "other": ("其他", "其它", "未知"),
}
SOURCE_WORDS = {
    "walk_in": ("到店", "自然到店", "进店", "路过", "门店", "walkin", "walk in", "store"),
    "referral": ("转介绍", "介绍", "朋友介绍", "老客介绍", "老带新", "推荐", "referred"),
    "wechat": ("微信", "朋友圈", "公众号", "小程序", "weixin"),
    "online": (
        "线上",
        "网络",
        "抖音",
        "美团",
        "大众点评",
        "点评",
        "小红书",
        "淘宝",
        "网店",
        "douyin",
    ),
    "phone": ("电话", "来电", "telephone"),
    "event": ("活动", "展会", "地推", "events"),
    "other": ("其他", "其它"),
}
STATUS_WORDS = {
    "lead": ("潜在", "潜在客户", "意向", "意向客户", "prospect"),
    "active": ("活跃", "正常", "有效", "在用"),
    "inactive": ("不活跃", "沉睡", "休眠", "dormant"),
    "lost": ("流失", "已流失", "churned"),
    "blocked": ("拉黑", "黑名单", "屏蔽", "禁用", "blacklisted"),
}


def _choice_table(choices: list[tuple[str, Any]], words: dict[str, tuple[str, ...]]) -> dict:
    table: dict[str, str] = {}
    for code, _label in choices:
        table[normalize_header(code)] = code
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for code, label in choices:
                table.setdefault(normalize_header(str(label)), code)
    for code, synonyms in words.items():
        for word in synonyms:
            table.setdefault(normalize_header(word), code)
    return table


def choice_parser(choices: list[tuple[str, Any]], words: dict) -> Callable[[Any], str]:
    table = _choice_table(choices, words)
    shown = ", ".join(str(label) for _code, label in choices)

    def parse(raw: Any) -> str:
        text = cell_text(raw)
        if not text:
            return ""
        code = table.get(normalize_header(text))
        if code is None:
            raise CellError(
                _("“%(value)s” is not one of: %(choices)s.") % {"value": text, "choices": shown}
            )
        return code

    return parse


def bool_parser() -> Callable[[Any], bool | None]:
    table = {normalize_header(w): v for v, words in BOOL_WORDS.items() for w in words}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            table.setdefault(normalize_header(_("yes")), True)
            table.setdefault(normalize_header(_("no")), False)

    def parse(raw: Any) -> bool | None:
        if isinstance(raw, bool):
            return raw
        text = cell_text(raw)
        if not text:
            return None
        value = table.get(normalize_header(text))
        if value is None:
            raise CellError(_("“%(value)s” is neither yes nor no.") % {"value": text})
        return value

    return parse


_TAG_SPLIT = re.compile(r"[,，;；、|\n]+")


def parse_tags(raw: Any) -> list[str]:
    names = []
    for part in _TAG_SPLIT.split(cell_text(raw)):
        name = part.strip()
        if not name or name in names:
            continue
        if len(name) > 40:
            raise CellError(
                _("The tag “%(value)s” is longer than 40 characters.") % {"value": name}
            )
        names.append(name)
    return names


def parse_email(raw: Any) -> str:
    text = cell_text(raw)
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        raise CellError(_("“%(value)s” is not an email address.") % {"value": text}) from None
    if len(text) > 254:
        raise CellError(_("“%(value)s” is not an email address.") % {"value": text})
    return text


# --- the per-import parser set ---------------------------------------------------------

_PHONE_JUNK = str.maketrans("", "", " -\u00a0\u3000\t")
_CN_MOBILE = re.compile(r"(?:\+86|0086)?(1[3-9]\d{9})")


class Parsers:
    """Parsers bound to one business (phone region, time zone), with caches for this import."""

    def __init__(self, *, region: str, time_zone: str):
        self.region = (region or "CN").upper()
        self.zone = business_zone(time_zone)
        self._phone_text = lru_cache(maxsize=1 << 18)(self._phone_uncached)
        self._when_text = lru_cache(maxsize=1 << 16)(self._when_uncached)

    # Phones are the hot spot: a plain Chinese mobile skips phonenumbers, and every distinct
    # string is parsed once.
    def _phone_uncached(self, text: str) -> tuple[str, str | None]:
        compact = text.translate(_PHONE_JUNK)
        m = _CN_MOBILE.fullmatch(compact)
        if m and (self.region == "CN" or compact[0] in "+0"):
            if cn_mobile_valid(m[1]):
                return "+86" + m[1], None
            return "", invalid_phone_error(text, self.region).messages[0]
        try:
            return normalize_phone(text, self.region), None
        except ValidationError as exc:
            return "", exc.messages[0]

    def phone(self, raw: Any) -> str:
        text = cell_text(raw)
        if not text:
            return ""
        value, error = self._phone_text(text)
        if error:
            raise CellError(error)
        return value

    def _when_uncached(self, text: str) -> tuple[date | datetime | None, str | None]:
        try:
            return parse_when_text(text), None
        except CellError as exc:
            return None, exc.message

    def when(self, raw: Any) -> date | datetime | None:
        if isinstance(raw, datetime | date):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return from_number(raw, raw)
        text = cell_text(raw)
        if not text:
            return None
        value, error = self._when_text(text)
        if error:
            raise CellError(error)
        return value

    def day(self, raw: Any) -> date | None:
        value = self.when(raw)
        if isinstance(value, datetime):
            if timezone.is_aware(value):
                value = value.astimezone(self.zone)
            return value.date()
        return value

    def moment(self, raw: Any, at: time | None = None) -> datetime | None:
        """An aware datetime in the business's zone, to the second; a bare date is midnight."""
        value = self.when(raw)
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.combine(value, at or time.min)  # made aware below
        if timezone.is_naive(value):
            value = value.replace(tzinfo=self.zone)
        return value.replace(microsecond=0)

    def time_of_day(self, raw: Any) -> time | None:
        if isinstance(raw, time):
            return raw.replace(microsecond=0)
        if isinstance(raw, datetime):
            return raw.time().replace(microsecond=0)
        if isinstance(raw, float) and 0 <= raw < 1:  # Excel keeps a time as a fraction of a day
            return (EXCEL_EPOCH + timedelta(seconds=round(raw * 86400))).time()
        text = cell_text(raw)
        return parse_time_text(text) if text else None
