"""Reads for evidence: a case's files, one file, an uploader's recent volume, and the checklist."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.accounts.tables import User
from app.errors import NotFound
from app.evidence.tables import Evidence
from app.i18n import gettext as _
from app.rules.facts import DEFAULT_EVIDENCE, EVIDENCE, PHOTO_EVIDENCE

OK = "ok"
FAILED = "failed"
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ChecklistItem:
    """One kind of evidence the rules want for a problem type, and whether an accepted file shows it."""

    name: str
    label: str
    covered: bool
    photo: bool = False  # a photo can show it (else it is a paper)
    playbook: bool = False  # asked by the supplier's playbook, beyond the rules' checklist


def checklist_names(problem_type: str) -> tuple[str, ...]:
    """The evidence names the rules engine asks for first on this problem type."""
    return DEFAULT_EVIDENCE.get(problem_type, DEFAULT_EVIDENCE["other"])


def checklist(
    problem_type: str, rows: Iterable[Evidence] = (), extra: Iterable[tuple[str, str, bool]] = ()
) -> list[ChecklistItem]:
    """The problem type's checklist, each item marked covered when an accepted file was tagged with it.

    ``extra`` are the items a supplier's playbook asks for besides (key, label, a photo shows it).
    """
    covered = {row.covers for row in rows if row.status == OK and row.covers}
    names = checklist_names(problem_type)
    items = [ChecklistItem(name, _(EVIDENCE[name]), name in covered, name in PHOTO_EVIDENCE) for name in names]
    asked = dict.fromkeys(item for item in extra if item[0] not in names)
    return items + [ChecklistItem(key, text, key in covered, photo, playbook=True) for key, text, photo in asked]


def evidence_label(name: str) -> str:
    """What an evidence name means, in the reader's language ("" for files tagged with nothing)."""
    return _(EVIDENCE[name]) if name in EVIDENCE else ""


async def evidence_for_case(case_id: int) -> list[Evidence]:
    """Every file of a case, oldest first: accepted, refused and withdrawn alike (the record is complete)."""
    return list(await Evidence.objects().where(Evidence.case == case_id).order_by(Evidence.id))


async def evidence_get(evidence_id: str | int) -> Evidence:
    """One evidence row by id; ids arrive from URLs, so anything that is not a positive number is unknown."""
    try:
        number = int(evidence_id)
    except (TypeError, ValueError):
        number = 0
    row = await Evidence.objects().where(Evidence.id == number).first() if number > 0 else None
    if row is None:
        raise NotFound(_("There is no such evidence file."))
    return row


async def bytes_uploaded_since(uploader: str, since: datetime) -> int:
    """How much accepted evidence one uploader stored since `since`, for the per-uploader allowance."""
    rows = await Evidence.select(Evidence.size).where(
        (Evidence.uploaded_by == uploader) & (Evidence.uploaded_at >= since) & (Evidence.status != FAILED)
    )
    return sum(int(row["size"]) for row in rows)


async def uploader_names(rows: Sequence[Evidence]) -> dict[str, str]:
    """Display names for the `user:<id>` uploaders of these rows."""
    ids = {int(who[5:]) for who in (row.uploaded_by for row in rows) if who.startswith("user:") and who[5:].isdigit()}
    if not ids:
        return {}
    users = await User.select(User.id, User.name, User.email).where(User.id.is_in(list(ids)))
    return {f"user:{user['id']}": user["name"] or user["email"] for user in users}


def evidence_urls(row: Evidence) -> dict[str, str | None]:
    """Where each copy of a file is served; None where a copy does not exist (refused files, videos)."""
    stored = row.status != FAILED and bool(row.original_key)
    return {
        "web": f"/evidence/{row.id}/web" if stored and row.web_key else None,
        "thumb": f"/evidence/{row.id}/thumb" if stored and row.thumb_key else None,
        "original": f"/evidence/{row.id}/original" if stored else None,
    }


def evidence_document(row: Evidence) -> dict[str, Any]:
    """The API shape of one evidence file."""
    return {
        "id": row.id,
        "filename": row.filename,
        "status": row.status,
        "reason": row.status_reason if row.status != OK else None,
        "notes": row.status_reason if row.status == OK and row.status_reason else None,
        "sha256": row.sha256 or None,
        "media_type": row.media_type or None,
        "kind": row.kind,
        "size": row.size,
        "width": row.width,
        "height": row.height,
        "captured_at": row.captured_at or None,
        "covers": row.covers or None,
        "party": row.party,
        "uploaded_at": row.uploaded_at.isoformat(),
        "urls": evidence_urls(row),
    }


async def evidence_documents(case_id: int) -> list[dict[str, Any]]:
    """The API's evidence list of one case."""
    return [evidence_document(row) for row in await evidence_for_case(case_id)]
