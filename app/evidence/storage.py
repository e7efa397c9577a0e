"""Append-only, content-addressed storage for original evidence bytes: a local folder or S3."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol, cast
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

__all__ = [
    "EvidenceMissing",
    "EvidenceStore",
    "LocalEvidenceStore",
    "S3EvidenceStore",
    "evidence_key",
    "store_from_url",
]

_KEY: Final = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")


class EvidenceMissing(LookupError):
    """No stored object under this key."""


class EvidenceStore(Protocol):
    """Where original evidence bytes live. There is no delete: evidence is append-only."""

    def put(self, data: bytes) -> str:
        """Stores `data` under its SHA-256 and returns the key; storing the same bytes again is a no-op."""
        ...

    def get(self, key: str) -> bytes:
        """The stored bytes; raises `EvidenceMissing` when there are none."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the stored bytes, for serving large files; the caller closes it."""
        ...

    def exists(self, key: str) -> bool:
        """Whether bytes are stored under `key`."""
        ...


def evidence_key(data: bytes) -> str:
    """The key of `data`: `ab/cd/<sha256>`, the first two byte pairs fanning out the folders."""
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


def _checked_key(key: str) -> str:
    # Keys reach the store from URLs and rows; only the exact shape we mint may touch a path.
    match = _KEY.fullmatch(key)
    if match is None or not match.group(3).startswith(match.group(1) + match.group(2)):
        raise ValueError(f"not an evidence key: {key!r}")
    return key


class LocalEvidenceStore:
    """Files under one folder, written atomically and made read-only once complete."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes) -> str:
        key = evidence_key(data)
        path = self._path(key)
        if path.is_file() and path.stat().st_size == len(data):
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as the target so os.replace is an atomic rename on one file system: readers
        # see either nothing or the whole file, never a partial one.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as temp_file:
                temp_file.write(data)
                temp_file.flush()
                os.fsync(temp_file.fileno())
            os.chmod(temp_name, 0o444)
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_directory(path.parent)
        return key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise EvidenceMissing(key) from exc

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise EvidenceMissing(key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _path(self, key: str) -> Path:
        return self.root / _checked_key(key)


def _fsync_directory(folder: Path) -> None:
    # Makes the rename itself durable; some file systems refuse to open folders, which is harmless.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class S3EvidenceStore:
    """Objects in one S3 (or S3-compatible: MinIO, Garage, Ceph) bucket."""

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
    ) -> None:
        self.bucket = bucket
        # Path-style addressing works with every S3-compatible server and with bucket names that
        # contain dots; AWS still accepts it.
        config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=config,
        )

    def put(self, data: bytes) -> str:
        key = evidence_key(data)
        if self.exists(key):
            return key
        digest = hashlib.sha256(data).digest()
        # The server checks the body against this digest, so a corrupted transfer is refused.
        self._client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/octet-stream",
            ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
        )
        return key

    def get(self, key: str) -> bytes:
        body = self._body(key)
        try:
            # StreamingBody.read checks the length against Content-Length; the raw stream does not.
            return cast(bytes, body.read())
        finally:
            body.close()

    def open(self, key: str) -> BinaryIO:
        return cast(BinaryIO, self._body(key))

    def _body(self, key: str) -> Any:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=_checked_key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                raise EvidenceMissing(key) from exc
            raise
        return response["Body"]

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=_checked_key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise
        return True


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}


def store_from_url(url: str, data_dir: Path) -> EvidenceStore:
    """The store named by a settings URL.

    `""` or `file://` → `data_dir/evidence`; `file:///abs/path` → that folder;
    `s3://ACCESS:SECRET@bucket?endpoint=http://host:9000&region=eu-west-1` → S3 (keys percent-encoded;
    without keys boto3's usual credential chain applies).
    """
    if not url or url == "file://":
        return LocalEvidenceStore(data_dir / "evidence")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError("an evidence file URL must be file:// or file:///absolute/path")
        return LocalEvidenceStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        bucket = parts.hostname
        if not bucket:
            raise ValueError("an evidence S3 URL needs a bucket: s3://ACCESS:SECRET@bucket?endpoint=...")
        if parts.path not in ("", "/"):
            raise ValueError("an evidence S3 URL takes no path; keys are placed at the bucket root")
        query = parse_qs(parts.query)
        endpoint = query.get("endpoint", [None])[0]
        region = query.get("region", ["us-east-1"])[0] or "us-east-1"
        return S3EvidenceStore(
            endpoint_url=endpoint,
            bucket=bucket,
            access_key=unquote(parts.username) if parts.username else None,
            secret_key=unquote(parts.password) if parts.password else None,
            region=region,
        )
    # The URL may carry secrets: name only the scheme.
    raise ValueError(f"unsupported evidence store scheme {parts.scheme!r}; use file:// or s3://")
