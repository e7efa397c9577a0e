"""Whom a reminder goes to: a case's holder, its managers, its supplier or carrier, by each channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.accounts.roles import Role
from app.accounts.tables import User
from app.notify.tables import PushSubscription
from app.reminders.batches import select_in
from app.tracking.policies import counterpart_of
from app.trade.tables import Carrier, Supplier


def party_for(role: str, row: dict[str, Any]) -> str:
    if role == "owner":
        return str(row["owner_party"])
    if role == "counterpart":
        return counterpart_of(row["problem_type"]) if row["owner_party"] == "us" else "us"
    return "manager"


@dataclass
class Recipients:
    """Everyone a batch of reminders may go to, loaded in a few queries rather than one per case."""

    users: dict[int, dict[str, Any]]
    managers: list[dict[str, Any]]
    push_users: set[int]
    suppliers: dict[int, dict[str, Any]]
    carriers: dict[int, dict[str, Any]]
    sms: bool

    @classmethod
    async def load(cls, rows: list[dict[str, Any]], *, sms: bool) -> Recipients:
        columns = (User.id, User.email, User.time_zone, User.role)
        assignees = {r["assignee_id"] for r in rows if r["assignee_id"]}
        users = {
            u["id"]: u
            for u in await select_in(lambda: User.select(*columns).where(User.active.eq(True)), User.id, assignees)
        }
        managers = list(await User.select(*columns).where((User.role == Role.MANAGER) & User.active.eq(True)))
        ids = set(users) | {m["id"] for m in managers}
        push_users = {
            r["user"]
            for r in await select_in(lambda: PushSubscription.select(PushSubscription.user), PushSubscription.user, ids)
        }
        supplier_ids = {r["supplier_id"] for r in rows if r["supplier_id"]}
        carrier_ids = {r["carrier_id"] for r in rows if r["carrier_id"]}
        suppliers = await select_in(
            lambda: Supplier.select(Supplier.id, Supplier.email, Supplier.phone, Supplier.time_zone),
            Supplier.id,
            supplier_ids,
        )
        carriers = await select_in(
            lambda: Carrier.select(Carrier.id, Carrier.email, Carrier.phone, Carrier.time_zone), Carrier.id, carrier_ids
        )
        return cls(
            users=users,
            managers=managers,
            push_users=push_users,
            suppliers={s["id"]: s for s in suppliers},
            carriers={c["id"]: c for c in carriers},
            sms=sms,
        )

    def _staff(self, user: dict[str, Any]) -> list[tuple[str, str, str]]:
        found = [("email", user["email"], user["time_zone"]), ("inapp", f"user:{user['id']}", user["time_zone"])]
        if user["id"] in self.push_users:
            found.append(("push", f"user:{user['id']}", user["time_zone"]))
        return found

    def addresses(self, party: str, row: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(channel, recipient, time zone) for a party of one case."""
        if party == "us":
            user = self.users.get(row["assignee_id"])
            if user is not None:
                return self._staff(user)
            party = "manager"  # nobody holds the case: its managers hear about it
        if party == "manager":
            return [entry for manager in self.managers for entry in self._staff(manager)]
        partner = None
        if party == "supplier":
            partner = self.suppliers.get(row["supplier_id"])
        elif party == "carrier":
            partner = self.carriers.get(row["carrier_id"])
        if partner is None:
            return []
        found = []
        if partner["email"]:
            found.append(("email", partner["email"], partner["time_zone"]))
        if self.sms and partner["phone"]:
            found.append(("sms", partner["phone"], partner["time_zone"]))
        return found
