"""What each import kind's columns are, the header names they go by (English and Chinese), and matching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.i18n import lazy_gettext as _
from app.imports import values
from app.imports.reader import normalise_header

KINDS = ("orders", "cases")


@dataclass(frozen=True)
class Column:
    name: str
    label: Any
    parse: Callable[[Any], Any]
    synonyms: tuple[str, ...] = ()
    required: bool = False
    keys: frozenset[str] = field(default_factory=frozenset, init=False)

    def __post_init__(self) -> None:
        names = (self.name, str(self.label), *self.synonyms)
        object.__setattr__(self, "keys", frozenset(normalise_header(n) for n in names))


def _text(limit: int) -> Callable[[Any], str]:
    return lambda value: values.text(value, limit=limit)


def _positive(value: Any) -> int | None:
    return values.parse_count(value, minimum=1)


ORDER_NUMBER = Column(
    "order_number",
    _("Order number"),
    _text(60),
    ("订单号", "采购订单号", "采购单号", "订单编号", "PO", "PO No", "PO number", "Order no", "Order", "PO#"),
)
LINE_NO = Column("line_no", _("Line"), _positive, ("行号", "订单行", "序号", "Line no", "Line number", "Item no"))
SKU = Column(
    "sku", _("SKU"), _text(60), ("货号", "物料编码", "产品编码", "商品编码", "料号", "Item code", "Product code")
)
PRODUCT_NAME = Column(
    "product_name", _("Product"), _text(200), ("品名", "产品名称", "商品名称", "产品", "Product name")
)
CATEGORY = Column("category", _("Category"), _text(60), ("品类", "类别", "产品类别", "Product category"))
SUPPLIER_CODE = Column(
    "supplier_code", _("Supplier code"), _text(40), ("供应商代码", "供应商编码", "供应商编号", "Vendor code")
)
SUPPLIER_NAME = Column(
    "supplier_name", _("Supplier"), _text(200), ("供应商", "供应商名称", "工厂", "Supplier name", "Vendor")
)
CARRIER = Column("carrier", _("Carrier"), _text(200), ("承运商", "物流商", "货代", "物流公司", "Forwarder"))
CURRENCY = Column("currency", _("Currency"), values.parse_currency, ("币种", "货币", "币别", "Curr"))
REGION = Column("region", _("Region"), _text(60), ("地区", "区域", "销售区域", "省份", "Area"))

ORDER_COLUMNS: tuple[Column, ...] = (
    ORDER_NUMBER,
    LINE_NO,
    SUPPLIER_CODE,
    SUPPLIER_NAME,
    CARRIER,
    Column("incoterm", _("Incoterm"), values.parse_incoterm, ("贸易条款", "贸易术语", "价格条款", "Incoterms")),
    Column("transport_mode", _("Transport mode"), values.parse_transport_mode, ("运输方式", "Mode", "Transport")),
    Column("ordered_on", _("Ordered on"), values.parse_date, ("下单日期", "订单日期", "Order date")),
    Column("ship_by", _("Ship by"), values.parse_date, ("交货期", "要求发货日期", "交期", "Ship by date")),
    Column("shipped_on", _("Shipped on"), values.parse_date, ("发货日期", "出运日期", "装船日期", "Ship date")),
    Column("delivered_on", _("Delivered on"), values.parse_date, ("到货日期", "收货日期", "入库日期", "Delivery date")),
    SKU,
    PRODUCT_NAME,
    CATEGORY,
    Column(
        "quantity_ordered",
        _("Quantity ordered"),
        lambda v: values.parse_count(v),
        ("数量", "订购数量", "订单数量", "采购数量", "Qty", "Quantity", "Order qty"),
        required=True,
    ),
    Column(
        "quantity_delivered",
        _("Quantity delivered"),
        lambda v: values.parse_count(v),
        ("到货数量", "实收数量", "收货数量", "Delivered qty", "Received qty"),
    ),
    Column("unit_price", _("Unit price"), values.parse_amount, ("单价", "采购单价", "Price")),
    CURRENCY,
    REGION,
    Column("container_no", _("Container"), _text(20), ("柜号", "集装箱号", "货柜号", "Container no")),
    Column("seal_no", _("Seal"), _text(30), ("封条号", "铅封号", "Seal no")),
    Column(
        "tracking_no", _("Tracking number"), _text(60), ("运单号", "快递单号", "追踪号", "提单号", "Tracking", "BL")
    ),
    # Optional playbook columns: the supplier's claim rules, kept in its playbook (app/playbooks).
    Column(
        "supplier_claims_email",
        _("Supplier claims email"),
        values.parse_email,
        ("供应商索赔邮箱", "索赔邮箱", "售后邮箱", "Claims email", "Claims address"),
    ),
    Column(
        "supplier_warranty_days",
        _("Supplier warranty days"),
        _positive,
        ("质保天数", "保修天数", "索赔期限", "质保期(天)", "Warranty days", "Notice days", "Claim window"),
    ),
    Column(
        "supplier_minimum_claim",
        _("Supplier minimum claim"),
        values.parse_minimum_claim,
        ("最低索赔金额", "最小索赔金额", "起赔金额", "Minimum claim", "Min claim"),
    ),
    Column(
        "supplier_answer_days",
        _("Supplier answer days"),
        _positive,
        ("答复天数", "回复时效", "回复天数", "Answer days", "Response days"),
    ),
)

CASE_COLUMNS: tuple[Column, ...] = (
    Column(
        "legacy_number",
        _("Old case number"),
        _text(60),
        ("案件编号", "售后单号", "售后编号", "投诉编号", "编号", "Case no", "Case number", "Ticket", "RMA", "RMA no"),
    ),
    Column(
        "reported_on",
        _("Reported on"),
        values.parse_date,
        ("登记日期", "反馈日期", "报告日期", "投诉日期", "日期", "Date", "Reported", "Registered"),
        required=True,
    ),
    Column(
        "problem_type",
        _("Problem type"),
        values.parse_problem_type,
        ("问题类型", "问题分类", "异常类型", "问题", "Issue type", "Issue", "Problem"),
        required=True,
    ),
    Column("description", _("Description"), _text(5000), ("问题描述", "描述", "详情", "说明", "Details", "Remarks")),
    ORDER_NUMBER,
    LINE_NO,
    SKU,
    PRODUCT_NAME,
    CATEGORY,
    SUPPLIER_CODE,
    SUPPLIER_NAME,
    CARRIER,
    Column(
        "quantity_affected",
        _("Quantity affected"),
        _positive,
        ("数量", "不良数量", "问题数量", "异常数量", "Qty", "Quantity", "Qty affected"),
    ),
    Column(
        "claim_amount",
        _("Claim amount"),
        values.parse_amount,
        (
            "索赔金额",
            "金额",
            "赔偿金额",
            "损失金额",
            "申索金额",
            "索赔额",
            "Amount",
            "Claim",
            "Claimed",
            "Claimed amount",
        ),
    ),
    Column(
        "recovered_amount",
        _("Amount recovered"),
        values.parse_amount,
        (
            "退款金额",
            "追回金额",
            "已追回金额",
            "已追回",
            "赔付金额",
            "已赔付",
            "实际赔付",
            "回款金额",
            "供应商赔付",
            "Refunded",
            "Refund amount",
            "Recovered",
            "Recovered amount",
            "Compensation received",
        ),
    ),
    CURRENCY,
    REGION,
    Column(
        "responsible_party",
        _("Responsible party"),
        values.parse_party,
        ("责任方", "责任归属", "责任", "Responsibility", "Liable party"),
    ),
    Column("remedy", _("Remedy"), values.parse_remedy, ("处理方式", "解决方案", "处理结果", "Resolution")),
    Column(
        "closed_on", _("Closed on"), values.parse_date, ("结案日期", "关闭日期", "完成日期", "Closed", "Close date")
    ),
)

COLUMNS: dict[str, tuple[Column, ...]] = {"orders": ORDER_COLUMNS, "cases": CASE_COLUMNS}


def known_headers(kind: str) -> frozenset[str]:
    return frozenset(key for column in COLUMNS[kind] for key in column.keys)


def suggested_column(kind: str, header: str, mapping: dict[str, int | None]) -> Column | None:
    """The unmapped field a header most resembles: the longest run of characters they share.

    A run of two Chinese characters (金额, 日期) says as much as four Latin letters (date, refu…).
    """
    name = normalise_header(header)
    best: tuple[float, Column | None] = (1.5, None)
    for column in COLUMNS[kind]:
        if mapping.get(column.name) is not None:
            continue
        for key in column.keys:
            run = _shared_run(name, key)
            score = len(run) if not run.isascii() else len(run) / 2
            if score > best[0]:
                best = (score, column)
    return best[1]


def _shared_run(a: str, b: str) -> str:
    longest = ""
    for start in range(len(a)):
        for end in range(start + len(longest) + 1, len(a) + 1):
            if a[start:end] not in b:
                break
            longest = a[start:end]
    return longest


def auto_mapping(kind: str, headers: list[str]) -> dict[str, int | None]:
    """Each column's header index in the file, matched by name; None where no header matches."""
    mapping: dict[str, int | None] = {}
    taken: set[int] = set()
    normalised = [normalise_header(h) for h in headers]
    for column in COLUMNS[kind]:
        index = next((i for i, h in enumerate(normalised) if h and h in column.keys and i not in taken), None)
        mapping[column.name] = index
        if index is not None:
            taken.add(index)
    return mapping
