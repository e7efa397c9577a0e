"""Backup under write load, restore into a fresh instance, and the timeline's hash-chain audit (checklist 33)."""

import asyncio
import json
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


async def _fresh_database(tmp_path: Path, name: str) -> str:
    if ENGINE == "postgres":
        database = f"crossclaim_{name}_{os.getpid()}"
        await asyncio.to_thread(_postgres, f'DROP DATABASE IF EXISTS "{database}"')
        await asyncio.to_thread(_postgres, f'CREATE DATABASE "{database}"')
        return f"{POSTGRES_BASE}/{database}"
    return f"sqlite:///{tmp_path / name / 'crossclaim.sqlite3'}"


async def _drop_database(url: str) -> None:
    if ENGINE == "postgres":
        await asyncio.to_thread(_postgres, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _restore(archive: Path, data_dir: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "CROSSCLAIM_SECRET_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "restore", "--from", str(archive)],
        env={**clean, "CROSSCLAIM_DATA_DIR": str(data_dir), "DATABASE_URL": url, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


@pytest.mark.checklist(33)
async def test_a_restored_instance_posts_a_reply_to_mail_sent_before_the_backup(settings: Any, tmp_path: Path) -> None:
    """The archive carries the secret key, the web-push keys and the SLA override (and is owner-only), so
    the reply tag of a mail sent before the backup still verifies after a restore into an empty folder."""
    from dataclasses import replace
    from email.message import EmailMessage

    from app.evidence.services import EvidencePolicy
    from app.mail.ingest import ingest_mail
    from app.mail.outgoing import case_mail
    from app.notify.email import Mail
    from app.notify.push import vapid_key_path
    from app.settings import Settings
    from app.tracking.policies import OVERRIDE_NAME
    from app.trade.tables import Customer

    mailing = replace(settings, reply_address="support@example.com")  # no SMTP: the mail goes to the outbox
    customer = Customer(name="Zhang San", email="zhang@customer.example", language="zh")
    await customer.save()
    draft = CaseDraft(problem_type="other", customer_id=customer.id)
    case = (await case_create(actor=Actor.system(), draft=draft)).case
    update = Mail(to=[customer.email], subject=f"[{case.number}] update", text="Your case has moved on.")
    sent = await case_mail(mailing, update, case_id=case.id, number=case.number, party="customer")
    assert sent.reply_to is not None
    vapid = vapid_key_path(settings.data_dir).read_bytes()
    override = settings.data_dir / OVERRIDE_NAME
    override.write_text("# the admin's override, kept by the backup\n", encoding="utf-8")
    out = tmp_path / "backup.tar.gz"
    try:
        manifest = await asyncio.to_thread(backup, settings, out)
    finally:
        override.unlink()
    assert manifest["secrets"] == sorted(["secret_key", "vapid_private.pem", OVERRIDE_NAME])
    assert out.stat().st_mode & 0o077 == 0

    fresh_dir, url = tmp_path / "restored", await _fresh_database(tmp_path, "restored")
    try:
        result = _restore(out, fresh_dir, url)
        assert result.returncode == 0, result.stderr
        restored = Settings(data_dir=fresh_dir, database_url=url, reply_address="support@example.com").resolved()
        assert restored.secret_key == settings.secret_key
        assert (fresh_dir / "vapid_private.pem").read_bytes() == vapid
        assert (fresh_dir / OVERRIDE_NAME).read_text(encoding="utf-8").startswith("# the admin's override")
        assert all((fresh_dir / name).stat().st_mode & 0o077 == 0 for name in manifest["secrets"])  # type: ignore[union-attr]
        answer = EmailMessage()
        answer["From"] = customer.email
        answer["To"] = sent.reply_to
        answer["Message-ID"] = "<after-restore@customer.example>"
        answer["Subject"] = "Re: update"
        answer.set_content("Thank you, please ship soon.")
        db.bind_tables(db.make_engine(url), TABLES)
        store = LocalEvidenceStore(fresh_dir / "evidence")
        outcome = await ingest_mail(answer.as_bytes(), settings=restored, store=store, policy=EvidencePolicy())
        assert (outcome.status, outcome.case_number) == ("posted", case.number)
    finally:
        db.bind_tables(db.make_engine(settings.database_url), TABLES)
        await _drop_database(url)

    # An instance whose environment names another secret key would refuse the old tags: refused clearly.
    other_dir, other_url = tmp_path / "other", await _fresh_database(tmp_path, "other")
    try:
        refused = _restore(out, other_dir, other_url, CROSSCLAIM_SECRET_KEY="another-key-" + "y" * 40)
        assert refused.returncode == 1 and "CROSSCLAIM_SECRET_KEY differs" in refused.stderr
    finally:
        await _drop_database(other_url)


async def _rehash(case_id: int, *, key: bytes | None, data: dict[str, Any]) -> None:
    """What the probe did with the triggers lifted: change an event and recompute the chain's hashes."""
    from app.cases.events import event_hash

    rows = await CaseEvent.select().where(CaseEvent.case == case_id).order_by(CaseEvent.id).output(load_json=True)
    previous = ""
    for row in rows:
        content = data if row["kind"] == "node_changed" else row["data"]
        actor = Actor(kind=row["actor_kind"], id=row["actor_id"], label=row["actor_label"])
        digest = event_hash(
            prev_hash=previous, case_id=case_id, at=row["at"], actor=actor, kind=row["kind"], data=content, key=key
        )
        text = json.dumps(content).replace("'", "''")
        changes = f"data = '{text}', prev_hash = '{previous}', hash = '{digest}'"
        await tamper(f"UPDATE case_event SET {changes} WHERE id = {int(row['id'])}")
        previous = digest


async def _timeline() -> Case:
    actor = Actor.system()
    made = await case_create(actor=actor, draft=CaseDraft(problem_type="wrong_item"))
    for node in ("responsibility", "plan"):
        await case_move(actor=actor, number=made.case.number, target=node)
    return made.case


async def test_a_chain_recomputed_without_the_key_is_caught() -> None:
    """Changed content with every hash recomputed, as plain SHA-256 or under a guessed key: verify fails."""
    case = await _timeline()
    assert (await audit_verify()).ok
    await _rehash(case.id, key=None, data={"from": "reported", "to": "completed"})
    report = await audit_verify()
    assert not report.ok and {b["case"] for b in report.broken} == {case.number}
    await _rehash(case.id, key=b"a guessed key", data={"from": "reported", "to": "completed"})
    assert not (await audit_verify()).ok


async def test_the_checkpoint_catches_a_dropped_last_event_and_a_forged_checkpoint(tmp_path: Path) -> None:
    from app.audit import CHECKPOINT_NAME, audit_checkpoint

    case, other = await _timeline(), await _timeline()
    written = await audit_checkpoint(tmp_path)
    assert written.ok and written.checkpoint_at and (tmp_path / CHECKPOINT_NAME).stat().st_mode & 0o077 == 0
    assert (await audit_verify(tmp_path)).ok
    # The last event deleted and the chain left whole (nothing after it to relink): only the anchor sees it.
    events = CaseEvent.select(CaseEvent.id).where(CaseEvent.case == case.id)
    last = await events.order_by(CaseEvent.id, ascending=False).first()
    await tamper(f"DELETE FROM case_event WHERE id = {int(last['id'])}")
    report = await audit_verify(tmp_path)
    assert [(b["case"], b["kind"]) for b in report.broken] == [(case.number, "truncated")]
    # A broken chain is not anchored over: the old checkpoint stays the measure.
    assert not (await audit_checkpoint(tmp_path)).ok
    assert not (await audit_verify(tmp_path)).ok
    # Editing the checkpoint to match is refused by its signature.
    stored = json.loads((tmp_path / CHECKPOINT_NAME).read_text())
    stored["checkpoint"]["cases"][str(case.id)][0] -= 1
    (tmp_path / CHECKPOINT_NAME).write_text(json.dumps(stored))
    assert any("signature" in str(b["kind"]) for b in (await audit_verify(tmp_path)).broken)
    assert other.number not in {b["case"] for b in report.broken}


async def test_concurrent_writers_cannot_fork_a_chain() -> None:
    """Events written at once on one case queue on its lock; a second successor of one event is refused."""
    from app.cases.events import record_event
    from app.db import atomic

    case = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="other"))).case

    async def write(n: int) -> None:
        async with atomic():
            await record_event(case_id=case.id, actor=Actor.system(), kind="note", data={"n": n})
            await asyncio.sleep(0.01)  # hold the transaction open while the others try

    await asyncio.gather(*(write(n) for n in range(8)))
    rows = await CaseEvent.select(CaseEvent.prev_hash, CaseEvent.hash).where(CaseEvent.case == case.id)
    assert len(rows) == 9 and len({row["prev_hash"] for row in rows}) == 9
    assert (await audit_verify()).ok
    head = rows[0]["hash"]
    with pytest.raises(Exception, match=r"(?i)unique"):
        await CaseEvent(case=case.id, kind="note", data={}, prev_hash=head, hash="f" * 64).save()
