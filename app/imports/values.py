"""Cell values as spreadsheets hold them, turned into dates, numbers, codes and taxonomy keys."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.cases.taxonomy import PARTIES, PROBLEM_TYPES, REMEDIES
from app.imports.messages import MessageError
from app.rules.facts import N_


class ValueProblem(MessageError):
    """A cell that cannot be read as what its column holds; the message is shown to the user."""


# Excel counts days from 1899-12-30 (its 1900 leap-year bug included); 2958465 is 9999-12-31.
EXCEL_EPOCH = date(1899, 12, 30)
EXCEL_MAX_SERIAL = 2958465
_DATE_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# 22/03/2025, 03/22/2025, 5.3.2026, 22-03-25: which number is the day is the file's choice (DAY_FIRST or not).
DAY_MONTH = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4}|\d{2})$")
_TIME_OF_DAY = re.compile(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?|[ T]00:00:00\.?\d*Z?)$")
MONTH_NAMES: dict[str, int] = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
    "一月": 1, "二月": 2, "三月": 3, "四月": 4, "五月": 5, "六月": 6, "七月": 7, "八月": 8, "九月": 9,
    "十月": 10, "十一月": 11, "十二月": 12, "正月": 1, "腊月": 12,
}  # fmt: skip
_DATE_WORDS = re.compile(r"\d+|[A-Za-z]+|[一二三四五六七八九十正腊]+月")
_ORDINAL = re.compile(r"(\d)(?:st|nd|rd|th)\b", re.IGNORECASE)
DATE_ORDERS = ("dmy", "mdy")


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any, *, limit: int = 200) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an order number typed as 4500012 comes back from Excel as 4500012.0
    result = str(value).strip()
    if len(result) > limit:
        raise ValueProblem(N_("Keep this under %(limit)s characters."), limit=limit)
    return result


def parse_email(value: Any) -> str:
    """One email address (a supplier's claims address), or "" for an empty cell."""
    result = text(value, limit=254)
    if result and ("@" not in result or any(c in result for c in " \r\n,;<>")):
        raise ValueProblem(N_("%(value)s is not one email address."), value=repr(result))
    return result


def parse_minimum_claim(value: Any) -> tuple[Decimal | None, str | None]:
    """The smallest claim a supplier looks at, with the currency written next to it if any."""
    amount, currency = parse_amount(value)
    if amount is not None and amount < 0:
        raise ValueProblem(N_("A minimum claim cannot be negative."))
    return amount, currency


def parse_date(value: Any, *, order: str = "dmy") -> date | None:
    """Excel serials and dates, ISO, 2026/3/5, 2026年3月5日, 20260305, 22 Mar 2025, Mar 22, 2025, 22-Mar-25,
    and 22/03/2025 or 03/22/2025 read in the file's ``order`` (``dmy`` or ``mdy``)."""
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_serial(float(value))
    raw = str(value).strip()
    # "2026-03-05 14:30", "2026-03-05T14:30:00+08:00", "22/03/2025 9:15 AM" → the day
    head = re.split(r"[ T]", raw, maxsplit=1)[0] if re.match(r"\d{4}\D", raw) else _TIME_OF_DAY.sub("", raw).strip()
    found: tuple[int, int, int] | None = None
    if match := _DATE_YMD.match(head) or _DATE_COMPACT.match(head):
        found = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    elif match := DAY_MONTH.match(head):
        first, second, year = (int(part) for part in match.groups())
        day, month = (first, second) if order == "dmy" else (second, first)
        found = (_full_year(year, match.group(3)), month, day)
    elif re.fullmatch(r"\d{1,7}(\.\d+)?", raw):
        return _from_serial(float(raw))
    else:
        found = _named_month(head)
    if found is None:
        unknown = N_("%(value)s is not a date; use 2026-03-05, 2026/3/5, 2026年3月5日 or 5 Mar 2026.")
        raise ValueProblem(unknown, value=repr(raw))
    try:
        return date(*found)
    except ValueError:
        raise ValueProblem(N_("%(value)s is not a real date."), value=repr(raw)) from None


def _full_year(year: int, written: str) -> int:
    """Two-digit years as Python's %y reads them: 69-99 are 19xx, the rest 20xx."""
    if len(written) > 2:
        return year
    return 1900 + year if year >= 69 else 2000 + year


def _named_month(head: str) -> tuple[int, int, int] | None:
    """22 Mar 2025, Mar 22, 2025, 22-Mar-25, March 22nd 2025, 2025-Mar-22, 22 三月 2025: (year, month, day)."""
    words = _DATE_WORDS.findall(_ORDINAL.sub(r"\1", head))
    months = [MONTH_NAMES.get(word.lower()) for word in words]
    if len(words) != 3 or sum(month is not None for month in months) != 1:
        return None
    position = next(i for i, month in enumerate(months) if month is not None)
    numbers = [word for i, word in enumerate(words) if i != position]
    if not all(number.isdigit() for number in numbers):
        return None
    month = months[position]
    assert month is not None
    if len(numbers[0]) == 4:  # 2025-Mar-22
        year_text, day_text = numbers
    else:  # 22 Mar 2025, Mar 22, 2025, 22-Mar-25
        day_text, year_text = numbers
    return _full_year(int(year_text), year_text), month, int(day_text)


def date_order_of(cells: Any) -> tuple[str | None, bool]:
    """The day/month order a file's day-month dates show (a first number over 12 is a day), and whether it has any.

    ``(None, True)``: every such date reads both ways (03/04/2025), so the user is asked.
    """
    seen = False
    for cell in cells:
        if not isinstance(cell, str):
            continue
        match = DAY_MONTH.match(_TIME_OF_DAY.sub("", cell.strip()).strip())
        if not match:
            continue
        seen = True
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 >= second:
            return "dmy", True
        if second > 12 >= first:
            return "mdy", True
    return None, seen


def _from_serial(serial: float) -> date:
    if not 1 <= serial <= EXCEL_MAX_SERIAL:
        raise ValueProblem(N_("%(value)s is not an Excel date."), value=f"{serial:g}")
    return EXCEL_EPOCH + timedelta(days=int(serial))


CURRENCY_WORDS: dict[str, str] = {
    "¥": "CNY", "￥": "CNY", "元": "CNY", "人民币": "CNY", "RMB": "CNY", "CNY": "CNY",
    "$": "USD", "US$": "USD", "美元": "USD", "美金": "USD",
    "€": "EUR", "欧元": "EUR",
    "£": "GBP", "英镑": "GBP",
    "港币": "HKD", "港元": "HKD", "HK$": "HKD",
    "日元": "JPY",
}  # fmt: skip
_AMOUNT = re.compile(r"^([^\d\-+.,]*)\s*([-+]?[\d.,\s]+)\s*([^\d.,]*)$")


def parse_currency(value: Any) -> str | None:
    if is_blank(value):
        return None
    raw = str(value).strip()
    code = CURRENCY_WORDS.get(raw) or CURRENCY_WORDS.get(raw.upper())
    if code:
        return code
    if len(raw) == 3 and raw.isascii() and raw.isalpha():
        return raw.upper()
    raise ValueProblem(N_("%(value)s is not a currency; use a code such as CNY, USD or EUR."), value=repr(raw))


def parse_amount(value: Any) -> tuple[Decimal | None, str | None]:
    """An amount and the currency written next to it, if any: ¥1,234.50, 1234.5 USD, 100元."""
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        raise ValueProblem(N_("A yes/no value is not an amount."))
    if isinstance(value, int):
        return Decimal(value), None
    if isinstance(value, float):
        return Decimal(repr(value)), None  # repr keeps 12.3 as 12.3, not 12.2999…
    raw = str(value).strip()
    match = _AMOUNT.match(raw)
    if not match:
        raise ValueProblem(N_("%(value)s is not an amount."), value=repr(raw))
    prefix, number, suffix = (part.strip() for part in match.groups())
    currency = None
    for word in (prefix, suffix):
        if word:
            currency = parse_currency(word)
    number = number.replace(" ", "").replace(",", "")
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise ValueProblem(N_("%(value)s is not an amount."), value=repr(raw)) from None
    if not amount.is_finite():
        raise ValueProblem(N_("%(value)s is not an amount."), value=repr(raw))
    return amount, currency


def parse_count(value: Any, *, minimum: int = 0) -> int | None:
    """A whole number of units: 12, 12.0, "1,200" or "12件"."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueProblem(N_("A yes/no value is not a quantity."))
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueProblem(N_("%(value)s is not a whole number."), value=f"{value:g}")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raw = re.sub(r"[,\s]|[件个台套箱只pcsPCS]+$", "", str(value).strip())
        if not re.fullmatch(r"[-+]?\d+(\.0+)?", raw):
            raise ValueProblem(N_("%(value)s is not a whole number."), value=repr(value))
        number = int(Decimal(raw))
    if number < minimum:
        raise ValueProblem(N_("Enter at least %(minimum)s."), minimum=minimum)
    if number > 100_000_000:
        raise ValueProblem(N_("%(value)s is more than any order holds."), value=number)
    return number


def _lookup(table: dict[str, str], labels: dict[str, Any], unknown: str, value: Any) -> str | None:
    """The code a cell names (its code, English label or a common word); ``unknown`` is the msgid when none."""
    if is_blank(value):
        return None
    raw = str(value).strip()
    key = raw.lower().replace(" ", "_").replace("-", "_")
    if key in labels:
        return key
    for code, label in labels.items():
        if str(label).lower() == raw.lower():
            return code
    found = table.get(raw) or table.get(raw.lower())
    if found:
        return found
    raise ValueProblem(unknown, value=repr(raw), choices=", ".join(labels))


PROBLEM_WORDS: dict[str, str] = {
    "质量问题": "quality_defect", "质量缺陷": "quality_defect", "次品": "quality_defect", "不良品": "quality_defect",
    "产品缺陷": "quality_defect", "功能故障": "quality_defect", "故障": "quality_defect", "不良": "quality_defect",
    "质量不良": "quality_defect", "功能不良": "quality_defect", "瑕疵": "quality_defect", "划痕": "quality_defect",
    "色差": "quality_defect", "做工差": "quality_defect", "开裂": "quality_defect", "品质问题": "quality_defect",
    "与描述不符": "not_as_described", "货不对板": "not_as_described", "描述不符": "not_as_described",
    "规格不符": "not_as_described", "尺寸不符": "not_as_described", "与样品不符": "not_as_described",
    "错发": "wrong_item", "发错货": "wrong_item", "错货": "wrong_item", "发错": "wrong_item",
    "型号错误": "wrong_item", "颜色错误": "wrong_item", "串货": "wrong_item",
    "少发": "short_shipment", "短装": "short_shipment", "数量短少": "short_shipment", "少货": "short_shipment",
    "少件": "short_shipment", "短少": "short_shipment", "少装": "short_shipment", "漏发": "short_shipment",
    "数量不足": "short_shipment", "数量不符": "short_shipment",
    "缺件": "missing_parts", "少配件": "missing_parts", "配件缺失": "missing_parts", "缺配件": "missing_parts",
    "配件不全": "missing_parts", "漏配件": "missing_parts",
    "运输损坏": "transit_damage", "破损": "transit_damage", "运损": "transit_damage", "外箱破损": "transit_damage",
    "包装破损": "transit_damage", "压坏": "transit_damage", "压损": "transit_damage", "碎裂": "transit_damage",
    "摔坏": "transit_damage", "外箱压坏": "transit_damage", "变形": "transit_damage", "水湿": "transit_damage",
    "丢件": "lost_in_transit", "丢失": "lost_in_transit", "运输丢失": "lost_in_transit", "丢货": "lost_in_transit",
    "遗失": "lost_in_transit", "货物丢失": "lost_in_transit",
    "延迟交货": "late_delivery", "延误": "late_delivery", "迟发": "late_delivery", "晚到": "late_delivery",
    "延期": "late_delivery", "晚发": "late_delivery", "交期延误": "late_delivery", "超期": "late_delivery",
    "清关问题": "customs_issue", "海关问题": "customs_issue", "海关扣货": "customs_issue", "扣关": "customs_issue",
    "清关延误": "customs_issue",
    "其他": "other", "其它": "other",
    "damaged": "transit_damage", "damage": "transit_damage", "broken": "transit_damage",
    "transit damage": "transit_damage", "damaged in transit": "transit_damage", "crushed": "transit_damage",
    "defect": "quality_defect", "defective": "quality_defect", "faulty": "quality_defect", "quality": "quality_defect",
    "quality issue": "quality_defect", "lost": "lost_in_transit", "missing shipment": "lost_in_transit",
    "short": "short_shipment", "shortage": "short_shipment", "short shipped": "short_shipment",
    "missing parts": "missing_parts", "incomplete": "missing_parts", "late": "late_delivery",
    "delayed": "late_delivery", "delay": "late_delivery", "customs": "customs_issue", "wrong item": "wrong_item",
    "wrong": "wrong_item", "wrong product": "wrong_item", "not as described": "not_as_described",
}  # fmt: skip
PARTY_WORDS: dict[str, str] = {
    "供应商": "supplier", "工厂": "supplier", "厂家": "supplier", "供方": "supplier", "vendor": "supplier",
    "factory": "supplier", "承运商": "carrier", "物流": "carrier", "货代": "carrier", "物流商": "carrier",
    "快递": "carrier", "船公司": "carrier", "forwarder": "carrier", "我方": "purchaser", "采购方": "purchaser",
    "公司": "purchaser", "本公司": "purchaser", "仓库": "purchaser", "待定": "undetermined", "未定": "undetermined",
    "不明": "undetermined", "us": "purchaser", "purchaser": "purchaser", "unknown": "undetermined",
    "tbd": "undetermined",
}  # fmt: skip
REMEDY_WORDS: dict[str, str] = {
    "退货": "return", "换货": "replacement", "补发": "replacement", "维修": "repair", "返修": "repair",
    "退款": "refund", "部分退款": "partial_refund", "折让": "discount", "折扣": "discount",
    "贷项通知": "credit_note", "扣款": "credit_note", "退货退款": "return", "重发": "replacement",
    "赔款": "refund", "赔偿": "refund", "让步接收": "discount", "降价": "discount", "抵扣货款": "credit_note",
    "replace": "replacement", "resend": "replacement", "credit": "credit_note", "returned": "return",
}  # fmt: skip
# Parts of words: an unknown cell containing one is suggested that code (包装压扁 → 压 → transit damage).
HINTS: dict[str, dict[str, str]] = {
    "problem_type": {
        "少": "short_shipment", "短": "short_shipment", "缺": "missing_parts", "破": "transit_damage",
        "损": "transit_damage", "压": "transit_damage", "碎": "transit_damage", "摔": "transit_damage",
        "错": "wrong_item", "丢": "lost_in_transit", "迟": "late_delivery", "延": "late_delivery",
        "晚": "late_delivery", "关": "customs_issue", "质量": "quality_defect", "不良": "quality_defect",
        "坏": "quality_defect", "不符": "not_as_described",
    },
    "responsible_party": {"供": "supplier", "厂": "supplier", "运": "carrier", "流": "carrier", "我": "purchaser"},
    "remedy": {"退": "return", "换": "replacement", "补": "replacement", "修": "repair", "折": "discount",
               "扣": "credit_note", "赔": "refund", "款": "refund"},
}  # fmt: skip
CODED: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "problem_type": (PROBLEM_WORDS, PROBLEM_TYPES),
    "responsible_party": (PARTY_WORDS, PARTIES),
    "remedy": (REMEDY_WORDS, REMEDIES),
}


def value_key(value: Any) -> str:
    """A cell as a value mapping keys it: its text, trimmed."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:200]


def checked_value_map(raw: Any) -> dict[str, dict[str, str]]:
    """A value mapping as given ({field: {value: code}}), each field coded and each code one of its codes."""
    if not isinstance(raw, dict):
        raise ValueProblem(N_("A value mapping is an object of fields, each an object of values and codes."))
    checked: dict[str, dict[str, str]] = {}
    for name, words in raw.items():
        if name not in CODED:
            raise ValueProblem(N_("%(field)s has no codes to map; use one of: %(choices)s."),
                               field=repr(name), choices=", ".join(CODED))  # fmt: skip
        if not isinstance(words, dict):
            raise ValueProblem(N_("A value mapping is an object of fields, each an object of values and codes."))
        codes = CODED[name][1]
        for value, code in words.items():
            if code not in codes:
                raise ValueProblem(N_("%(code)s is not a code of %(field)s; use one of: %(choices)s."),
                                   code=repr(code), field=name, choices=", ".join(codes))  # fmt: skip
            checked.setdefault(name, {})[value_key(value)] = str(code)
    return checked


def suggest_code(field: str, value: Any) -> str | None:
    """The code a cell most likely means: the longest known word it contains (or that contains it)."""
    words, labels = CODED[field]
    raw = value_key(value).lower()
    known = {**HINTS.get(field, {}), **{w.lower(): c for w, c in words.items()}}
    known.update({str(label).lower(): code for code, label in labels.items()})
    known.update({code.replace("_", " "): code for code in labels})
    best: tuple[int, str | None] = (0, None)
    for word, code in known.items():
        if word in raw and len(word) > best[0]:
            best = (len(word), code)
        elif len(raw) >= 2 and raw in word and len(raw) > best[0]:
            best = (len(raw), code)
    return best[1]


def parse_problem_type(value: Any) -> str | None:
    unknown = N_("%(value)s is not a known problem type; choose one of: %(choices)s.")
    return _lookup(PROBLEM_WORDS, PROBLEM_TYPES, unknown, value)


def parse_party(value: Any) -> str | None:
    unknown = N_("%(value)s is not a known responsible party; choose one of: %(choices)s.")
    return _lookup(PARTY_WORDS, PARTIES, unknown, value)


def parse_remedy(value: Any) -> str | None:
    unknown = N_("%(value)s is not a known remedy; choose one of: %(choices)s.")
    return _lookup(REMEDY_WORDS, REMEDIES, unknown, value)


INCOTERMS = frozenset({"EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF"})
TRANSPORT_WORDS: dict[str, str] = {
    "sea": "sea", "ocean": "sea", "海运": "sea", "air": "air", "空运": "air", "rail": "rail", "铁路": "rail",
    "中欧班列": "rail", "road": "road", "truck": "road", "陆运": "road", "公路": "road",
    "express": "express", "courier": "express", "快递": "express",
}  # fmt: skip


def parse_incoterm(value: Any) -> str | None:
    if is_blank(value):
        return None
    code = str(value).strip().upper()[:3]
    if code not in INCOTERMS:
        unknown = N_("%(value)s is not an Incoterm; use one of %(choices)s.")
        raise ValueProblem(unknown, value=repr(value), choices=", ".join(sorted(INCOTERMS)))
    return code


def parse_transport_mode(value: Any) -> str | None:
    if is_blank(value):
        return None
    raw = str(value).strip()
    mode = TRANSPORT_WORDS.get(raw.lower()) or TRANSPORT_WORDS.get(raw)
    if mode is None:
        unknown = N_("%(value)s is not a transport mode; use sea, air, rail, road or express.")
        raise ValueProblem(unknown, value=repr(raw))
    return mode
