"""The evidence stores: a local folder, and S3 spoken to over HTTP on loopback."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from app.evidence.storage import (
    EvidenceMissing,
    LocalEvidenceStore,
    S3EvidenceStore,
    evidence_key,
    store_from_url,
)

PHOTO = b"\xff\xd8\xff" + bytes(range(256)) * 40


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_key_is_the_sha256_fanned_out() -> None:
    digest = hashlib.sha256(PHOTO).hexdigest()
    assert evidence_key(PHOTO) == f"{digest[:2]}/{digest[2:4]}/{digest}"


def test_local_put_is_idempotent_atomic_and_read_only(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path)
    first = store.put(PHOTO)
    second = store.put(PHOTO)

    assert first == second == evidence_key(PHOTO)
    stored = files_under(tmp_path)
    assert stored == [tmp_path / first]
    mode = stored[0].stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert store.get(first) == PHOTO
    assert store.exists(first)
    with store.open(first) as stream:
        assert stream.read(3) == b"\xff\xd8\xff"
        assert stream.read() == PHOTO[3:]


def test_local_different_content_gets_different_keys(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path)
    assert store.put(b"one") != store.put(b"two")
    assert len(files_under(tmp_path)) == 2


def test_local_missing_key(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path)
    key = evidence_key(b"never stored")
    assert not store.exists(key)
    with pytest.raises(EvidenceMissing):
        store.get(key)
    with pytest.raises(EvidenceMissing):
        store.open(key)


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "ab/cd/../../../etc/passwd",
        "/etc/passwd",
        "00/00/" + "1" * 64,  # well formed but the folders do not match the digest
        "AB/CD/" + "ab" * 32,
        "",
    ],
)
@pytest.mark.checklist(9)
def test_local_refuses_keys_it_did_not_mint(tmp_path: Path, key: str) -> None:
    store = LocalEvidenceStore(tmp_path)
    for call in (store.get, store.exists, store.open):
        with pytest.raises(ValueError):
            call(key)


@pytest.mark.checklist(2)
def test_local_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    store = LocalEvidenceStore(tmp_path)
    # A folder squatting on the target name makes the final rename fail after the bytes are written.
    target = tmp_path / evidence_key(PHOTO)
    target.mkdir(parents=True)
    with pytest.raises(OSError):
        store.put(PHOTO)
    assert files_under(tmp_path) == []


def test_store_from_url_local(tmp_path: Path) -> None:
    for url in ("", "file://"):
        store = store_from_url(url, tmp_path)
        assert isinstance(store, LocalEvidenceStore)
        key = store.put(PHOTO)
        assert (tmp_path / "evidence" / key).is_file()
    elsewhere = tmp_path / "elsewhere"
    store = store_from_url(f"file://{elsewhere}", tmp_path)
    assert isinstance(store, LocalEvidenceStore) and store.root == elsewhere


def test_store_from_url_s3_reads_keys_from_the_url(tmp_path: Path) -> None:
    store = store_from_url(
        "s3://AKIDEXAMPLE:se%2Fcr%2Bet@my-bucket?endpoint=http://127.0.0.1:9&region=eu-west-1", tmp_path
    )
    assert isinstance(store, S3EvidenceStore)
    assert store.bucket == "my-bucket"
    credentials = store._client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("AKIDEXAMPLE", "se/cr+et")
    assert store._client.meta.region_name == "eu-west-1"
    assert store._client.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:hunter2@host/x",
        "s3://AK:hunter2@?endpoint=http://x",
        "s3://AK:hunter2@bucket/prefix",
        "file://host/x",
    ],
)
def test_store_from_url_refuses_bad_urls_without_echoing_secrets(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError) as caught:
        store_from_url(url, tmp_path)
    assert "hunter2" not in str(caught.value)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_store(s3_endpoint: str, tmp_path: Path, request: pytest.FixtureRequest) -> S3EvidenceStore:
    bucket = "evidence-" + hashlib.sha256(request.node.name.encode()).hexdigest()[:12]
    admin = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        region_name="eu-west-1",
    )
    admin.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    store = store_from_url(f"s3://AKIDEXAMPLE:secret@{bucket}?endpoint={s3_endpoint}&region=eu-west-1", tmp_path)
    assert isinstance(store, S3EvidenceStore)
    return store


def test_s3_round_trip(s3_store: S3EvidenceStore) -> None:
    key = s3_store.put(PHOTO)
    assert key == evidence_key(PHOTO)
    assert s3_store.put(PHOTO) == key
    assert s3_store.exists(key)
    assert s3_store.get(key) == PHOTO
    with s3_store.open(key) as stream:
        assert stream.read(3) == b"\xff\xd8\xff"
        assert stream.read() == PHOTO[3:]
    listing = s3_store._client.list_objects_v2(Bucket=s3_store.bucket)
    assert [item["Key"] for item in listing["Contents"]] == [key]
    assert listing["Contents"][0]["Size"] == len(PHOTO)


def test_s3_missing_key(s3_store: S3EvidenceStore) -> None:
    key = evidence_key(b"never stored")
    assert not s3_store.exists(key)
    with pytest.raises(EvidenceMissing):
        s3_store.get(key)


def test_s3_refuses_keys_it_did_not_mint(s3_store: S3EvidenceStore) -> None:
    with pytest.raises(ValueError):
        s3_store.get("../x")
