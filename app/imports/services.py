"""Writing checked import records: one transaction, natural keys, so the same file twice changes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from piccolo.columns import Column as DbColumn
from piccolo.table import Table

from app.analytics.tables import Recovery
from app.cases.events import Actor, record_event
from app.cases.services import next_case_number
from app.cases.tables import Case
from app.db import atomic, insert_many
from app.imports.messages import Message
from app.imports.preview import RowNote
from app.imports.tables import ImportValueMap
from app.playbooks import services as playbooks
from app.rules.facts import N_
from app.trade.tables import Carrier, OrderLine, Product, PurchaseOrder, Supplier

# Rows per INSERT: well under SQLite's 32,766 bound parameters at 10 columns a row.
CHUNK = 500


@dataclass
class ImportResult:
    """What became of every row: ``rows == created + updated + unchanged + skipped + errors``."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    # Each row not created (updated, unchanged, skipped), with why; row errors are the preview's.
    notes: list[RowNote] = field(default_factory=list)

    def listed(self) -> list[RowNote]:
        return sorted(self.notes, key=lambda note: note.row)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": self.errors,
            **self.counts,
            "not_created": [note.as_dict() for note in self.listed()],
        }


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _ids(table: type[Table], key: DbColumn, keys: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    wanted = list(dict.fromkeys(keys))
    for chunk in _chunks(wanted):
        rows = await table.select(table._meta.primary_key, key).where(key.is_in(list(chunk)))
        found.update({row[key._meta.name]: row["id"] for row in rows})
    return found


async def _upsert(
    table: type[Table], key: DbColumn, rows: dict[str, dict[str, Any]], *, update: Sequence[DbColumn] = ()
) -> dict[str, int]:
    """Insert rows by natural key; existing ones get ``update`` columns refreshed (or are left alone)."""
    await insert_many(table, list(rows.values()), key=key, update=update)
    return await _ids(table, key, rows)


def supplier_code(record: dict[str, Any]) -> str:
    """The supplier's code, or one made from its name when a ledger has only names."""
    return (record.get("supplier_code") or record.get("supplier_name") or "")[:40]


def carrier_code(name: str) -> str:
    return name.strip().upper()[:40]


async def _partners(records: list[dict[str, Any]], *, refresh: bool) -> tuple[dict[str, int], dict[str, int]]:
    suppliers: dict[str, dict[str, Any]] = {}
    carriers: dict[str, dict[str, Any]] = {}
    for record in records:
        code = supplier_code(record)
        if code and code not in suppliers:
            suppliers[code] = {"code": code, "name": record.get("supplier_name") or code}
        carrier = record.get("carrier")
        if carrier and carrier_code(carrier) not in carriers:
            carriers[carrier_code(carrier)] = {"code": carrier_code(carrier), "name": carrier}
    update = [Supplier.name] if refresh else []
    supplier_ids = await _upsert(Supplier, Supplier.code, suppliers, update=update)
    carrier_ids = await _upsert(Carrier, Carrier.code, carriers)
    return supplier_ids, carrier_ids


async def _products(records: list[dict[str, Any]], supplier_ids: dict[str, int], *, refresh: bool) -> dict[str, int]:
    products: dict[str, dict[str, Any]] = {}
    for record in records:
        sku = record.get("sku")
        if sku and sku not in products:
            products[sku] = {
                "sku": sku,
                "name": record.get("product_name") or sku,
                "category": record.get("category") or "",
                "supplier": supplier_ids.get(supplier_code(record)),
            }
    update = [Product.name, Product.category] if refresh else []
    return await _upsert(Product, Product.sku, products, update=update)


def _supplier_rules(records: list[dict[str, Any]], supplier_ids: dict[str, int]) -> dict[int, dict[str, Any]]:
    """Each supplier's playbook columns as the file gives them (the first filled cell of each, by supplier id)."""
    rules: dict[int, dict[str, Any]] = {}
    for record in records:
        supplier_id = supplier_ids.get(supplier_code(record))
        if supplier_id is None:
            continue
        found = rules.setdefault(supplier_id, {})
        minimum, written = record.get("supplier_minimum_claim"), record.get("supplier_minimum_currency")
        given = {
            "claims_email": record.get("supplier_claims_email") or None,
            "window_days": record.get("supplier_warranty_days"),
            "minimum_value": minimum,
            "minimum_currency": written or record.get("currency") or None,
            "answer_days": record.get("supplier_answer_days"),
        }
        for name, value in given.items():
            if value is not None and name not in found and (name != "minimum_currency" or minimum is not None):
                found[name] = value
    return {supplier_id: found for supplier_id, found in rules.items() if found}


async def import_orders(*, records: list[dict[str, Any]]) -> ImportResult:
    """Purchase orders and their lines, keyed by order number and "<order>#<line>"."""
    lines_before: dict[str, tuple[Any, ...]] = {}
    async with atomic():
        supplier_ids, carrier_ids = await _partners(records, refresh=True)
        playbooks_changed = await playbooks.supplier_rules_from_import(rules=_supplier_rules(records, supplier_ids))
        product_ids = await _products(records, supplier_ids, refresh=True)
        orders: dict[str, dict[str, Any]] = {}
        for record in records:
            number = record["order_number"]
            order = orders.setdefault(number, {"number": number, "supplier": supplier_ids[supplier_code(record)]})
            for name in ("incoterm", "transport_mode", "region", "currency", "container_no", "seal_no", "tracking_no"):
                if record.get(name) and name not in order:
                    order[name] = record[name]
            for name in ("ordered_on", "ship_by", "shipped_on", "delivered_on"):
                if record.get(name) and name not in order:
                    order[name] = record[name]
            if record.get("carrier") and "carrier" not in order:
                order["carrier"] = carrier_ids[carrier_code(record["carrier"])]
        order_columns: list[DbColumn] = [
            PurchaseOrder.supplier, PurchaseOrder.carrier, PurchaseOrder.incoterm, PurchaseOrder.transport_mode,
            PurchaseOrder.region, PurchaseOrder.currency, PurchaseOrder.container_no, PurchaseOrder.seal_no,
            PurchaseOrder.tracking_no, PurchaseOrder.ordered_on, PurchaseOrder.ship_by, PurchaseOrder.shipped_on,
            PurchaseOrder.delivered_on,
        ]  # fmt: skip
        order_ids = await _upsert(PurchaseOrder, PurchaseOrder.number, orders, update=order_columns)
        lines: dict[str, dict[str, Any]] = {}
        rows: dict[str, int] = {}
        for record in records:
            number = record["order_number"]
            line_no = record["line_no"]  # numbered by the check where the file has none
            key = f"{number}#{line_no}"
            rows[key] = record["row"]
            lines[key] = {
                "line_key": key,
                "purchase_order": order_ids[number],
                "line_no": line_no,
                "product": product_ids[record["sku"]],
                "quantity_ordered": record.get("quantity_ordered") or 0,
                "quantity_delivered": record.get("quantity_delivered")
                if record.get("quantity_delivered") is not None
                else record.get("quantity_ordered") or 0,
                "unit_price": record.get("unit_price") or Decimal("0"),
            }
        lines_before = await _lines(lines)
        line_columns = [
            OrderLine.purchase_order, OrderLine.line_no, OrderLine.product, OrderLine.quantity_ordered,
            OrderLine.quantity_delivered, OrderLine.unit_price,
        ]  # fmt: skip
        await insert_many(OrderLine, list(lines.values()), key=OrderLine.line_key, update=line_columns)
    notes = []
    for key, before in lines_before.items():
        if before == _line_values(lines[key]):
            said = Message(N_("Order line %(line)s was already there with these values."), line=key)
            notes.append(RowNote(rows[key], said, outcome="unchanged"))
        else:
            said = Message(N_("Order line %(line)s was already there; its values were updated."), line=key)
            notes.append(RowNote(rows[key], said, outcome="updated"))
    unchanged = sum(note.outcome == "unchanged" for note in notes)
    return ImportResult(
        created=len(lines) - len(lines_before),
        updated=len(lines_before) - unchanged,
        unchanged=unchanged,
        notes=notes,
        counts={
            "orders": len(orders),
            "lines": len(lines),
            "suppliers": len(supplier_ids),
            "products": len(product_ids),
            **({"playbooks": playbooks_changed} if playbooks_changed else {}),
        },
    )


_LINE_VALUES = ("purchase_order", "line_no", "product", "quantity_ordered", "quantity_delivered", "unit_price")


def _line_values(line: dict[str, Any]) -> tuple[Any, ...]:
    """A line's stored values in one form for both engines (SQLite may give a price back as a float)."""
    return tuple(Decimal(str(line[name])) if name == "unit_price" else line[name] for name in _LINE_VALUES)


async def _lines(lines: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """The lines of ``lines`` already stored, with their values before this import."""
    found: dict[str, tuple[Any, ...]] = {}
    columns = [getattr(OrderLine, name) for name in _LINE_VALUES]
    for chunk in _chunks(list(lines)):
        rows = await OrderLine.select(OrderLine.line_key, *columns).where(OrderLine.line_key.is_in(list(chunk)))
        found.update({row["line_key"]: _line_values(row) for row in rows})
    return found


async def _recovery(case: Case, record: dict[str, Any], when: datetime) -> None:
    """Money the ledger says came back: a recovery from the responsible party (the supplier unless it says carrier)."""
    party = (
        "carrier"
        if record.get("responsible_party") == "carrier" or (case.carrier and not case.supplier)
        else "supplier"
    )
    recovered = record["recovered_amount"]
    await Recovery(
        case=case.id,
        party=party,
        kind="refund",
        claimed_amount=max(record.get("claim_amount") or recovered, recovered),
        recovered_amount=recovered,
        currency=case.currency,
        claimed_on=case.created_at.date(),
        recovered_on=when.date(),
    ).save()


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), UTC)


