"""Who handles a case: the one service that gives cases to people, by hand or by the intake rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from app.accounts.roles import DESK, Role
from app.accounts.tables import User
from app.cases.events import Actor, lock_case, record_event
from app.cases.tables import Case, CaseEvent
from app.db import atomic
from app.errors import NotFound, ValidationFailed
from app.i18n import gettext as _
from app.rules.facts import N_

# How far back the round robin looks for the last handler it chose.
ROUND_ROBIN_WINDOW: Final = 500
# One bulk request changes at most this many cases.
MOST_AT_ONCE: Final = 500
# Ids beyond a database integer name no case.
LARGEST_ID: Final = 2**63 - 1


async def assignable_users() -> list[dict[str, Any]]:
    """Who a case can be given to: active handlers, managers and admins."""
    return list(
        await User.select(User.id, User.name, User.email, User.role)
        .where(User.role.is_in(sorted(DESK)) & (User.active == True))  # noqa: E712
        .order_by(User.name)
    )


async def _assignee(assignee_id: int | None) -> User | None:
    """The person cases go to (None: nobody), refused unless an active desk user."""
    if assignee_id is None:
        return None
    user = await User.objects().where(User.id == assignee_id).first()
    if user is None or not user.active or user.role not in DESK:
        raise ValidationFailed(
            _("This person cannot handle cases."),
            fields=[("assignee", _("Choose an active handler, manager or admin."))],
        )
    return user


async def assign_cases(*, actor: Actor, case_ids: Sequence[int], assignee_id: int | None) -> list[int]:
    """Give the cases to one desk user (or nobody); each change locked and on its case's timeline.

    Returns the ids of the cases that changed hands; cases already with that person are left alone.
    """
    case_ids = sorted({case_id for case_id in case_ids if 0 < case_id <= LARGEST_ID})
    if not case_ids:
        raise ValidationFailed(_("Choose at least one case."), fields=[("case", _("Tick the cases to assign."))])
    user = await _assignee(assignee_id)
    label = (user.name or user.email) if user is not None else ""
    now = datetime.now(UTC)
    changed: list[int] = []
    async with atomic():
        for case_id in case_ids[:MOST_AT_ONCE]:
            await lock_case(case_id)
            row = await Case.select(Case.assignee).where(Case.id == case_id).first()
            if row is None or row["assignee"] == assignee_id:
                continue
            await Case.update({Case.assignee: assignee_id, Case.updated_at: now}).where(Case.id == case_id)
            await record_event(
                case_id=case_id,
                actor=actor,
                kind="assigned",
                data={"previous_id": row["assignee"], "assignee_id": assignee_id, "assignee": label, "rule": "manual"},
                at=now,
            )
            changed.append(case_id)
    return changed


async def case_assign(*, actor: Actor, number: str, assignee_id: int | None) -> Case:
    """Give one case to another handler (or manager, or nobody); recorded on the timeline."""
    found = await Case.select(Case.id).where(Case.number == number).first()
    if found is None:
        raise NotFound(_("There is no case %(number)s.", number=number))
    await assign_cases(actor=actor, case_ids=[found["id"]], assignee_id=assignee_id)
    case = await Case.objects().where(Case.id == found["id"]).first()
    assert case is not None
    return case


async def assign_on_intake(*, case_id: int, supplier_id: int | None, now: datetime) -> None:
    """A reported case nobody has held yet goes to the handler the intake rule picks; on its timeline.

    Runs inside the caller's transaction, the case locked; a replayed report finds it assigned and leaves it.
    """
    await lock_case(case_id)
    row = await Case.select(Case.assignee).where(Case.id == case_id).first()
    if row is None or row["assignee"] is not None:
        return
    if await CaseEvent.exists().where((CaseEvent.case == case_id) & (CaseEvent.kind == "assigned")):
        return
    handler, rule = await pick_assignee(supplier_id)
    if handler is None:
        return
    await Case.update({Case.assignee: handler.id, Case.updated_at: now}).where(Case.id == case_id)
    await record_event(
        case_id=case_id,
        actor=Actor.system(N_("Automatic assignment")),  # the rule chose, not the reporter
        kind="assigned",
        data={"assignee_id": handler.id, "assignee": handler.name, "rule": rule},
        at=now,
    )


async def pick_assignee(supplier_id: int | None) -> tuple[User | None, str]:
    """The handler who last handled this supplier, else the next active handler in turn; and which rule chose."""
    handlers = list(
        await User.objects().where((User.role == Role.HANDLER.value) & (User.active == True)).order_by(User.id)  # noqa: E712
    )
    if not handlers:
        return None, ""
    by_id = {handler.id: handler for handler in handlers}
    if supplier_id is not None:
        last = (
            await Case.select(Case.assignee)
            .where((Case.supplier == supplier_id) & Case.assignee.is_in(list(by_id)))
            .order_by(Case.id, ascending=False)
            .first()
        )
        if last is not None:
            return by_id[last["assignee"]], "supplier"
    events = await (
        CaseEvent.select(CaseEvent.data)
        .where(CaseEvent.kind == "assigned")
        .order_by(CaseEvent.id, ascending=False)
        .limit(ROUND_ROBIN_WINDOW)
        .output(load_json=True)
    )
    chosen = [event["data"] for event in events if isinstance(event["data"], dict)]
    previous = next((data.get("assignee_id") for data in chosen if data.get("rule") == "round_robin"), None)
    later = [handler for handler in handlers if isinstance(previous, int) and handler.id > previous]
    return (later[0] if later else handlers[0]), "round_robin"
