"""Backup under write load, restore into a fresh instance, and the timeline's hash-chain audit (checklist 33)."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import db
from app.audit import audit_verify
from app.backup import backup
from app.cases.events import Actor
from app.cases.services import CaseDraft, case_create, case_move
from app.cases.tables import Case, CaseEvent
from app.evidence.storage import LocalEvidenceStore
from app.piccolo_app import TABLES
from tests.conftest import ENGINE, POSTGRES_BASE, _postgres

ROOT = Path(__file__).resolve().parents[2]


async def tamper(sql: str) -> None:
    """Run ``sql`` the way an intruder with database access would: guard lifted, same session."""
    engine = db.current_engine()
    if ENGINE == "postgres":
        async with engine.transaction():
            await engine.run_ddl("SET LOCAL crossclaim.maintenance = 'on'")
            await engine.run_ddl(sql)
    else:
        await engine.run_ddl("INSERT OR IGNORE INTO audit_maintenance (id) VALUES (1)")
        await engine.run_ddl(sql)
        await engine.run_ddl("DELETE FROM audit_maintenance")


async def test_evidence_rows_cannot_be_deleted_or_their_proof_changed() -> None:
    from app.evidence.tables import Evidence

    made = await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="transit_damage"))
    row = Evidence(case=made.case.id, sha256="a" * 64, original_key="aa/aa/" + "a" * 64, status="ok")
    await row.save()
    with pytest.raises(Exception, match="append-only"):
        await Evidence.delete().where(Evidence.id == row.id)
    with pytest.raises(Exception, match="append-only"):
        await Evidence.update({Evidence.sha256: "b" * 64}).where(Evidence.id == row.id)
    # Withdrawing changes only the status: allowed.
    await Evidence.update({Evidence.status: "withdrawn", Evidence.status_reason: "wrong parcel"}).where(
        Evidence.id == row.id
    )
    assert (await Evidence.objects().where(Evidence.id == row.id).first()).status == "withdrawn"


async def test_audit_verify_finds_a_tampered_event() -> None:
    actor = Actor.system()
    made = await case_create(actor=actor, draft=CaseDraft(problem_type="wrong_item"))
    await case_move(actor=actor, number=made.case.number, target="responsibility")
    report = await audit_verify()
    assert report.ok and report.cases == 1 and report.events == 2
    # The app cannot change history: the database refuses.
    with pytest.raises(Exception, match="append-only"):
        await CaseEvent.update({CaseEvent.data: {"from": "reported", "to": "plan"}}).where(
            CaseEvent.kind == "node_changed"
        )
    with pytest.raises(Exception, match="append-only"):
        await CaseEvent.delete().where(CaseEvent.kind == "node_changed")
    # Someone with the database's keys lifts the guard and edits the stored move: the chain shows it.
    await tamper("UPDATE case_event SET data = '{\"from\": \"reported\", \"to\": \"plan\"}' "
                 "WHERE kind = 'node_changed'")
    report = await audit_verify()
    assert not report.ok
    assert [(b["case"], b["kind"]) for b in report.broken] == [(made.case.number, "node_changed")]


@pytest.mark.checklist(33)
async def test_backup_under_write_load_restores_every_acknowledged_case(settings: Any, tmp_path: Path) -> None:
    actor = Actor.system()
    store = LocalEvidenceStore(settings.data_dir / "evidence")
    acknowledged = []
    for i in range(20):
        made = await case_create(actor=actor, draft=CaseDraft(problem_type="other", description=f"before {i}"))
        acknowledged.append(made.case.number)
    evidence_key = store.put(b"%PDF-1.4 delivery receipt with a note of damage")

    async def keep_writing() -> int:
        written = 0
        for i in range(30):
            await case_create(actor=actor, draft=CaseDraft(problem_type="other", description=f"during {i}"))
            written += 1
        return written

    out = tmp_path / "backup.tar.gz"
    writer = asyncio.create_task(keep_writing())
    manifest = await asyncio.to_thread(backup, settings, out)
    await writer
    assert out.exists() and manifest["evidence_files"] >= 1

    fresh_dir = tmp_path / "restored"
    if ENGINE == "postgres":
        name = f"crossclaim_restore_{os.getpid()}"
        await asyncio.to_thread(_postgres, f'DROP DATABASE IF EXISTS "{name}"')
        await asyncio.to_thread(_postgres, f'CREATE DATABASE "{name}"')
        url = f"{POSTGRES_BASE}/{name}"
    else:
        url = f"sqlite:///{fresh_dir / 'crossclaim.sqlite3'}"
    env = {**os.environ, "CROSSCLAIM_DATA_DIR": str(fresh_dir), "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "restore", "--from", str(out)], env=env, cwd=ROOT, capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    restored_engine = db.make_engine(url)
    db.bind_tables(restored_engine, TABLES)
    try:
        numbers = {row["number"] for row in await Case.select(Case.number)}
        assert set(acknowledged) <= numbers
        report = await audit_verify()
        assert report.ok and report.cases == len(numbers)
        assert (fresh_dir / "evidence" / evidence_key).read_bytes().startswith(b"%PDF-1.4")
    finally:
        db.bind_tables(db.make_engine(settings.database_url), TABLES)
        if ENGINE == "postgres":
            await asyncio.to_thread(_postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # Restoring over a database that is already there is refused unless forced.
    again = subprocess.run(
        [sys.executable, "-m", "app.cli", "restore", "--from", str(out)], env=env, cwd=ROOT, capture_output=True,
        text=True,
    )
    if ENGINE == "sqlite":
        assert again.returncode == 1 and "already exists" in again.stderr


async def test_restore_refuses_a_file_that_is_not_a_backup(settings: Any, tmp_path: Path) -> None:
    import tarfile

    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as archive:
        note = tmp_path / "note.txt"
        note.write_text("hello")
        archive.add(note, arcname="note.txt")
    env = {**os.environ, "CROSSCLAIM_DATA_DIR": str(tmp_path / "x"), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "restore", "--from", str(bogus)], env=env, cwd=ROOT, capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "is not a Crossclaim backup" in result.stderr
