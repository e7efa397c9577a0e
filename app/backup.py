"""Backups: one archive with the database and the evidence files, and restoring it into a fresh instance."""

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

from app.settings import Settings

MANIFEST = "manifest.json"


class BackupError(Exception):
    """The backup or restore could not be made; the message says why."""


def sqlite_path(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def evidence_dir(settings: Settings) -> Path:
    return settings.data_dir / "evidence"


def backup(settings: Settings, out: Path) -> dict[str, object]:
    """Write ``out`` (a .tar.gz): a consistent database snapshot first, then the evidence files.

    Evidence is content-addressed and never changes, so copying it after the snapshot includes every
    file the snapshot refers to (and perhaps a few newer ones, which is harmless).
    """
    out = out.resolve()
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
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(snapshot, arcname=database_name)
            evidence = evidence_dir(settings)
            if evidence.exists():
                for path in sorted(evidence.rglob("*")):
                    if path.is_file() and not path.name.startswith("."):
                        archive.add(path, arcname=f"evidence/{path.relative_to(evidence)}")
                        files += 1
            manifest["evidence_files"] = files
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
    return {**manifest, "restored_to": _describe(settings)}


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
