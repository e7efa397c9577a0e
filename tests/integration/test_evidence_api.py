"""The intake API: multipart reports with files, idempotency, evidence added later, bad files, safe serving, S3."""

import asyncio
import dataclasses
import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from app.accounts.services import token_create
from app.cases.tables import Case, CaseEvent
from app.evidence.services import UPLOAD_BODY_LIMIT
from app.evidence.tables import Evidence
from tests.conftest import asgi_client

RED = (255, 0, 0)


def landscape_with_marker(size: tuple[int, int] = (800, 600)) -> Image.Image:
    """Grey, with a red block in the stored top-left corner."""
    image = Image.new("RGB", size, (128, 128, 128))
    image.paste(RED, (0, 0, size[0] // 10, size[1] // 10))
    return image


def phone_jpeg() -> bytes:
    """What a phone held upright writes: landscape pixels, Orientation=6, GPS, maker and capture time."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8769)[0x9003] = "2026:03:02 08:15:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (31.0, 13.0, 57.1), "E", (121.0, 28.0, 12.3)
    buffer = io.BytesIO()
    landscape_with_marker().save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def small_jpeg(colour: tuple[int, int, int] = (30, 90, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims another size, with a valid CRC."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def gif_zip_polyglot() -> bytes:
    gif = io.BytesIO()
    landscape_with_marker((120, 90)).convert("P").save(gif, format="GIF")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(1)</script>")
    return gif.getvalue() + archive.getvalue()


def is_red(pixel: Any) -> bool:
    red, green, blue = pixel[:3]
    return red > 200 and green < 60 and blue < 60


@pytest.fixture
async def api(client: Any, make_user: Any) -> dict[str, str]:
    """Bearer headers for a handler's API token."""
    user = await make_user("handler", name="Hao")
    return {"Authorization": f"Bearer {await token_create(email=user.email)}"}


async def bearer(make_user: Any, role: str) -> dict[str, str]:
    user = await make_user(role)
    return {"Authorization": f"Bearer {await token_create(email=user.email)}"}


REPORT = {
    "problem_type": "transit_damage",
    "order_number": "PO-API-1",
    "quantity_affected": "2",
    "description": "Two cartons crushed",
    "facts.damage_noted_on_receipt": "no",
    "facts.outer_packaging": "damaged",
}


def raw_multipart(fields: dict[str, str], uploads: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart body with file names exactly as given (quotes escaped the way Chrome does)."""
    boundary = b"----crossclaim-test-boundary"
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value.encode()
        for name, value in fields.items()
    ]
    for filename, data, media_type in uploads:
        quoted = filename.encode().replace(b'"', b"%22")
        parts.append(
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="evidence"; filename="' + quoted + b'"\r\n'
            b"Content-Type: " + media_type.encode() + b"\r\n\r\n" + data
        )
    body = b"\r\n".join(parts) + b"\r\n--" + boundary + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary.decode()


def files(*items: tuple[str, bytes, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("evidence", item) for item in items]


async def test_multipart_report_with_files_lists_its_evidence(client: Any, api: dict[str, str]) -> None:
    original = phone_jpeg()
    response = await client.post(
        "/api/v1/cases",
        data={**REPORT, "evidence_covers": ["damage_photos", ""]},
        files=files(("IMG_0042.JPG", original, "image/jpeg"), ("receipt.jpg", small_jpeg(), "image/jpeg")),
        headers={**api, "Idempotency-Key": "0f8d8f4e-1c77-4c55-a6a1-9d4ce2a0d101"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/cases/{body['number']}"
    assert body["facts"] == {
        "problem_type": "transit_damage",
        "damage_noted_on_receipt": False,
        "outer_packaging": "damaged",
    }
    first, second = body["evidence"]
    assert first["sha256"] == hashlib.sha256(original).hexdigest()
    assert (first["media_type"], first["size"], first["status"]) == ("image/jpeg", len(original), "ok")
    assert (first["width"], first["height"], first["captured_at"]) == (600, 800, "2026-03-02T08:15:00")
    assert first["covers"] == "damage_photos" and second["covers"] is None
    assert first["filename"] == "IMG_0042.jpg"
    assert first["urls"] == {
        "web": f"/evidence/{first['id']}/web",
        "thumb": f"/evidence/{first['id']}/thumb",
        "original": f"/evidence/{first['id']}/original",
    }
    assert [item["status"] for item in body["uploads"]] == ["ok", "ok"]
    # The plain read of the case lists the same evidence.
    read = (await client.get(f"/api/v1/cases/{body['number']}", headers=api)).json()
    assert read["evidence"] == body["evidence"]
    kinds = [event["kind"] for event in read["events"]]
    assert kinds == ["case_reported", "assigned", "evidence_added", "evidence_added", "hint_changed"]


@pytest.mark.checklist(25)
async def test_same_key_same_report_is_the_same_case_and_a_different_report_is_a_422(
    client: Any, api: dict[str, str]
) -> None:
    headers = {**api, "Idempotency-Key": "2a3b4c5d-0000-4000-8000-00000000abcd"}
    photo = small_jpeg()
    first = await client.post(
        "/api/v1/cases", data=REPORT, files=files(("a.jpg", photo, "image/jpeg")), headers=headers
    )
    again = await client.post(
        "/api/v1/cases", data=REPORT, files=files(("a.jpg", photo, "image/jpeg")), headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["uploads"][0]["already_on_case"] is True
    assert await Case.count() == 1 and await Evidence.count() == 1
    # A retry that brings a file the first attempt lost attaches just that file.
    more = await client.post(
        "/api/v1/cases",
        data=REPORT,
        files=files(("a.jpg", photo, "image/jpeg"), ("b.jpg", small_jpeg((200, 200, 0)), "image/jpeg")),
        headers=headers,
    )
    assert more.status_code == 200 and [u["already_on_case"] for u in more.json()["uploads"]] == [True, False]
    assert await Evidence.count() == 2

    different = await client.post("/api/v1/cases", data={**REPORT, "quantity_affected": "5"}, headers=headers)
    assert different.status_code == 422
    error = different.json()
    assert error["error"] == "invalid" and "different report" in error["message"]
    assert error["fields"] == [{"field": "Idempotency-Key", "message": "Send a new key for a new report."}]
    malformed = await client.post("/api/v1/cases", data=REPORT, headers={**api, "Idempotency-Key": "x y"})
    assert malformed.status_code == 422 and malformed.json()["fields"][0]["field"] == "Idempotency-Key"
    assert await Case.count() == 1


@pytest.mark.checklist(25)
async def test_five_concurrent_requests_with_one_key_make_one_case(client: Any, api: dict[str, str]) -> None:
    headers = {**api, "Idempotency-Key": "7e1f2d3c-4b5a-4968-8776-655443322110"}
    photo = small_jpeg()

    async def send() -> Any:
        return await client.post(
            "/api/v1/cases", data=REPORT, files=files(("a.jpg", photo, "image/jpeg")), headers=headers
        )

    responses = await asyncio.gather(*(send() for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["number"] for r in responses}) == 1
    assert await Case.count() == 1 and await Evidence.count() == 1
    assert await CaseEvent.count().where(CaseEvent.kind == "evidence_added") == 1
    assert await CaseEvent.count().where(CaseEvent.kind == "assigned") == 1


async def test_evidence_can_be_added_to_a_case_later(client: Any, api: dict[str, str]) -> None:
    created = await client.post(
        "/api/v1/cases", json={"problem_type": "quality_defect", "facts": {"psi": "passed"}}, headers=api
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    assert created.json()["evidence"] == [] and created.json()["facts"]["psi"] == "passed"
    added = await client.post(
        f"/api/v1/cases/{number}/evidence",
        data={"evidence_covers": "defect_evidence"},
        files=files(("crack.jpg", small_jpeg(), "image/jpeg")),
        headers=api,
    )
    assert added.status_code == 201
    assert added.json()["uploads"][0]["evidence"]["covers"] == "defect_evidence"
    repeat = await client.post(
        f"/api/v1/cases/{number}/evidence", files=files(("crack.jpg", small_jpeg(), "image/jpeg")), headers=api
    )
    assert repeat.status_code == 200 and repeat.json()["uploads"][0]["already_on_case"] is True
    read = (await client.get(f"/api/v1/cases/{number}", headers=api)).json()
    assert [item["filename"] for item in read["evidence"]] == ["crack.jpg"]
    unknown_tag = await client.post(
        f"/api/v1/cases/{number}/evidence",
        data={"evidence_covers": "selfie"},
        files=files(("x.jpg", small_jpeg(), "image/jpeg")),
        headers=api,
    )
    assert unknown_tag.status_code == 422 and unknown_tag.json()["fields"][0]["field"] == "evidence_covers"
    missing = await client.post(
        "/api/v1/cases/AS-1999-000001/evidence", files=files(("x.jpg", small_jpeg(), "image/jpeg")), headers=api
    )
    assert missing.status_code == 404


@pytest.mark.checklist(1, 3, 4, 5, 6, 9, 10)
async def test_bad_files_get_clear_reasons_and_the_case_survives(
    client: Any, api: dict[str, str], settings: Any
) -> None:
    truncated = small_jpeg()[:300]
    bad = [
        ("empty.jpg", b"", "image/jpeg", "empty"),
        ("page.jpg", b"<!doctype html><html><script>alert(1)</script></html>", "image/jpeg", "cannot be attached"),
        (
            "drawing.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
            "SVG",
        ),
        ("bomb.png", png_claiming(30000, 30000), "image/png", "megapixels"),
        ("cut.jpg", truncated, "image/jpeg", "incomplete"),
    ]
    good = [
        ("script.jpg", small_jpeg() + b"<script>alert(document.cookie)</script>", "image/jpeg"),
        ("anim.gif", gif_zip_polyglot(), "image/gif"),
        ('../../etc/pass\x00wd".jpg', small_jpeg((1, 2, 3)), "image/jpeg"),
        ("n" * 300 + ".jpg", small_jpeg((4, 5, 6)), "image/jpeg"),
    ]
    # Built by hand: client libraries would percent-encode the NUL that a hostile client can send raw.
    body, content_type = raw_multipart({"problem_type": "other"}, [item[:3] for item in bad] + good)
    response = await client.post("/api/v1/cases", content=body, headers={**api, "Content-Type": content_type})
    assert response.status_code == 201, response.text
    uploads = response.json()["uploads"]
    for (name, _data, _type, phrase), outcome in zip(bad, uploads, strict=False):
        assert outcome["status"] == "failed", name
        assert phrase in outcome["reason"], (name, outcome["reason"])
        assert outcome["evidence"]["urls"] == {"web": None, "thumb": None, "original": None}
    accepted = uploads[len(bad) :]
    assert [item["status"] for item in accepted] == ["ok"] * len(good)
    # Names never become paths: stored by hash, shown cleaned and short.
    assert accepted[2]["filename"] == "passwd.jpg"
    assert accepted[3]["filename"] == "n" * 116 + ".jpg"
    assert not any(p.name.startswith("..") for p in (settings.data_dir / "evidence").rglob("*"))
    number = response.json()["number"]
    rows = await Evidence.objects().where(Evidence.status == "failed")
    assert len(rows) == len(bad) and all(row.original_key == "" for row in rows)
    failed_events = await CaseEvent.count().where(CaseEvent.kind == "evidence_failed")
    assert failed_events == len(bad)
    # The same refused file sent again (a replayed report) is recognised, not recorded twice.
    svg = bad[2]
    resent = await client.post(f"/api/v1/cases/{number}/evidence", files=files(svg[:3]), headers=api)
    assert resent.status_code == 200 and resent.json()["uploads"][0]["already_on_case"] is True
    assert await Evidence.count().where(Evidence.status == "failed") == len(bad)

    # Served copies are re-encoded images: no script, no archive, never HTML, never sniffed.
    for item in accepted[:2]:
        served = await client.get(item["evidence"]["urls"]["web"], headers=api)
        assert served.status_code == 200
        assert served.headers["content-type"] in ("image/jpeg", "image/png")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert b"<script" not in served.content and b"PK\x03\x04" not in served.content
    download = await client.get(accepted[2]["evidence"]["urls"]["original"], headers=api)
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "\x00" not in disposition and "../" not in disposition
    assert (await client.get(f"/api/v1/cases/{number}", headers=api)).status_code == 200


@pytest.mark.checklist(7)
async def test_a_phone_photo_is_served_upright_without_gps_and_its_original_keeps_its_hash(
    client: Any, api: dict[str, str], make_user: Any
) -> None:
    original = phone_jpeg()
    assert b"PhoneMaker" in original
    body = (
        await client.post(
            "/api/v1/cases",
            data={"problem_type": "transit_damage"},
            files=files(("IMG_0042.JPG", original, "image/jpeg")),
            headers=api,
        )
    ).json()
    evidence = body["evidence"][0]
    for url, longest in ((evidence["urls"]["web"], 800), (evidence["urls"]["thumb"], 320)):
        served = await client.get(url, headers=api)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.headers["content-disposition"].startswith("inline;")
        with Image.open(io.BytesIO(served.content)) as image:
            assert image.size == (longest * 3 // 4, longest)  # portrait: turned upright
            assert is_red(image.getpixel((image.width - 3, 3))) and not is_red(image.getpixel((3, 3)))
            exif = image.getexif()
            assert not exif and not exif.get_ifd(0x8825)
        assert b"Exif" not in served.content and b"PhoneMaker" not in served.content
    download = await client.get(evidence["urls"]["original"], headers=api)
    assert download.status_code == 200
    assert download.content == original
    assert hashlib.sha256(download.content).hexdigest() == evidence["sha256"]
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == "image/jpeg"


@pytest.mark.checklist(19)
async def test_originals_are_only_for_the_desk(client: Any, api: dict[str, str], make_user: Any) -> None:
    body = (
        await client.post(
            "/api/v1/cases",
            data={"problem_type": "other"},
            files=files(("a.jpg", small_jpeg(), "image/jpeg")),
            headers=api,
        )
    ).json()
    urls = body["evidence"][0]["urls"]
    warehouse = await bearer(make_user, "warehouse")
    assert (await client.get(urls["original"], headers=warehouse)).status_code == 403
    assert (await client.get(urls["web"], headers=warehouse)).status_code == 200
    assert (await client.get(urls["thumb"], headers=warehouse)).status_code == 200
    anonymous = await client.get(urls["original"])
    assert anonymous.status_code in (302, 303) and anonymous.headers["location"].startswith("/login")
    assert (await client.get(urls["original"], headers={"Accept": "application/json"})).status_code == 401
    for role in ("manager", "admin"):
        assert (await client.get(urls["original"], headers=await bearer(make_user, role))).status_code == 200
    assert (await client.get("/evidence/999999/original", headers=api)).status_code == 404
    assert (await client.get("/evidence/not-a-number/web", headers=api)).status_code == 404


@pytest.mark.checklist(2)
async def test_bodies_over_the_limit_are_refused_with_413_before_anything_is_stored(
    app: Any, client: Any, api: dict[str, str], settings: Any
) -> None:
    evidence_dir = settings.data_dir / "evidence"
    before = sorted(evidence_dir.rglob("*")) if evidence_dir.exists() else []
    declared = await client.post(
        "/api/v1/cases",
        content=b"--b\r\n",
        headers={
            **api,
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(UPLOAD_BODY_LIMIT + 1),
        },
    )
    assert declared.status_code == 413
    assert "Send fewer files at once" in declared.json()["message"]

    # No Content-Length (chunked): the streamed byte count stops reading as soon as it passes the cap.
    # Driven through the ASGI interface as a server would, one chunk per message, so nothing is buffered.
    chunk = b"\0" * (4 * 1024 * 1024)
    available = UPLOAD_BODY_LIMIT // len(chunk) + 20
    pulled = {"chunks": 0}
    head = (
        b'--b\r\nContent-Disposition: form-data; name="problem_type"\r\n\r\nother\r\n'
        b'--b\r\nContent-Disposition: form-data; name="evidence"; filename="long.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n"
    )

    async def receive() -> dict[str, Any]:
        pulled["chunks"] += 1
        if pulled["chunks"] == 1:
            return {"type": "http.request", "body": head, "more_body": True}
        if pulled["chunks"] <= available:
            return {"type": "http.request", "body": chunk, "more_body": True}
        return {"type": "http.request", "body": b"\r\n--b--\r\n", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/cases",
        "raw_path": b"/api/v1/cases",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", api["Authorization"].encode()),
            (b"content-type", b"multipart/form-data; boundary=b"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 413
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    assert b"Send fewer files at once" in body
    # It stopped within one chunk of the cap, long before the client ran out of body.
    assert pulled["chunks"] * len(chunk) <= UPLOAD_BODY_LIMIT + 2 * len(chunk) < available * len(chunk)
    after = sorted(evidence_dir.rglob("*")) if evidence_dir.exists() else []
    assert before == after
    assert await Case.count() == 0 and await Evidence.count() == 0


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


async def test_evidence_goes_to_an_s3_compatible_store_over_http(
    settings: Any, bound_engine: Any, s3_endpoint: str, make_user: Any
) -> None:
    from app.asgi import create_app

    admin = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="AK", aws_secret_access_key="SK", region_name="us-east-1"
    )
    admin.create_bucket(Bucket="crossclaim-evidence")
    url = f"s3://AK:SK@crossclaim-evidence?endpoint={s3_endpoint}&region=us-east-1"
    app = create_app(dataclasses.replace(settings, evidence_url=url), engine=bound_engine)
    api = await bearer(make_user, "handler")
    original = phone_jpeg()
    async with asgi_client(app) as s3_client:
        body = (
            await s3_client.post(
                "/api/v1/cases",
                data={"problem_type": "other"},
                files=files(("IMG.JPG", original, "image/jpeg")),
                headers=api,
            )
        ).json()
        evidence = body["evidence"][0]
        digest = evidence["sha256"]
        stored = admin.get_object(Bucket="crossclaim-evidence", Key=f"{digest[:2]}/{digest[2:4]}/{digest}")
        assert stored["Body"].read() == original
        assert (await s3_client.get(evidence["urls"]["original"], headers=api)).content == original
        web = await s3_client.get(evidence["urls"]["web"], headers=api)
        assert web.status_code == 200 and web.content.startswith(b"\xff\xd8")
    keys = [item["Key"] for item in admin.list_objects_v2(Bucket="crossclaim-evidence")["Contents"]]
    assert len(keys) == 3  # original, web copy, thumbnail


async def test_facts_that_are_not_an_object_are_refused_and_no_case_is_made(client: Any, api: dict[str, str]) -> None:
    for facts in ([], "", 0, False):
        body = {"problem_type": "quality_defect", "facts": facts}
        refused = await client.post("/api/v1/cases", json=body, headers=api)
        assert refused.status_code == 422, (facts, refused.text)
        assert refused.json()["fields"][0]["field"] == "facts", refused.text
    assert await Case.count() == 0
    none = await client.post("/api/v1/cases", json={"problem_type": "quality_defect", "facts": None}, headers=api)
    assert none.status_code == 201, none.text
