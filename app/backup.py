"""Backups: one archive with the database, the evidence files and the instance's secrets, and restoring it.

The archive holds the secret key (reply tags, party cookies, CSRF), the web-push key pair and the SLA
override, so a restored instance answers mail sent before the backup: it is as secret as those keys.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from app.audit import CHECKPOINT_NAME
from app.notify.push import KEY_NAME as VAPID_KEY_NAME
from app.settings import SECRET_KEY_NAME, Settings
from app.tracking.policies import OVERRIDE_NAME

MANIFEST = "manifest.json"
SECRETS = "secrets"
# Files of the data dir that a restored instance needs to go on where this one stands.
KEPT_FILES = (VAPID_KEY_NAME, OVERRIDE_NAME, CHECKPOINT_NAME)


class BackupError(Exception):
    """The backup or restore could not be made; the message says why."""


def sqlite_path(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def evidence_dir(settings: Settings) -> Path:
    return settings.data_dir / "evidence"


def _secret_files(settings: Settings) -> dict[str, bytes]:
    """The secret key in use (from the environment or the data dir) and the kept files that exist."""
    found = {SECRET_KEY_NAME: settings.secret_key.encode()}
    for name in KEPT_FILES:
        path = settings.data_dir / name
        if path.is_file():
            found[name] = path.read_bytes()
    return found


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, readable by its owner only."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)


def backup(settings: Settings, out: Path) -> dict[str, object]:
    """Write ``out`` (a .tar.gz, owner-only): a database snapshot, the evidence files and the secrets.

    Evidence is content-addressed and never changes, so copying it after the snapshot includes every
    file the snapshot refers to (and perhaps a few newer ones, which is harmless). The secrets, the audit
    checkpoint among them, are read before the snapshot: every head the checkpoint names is in it.
    """
    out = out.resolve()
    kept = _secret_files(settings)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        work = Path(scratch)
        if settings.is_sqlite:
            database_name = "database.sqlite3"
            snapshot = work / database_name
            # VACUUM INTO takes a transactionally consistent copy while writers carry on (WAL).
            with sqlite3.connect(sqlite_path(settings), timeout=60) as connection:
                connection.execute("VACUUM INTO ?", (str(snapshot),))
            connection.close()
        else:
            database_name = "database.dump"
            snapshot = work / database_name
            result = subprocess.run(  # noqa: S603
                ["pg_dump", "--format=custom", "--no-owner", f"--file={snapshot}", settings.database_url],  # noqa: S607
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
        manifest: dict[str, object] = {
            "created_at": datetime.now(UTC).isoformat(),
            "engine": "sqlite" if settings.is_sqlite else "postgresql",
            "database": database_name,
            "database_sha256": _sha256(snapshot),
        }
        files = 0
        partial = out.with_suffix(out.suffix + ".partial")
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # secret from its first byte
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(snapshot, arcname=database_name)
            evidence = evidence_dir(settings)
            if evidence.exists():
                for path in sorted(evidence.rglob("*")):
                    if path.is_file() and not path.name.startswith("."):
                        archive.add(path, arcname=f"evidence/{path.relative_to(evidence)}")
                        files += 1
            manifest["evidence_files"] = files
            for name, content in kept.items():
                info = tarfile.TarInfo(f"{SECRETS}/{name}")
                info.size, info.mode = len(content), 0o600
                archive.addfile(info, io.BytesIO(content))
            manifest["secrets"] = sorted(kept)
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        os.replace(partial, out)
    return manifest


def restore(settings: Settings, archive_path: Path, *, force: bool = False) -> dict[str, object]:
    """Restore into the configured database and data dir, which must be empty unless ``force``."""
    with tarfile.open(archive_path, "r:gz") as archive:
        try:
            manifest = json.loads(archive.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        except KeyError:
            raise BackupError(f"{archive_path} is not a Crossclaim backup (no {MANIFEST})") from None
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            archive.extractall(work, filter="data")
            snapshot = work / manifest["database"]
            if _sha256(snapshot) != manifest["database_sha256"]:
                raise BackupError("the database in the backup does not match its checksum")
            kept = _check_secrets(settings, manifest, work / SECRETS, force=force)
            if manifest["engine"] == "sqlite":
                if not settings.is_sqlite:
                    raise BackupError("this backup holds a SQLite database; DATABASE_URL names PostgreSQL")
                target = sqlite_path(settings)
                if target.exists() and target.stat().st_size > 0 and not force:
                    raise BackupError(f"{target} already exists; restore into an empty data dir or pass --force")
                target.parent.mkdir(parents=True, exist_ok=True)
                for suffix in ("-wal", "-shm"):
                    Path(f"{target}{suffix}").unlink(missing_ok=True)
                shutil.copyfile(snapshot, target)
                with sqlite3.connect(target) as connection:
                    status = connection.execute("PRAGMA integrity_check").fetchone()[0]
                connection.close()
                if status != "ok":
                    raise BackupError(f"integrity check after restore: {status}")
            else:
                if settings.is_sqlite:
                    raise BackupError("this backup holds a PostgreSQL dump; DATABASE_URL names SQLite")
                args = ["pg_restore", "--no-owner", f"--dbname={settings.database_url}", str(snapshot)]
                if force:
                    args.insert(1, "--clean")
                result = subprocess.run(args, capture_output=True, text=True)  # noqa: S603
                if result.returncode != 0:
                    raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
            source = work / "evidence"
            if source.exists():
                shutil.copytree(source, evidence_dir(settings), dirs_exist_ok=True)
            for name, content in kept.items():
                _write_private(settings.data_dir / name, content)
    return {**manifest, "restored_to": _describe(settings)}


def _check_secrets(settings: Settings, manifest: dict[str, object], folder: Path, *, force: bool) -> dict[str, bytes]:
    """The secret files to put in the data dir; refuses a restore that would lose or contradict them."""
    names = manifest.get("secrets")
    if not isinstance(names, list):
        if force:
            return {}
        raise BackupError(
            "this backup holds no secret key, web-push keys or SLA override (it was made by an older version):"
            " replies to mail sent before it would be quarantined as forged and party links would stop"
            " working. Make a new backup, or pass --force to restore it anyway"
        )
    kept = {str(name): (folder / str(name)).read_bytes() for name in names}
    archived_key = kept.get(SECRET_KEY_NAME, b"").decode().strip()
    key_file = settings.data_dir / SECRET_KEY_NAME
    from_environment = not (key_file.is_file() and key_file.read_text().strip() == settings.secret_key)
    if from_environment and archived_key and settings.secret_key != archived_key:
        raise BackupError(
            "CROSSCLAIM_SECRET_KEY differs from the secret key in this backup: replies to mail sent before it"
            " would be quarantined as forged and party links would stop working. Unset it (the restore puts the"
            " backup's key in the data dir) or set it to the backup's key (secrets/secret_key in the archive)"
        )
    return kept


def _describe(settings: Settings) -> str:
    if settings.is_sqlite:
        return str(sqlite_path(settings))
    url = urlparse(settings.database_url)
    return f"{url.hostname}:{url.port or 5432}{url.path}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
