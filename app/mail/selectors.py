"""Reads for inbound mail: what waits in quarantine, what was decided, and addresses that bounce."""

from __future__ import annotations

from typing import Any

from app.mail.tables import FailingAddress, InboundMail

SHOWN = 200
_ROW = (
    InboundMail.id,
    InboundMail.sender,
    InboundMail.subject,
    InboundMail.received_at,
    InboundMail.status,
    InboundMail.reason,
    InboundMail.text,
    InboundMail.party,
    InboundMail.case.number.as_alias("case_number"),
)


async def quarantine_rows(limit: int = SHOWN) -> list[dict[str, Any]]:
    """Held mail, oldest first (the next to look at), with the case staff may assign it to."""
    return list(
        await InboundMail.select(*_ROW).where(InboundMail.status == "quarantined").order_by(InboundMail.id).limit(limit)
    )


async def inbound_row(inbound_id: int) -> dict[str, Any] | None:
    return await InboundMail.select(*_ROW, InboundMail.raw_key).where(InboundMail.id == inbound_id).first()


async def failing_addresses(limit: int = SHOWN) -> list[dict[str, Any]]:
    return list(
        await FailingAddress.select(
            FailingAddress.address,
            FailingAddress.party,
            FailingAddress.reason,
            FailingAddress.bounces,
            FailingAddress.failed_at,
            FailingAddress.case.number.as_alias("case_number"),
        )
        .order_by(FailingAddress.failed_at, ascending=False)
        .limit(limit)
    )