async def import_cases(*, records: list[dict[str, Any]], actor: Actor) -> ImportResult:
    """Legacy after-sales cases, closed where the ledger says so; a case seen before is left as it is."""
    keyed = {record["client_key"]: record for record in records}  # keys are unique: the check saw to it
    async with atomic():
        existing: dict[str, str] = {}
        for chunk in _chunks(list(keyed)):
            found = await Case.select(Case.client_key, Case.number).where(Case.client_key.is_in(list(chunk)))
            existing.update({row["client_key"]: row["number"] for row in found})
        fresh = {key: record for key, record in keyed.items() if key not in existing}
        supplier_ids, carrier_ids = await _partners(list(fresh.values()), refresh=False)
        product_ids = await _products(list(fresh.values()), supplier_ids, refresh=False)
        order_ids = await _ids(
            PurchaseOrder, PurchaseOrder.number, (r["order_number"] for r in fresh.values() if r.get("order_number"))
        )
        line_keys = [f"{r['order_number']}#{r.get('line_no')}" for r in fresh.values() if r.get("order_number")]
        line_ids = await _ids(OrderLine, OrderLine.line_key, line_keys)
        for key, record in sorted(fresh.items(), key=lambda item: (item[1]["reported_on"], item[1]["row"])):
            reported = _moment(record["reported_on"])
            closed = _moment(record["closed_on"]) if record.get("closed_on") else None
            number = record.get("order_number") or ""
            case = Case(
                number=await next_case_number(reported.year),
                client_key=key,
                client_digest="ledger",
                order_number=number,
                purchase_order=order_ids.get(number),
                order_line=line_ids.get(f"{number}#{record.get('line_no')}"),
                product=product_ids.get(record.get("sku") or ""),
                supplier=supplier_ids.get(supplier_code(record)),
                carrier=carrier_ids.get(carrier_code(record.get("carrier") or "")),
                quantity_affected=record.get("quantity_affected") or 1,
                problem_type=record["problem_type"],
                description=record.get("description") or "",
                region=record.get("region") or "",
                confirmed_party=record.get("responsible_party") or "",
                remedy=record.get("remedy") or "",
                claim_amount=record.get("claim_amount"),
                currency=record.get("currency") or "CNY",
                node="closed" if closed else "reported",
                node_entered_at=closed or reported,
                created_at=reported,
                updated_at=closed or reported,
                closed_at=closed,
            )
            await case.save()
            data = {"number": case.number, "legacy_number": record.get("legacy_number") or "", "row": record["row"]}
            await record_event(case_id=case.id, actor=actor, kind="case_imported", data=data, at=reported)
            if record.get("recovered_amount"):
                await _recovery(case, record, closed or reported)
    notes = [
        RowNote(keyed[key]["row"], Message(N_("Already imported as case %(number)s."), number=number), "unchanged")
        for key, number in existing.items()
    ]
    return ImportResult(created=len(fresh), unchanged=len(existing), notes=notes, counts={"cases": len(keyed)})


async def saved_value_map() -> dict[str, dict[str, str]]:
    """The company's words for coded fields, as mapped on earlier imports."""
    found: dict[str, dict[str, str]] = {}
    for row in await ImportValueMap.select(ImportValueMap.field, ImportValueMap.value, ImportValueMap.code):
        found.setdefault(row["field"], {})[row["value"]] = row["code"]
    return found


async def value_map_save(*, value_map: dict[str, dict[str, str]]) -> None:
    """Keep the words an import was read with (a word mapped again takes its latest code)."""
    rows = {
        f"{name}:{value}": {"key": f"{name}:{value}", "field": name, "value": value, "code": code}
        for name, words in value_map.items()
        for value, code in words.items()
    }  # fmt: skip
    if rows:
        async with atomic():
            await insert_many(ImportValueMap, list(rows.values()), key=ImportValueMap.key, update=[ImportValueMap.code])
