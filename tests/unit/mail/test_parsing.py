"""Reading mail: charsets, HTML, quoted history, machines' mail and broken MIME, without ever raising."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from app.mail.parsing import decode_bytes, html_to_text, parse_mail, strip_reply


def plain(body: bytes, charset: str, **headers: str) -> bytes:
    lines = [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    head = "\r\n".join(["From: Li Wei <qa@supplier.example>", "To: support@example.com", "Message-ID: <a@b>", *lines])
    return (head + f"\r\nContent-Type: text/plain; charset={charset}\r\n\r\n").encode() + body


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("gb2312", "我们会补发四十件。"),
        ("gbk", "外壳破裂，请退款。"),
        ("big5", "外殼破裂，請退款。"),
        ("shift_jis", "交換品を送ります。"),
        ("euc-kr", "교환품을 보내겠습니다."),
    ],
)
def test_declared_cjk_charsets(charset: str, text: str) -> None:
    codec = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "shift_jis": "cp932"}.get(charset, charset)
    assert parse_mail(plain(text.encode(codec), charset)).text == text


def test_unknown_or_wrong_charset_label_falls_back_to_detection() -> None:
    text = "我们同意更换全部四十件外壳，运费由我方承担，请确认收货地址。"
    assert decode_bytes(text.encode("gb18030"), "x-unknown") == text
    assert decode_bytes(text.encode("utf-8"), "iso-8859-99") == text
    assert decode_bytes(b"\xff\xfe\xfd", None)  # something, never an exception


def test_encoded_headers_and_raw_8bit_headers() -> None:
    raw = (
        b"From: =?gbk?b?wO7OsA==?= <qa@supplier.example>\r\nSubject: =?utf-8?q?R=C3=A9ponse?=\r\n"
        b"To: support@example.com\r\nX-Note: \xc0\xee\r\n\r\nbody\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.sender == "qa@supplier.example" and parsed.subject == "Réponse"


def test_html_only_mail_becomes_text_without_scripts() -> None:
    html = (
        "<html><head><title>t</title><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body><p>Refund&nbsp;<b>approved</b> &amp; sent.</p><script>steal()</script>"
        "<div>On Mon, 23 Nov 2026, Crossclaim wrote:</div><blockquote><p>Old question</p></blockquote></body></html>"
    )
    text = html_to_text(html)
    assert "alert" not in text and "steal" not in text and "color" not in text
    assert "Refund approved & sent." in text and "> Old question" in text
    message = EmailMessage()
    message["From"] = "qa@supplier.example"
    message["Message-ID"] = "<h@x>"
    message.set_content(html, subtype="html")
    assert parse_mail(message.as_bytes()).reply == "Refund approved & sent."


def test_inline_tags_split_no_words_and_add_no_spaces() -> None:
    assert html_to_text("<p><b>Re</b>fund <i>approved</i>.</p>") == "Refund approved."
    assert html_to_text("<p>外壳<b>破裂</b>，我们<span>补发</span>。</p>") == "外壳破裂，我们补发。"
    assert html_to_text("<p>  spaced\n\n  <b>out</b>  text </p>") == "spaced out text"


def test_reply_stripping_in_several_languages() -> None:
    english = (
        "Yes, we accept.\n\nBest regards,\nLi Wei\n\nOn Tue, 24 Nov 2026 at 10:00, Crossclaim <c@x> wrote:\n> Do you?"
    )
    assert strip_reply(english) == "Yes, we accept."
    german = "Einverstanden.\n\nAm 24.11.2026 um 10:00 schrieb Crossclaim <c@x>:\n> Frage"
    assert strip_reply(german) == "Einverstanden."
    chinese = "同意补发。\n\n2026年11月24日 10:00，Crossclaim <c@x> 写道：\n> 问题"
    assert strip_reply(chinese) == "同意补发。"
    assert strip_reply("Only quotes below\n> a\n> b") == "Only quotes below"


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
        ({"Auto_Submitted": "no"}, ""),
        ({"Precedence": "bulk"}, "auto_reply"),
        ({"Precedence": "junk"}, "auto_reply"),
        ({"X_Autoreply": "yes"}, "auto_reply"),
        ({"Return_Path": "<>"}, "auto_reply"),
        ({}, ""),
    ],
)
def test_machine_mail_is_recognised(headers: dict[str, str], kind: str) -> None:
    assert parse_mail(plain(b"Out of office", "utf-8", **headers)).automatic == kind


def test_delivery_status_report_names_the_failed_address_and_original() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nTo: support+x@example.com\r\nMessage-ID: <dsn@mx>\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
        b"Final-Recipient: rfc822; gone@supplier.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <ours@crossclaim>\r\n"
        b"X-Crossclaim-Tag: as-2026-000001.sabcdefghij\r\nTo: gone@supplier.example\r\n\r\nhello\r\n--B--\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.automatic == "bounce"
    assert parsed.bounced == ["gone@supplier.example"]
    assert parsed.original_ids == ["ours@crossclaim"] and parsed.original_tags == ["as-2026-000001.sabcdefghij"]
    assert "ours@crossclaim" in parsed.thread_ids


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        b'Content-Type: multipart/mixed; boundary="X"\r\n\r\n--X\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n',
        b'Subject: =?unknown-8bit?q?=FF?=\r\nContent-Type: text/plain; charset=""\r\n\r\n\xff\xfe',
        b"From: <<<@@@>>>\r\nMessage-ID: " + b"<" + b"x" * 5000 + b">\r\n\r\nlong id",
    ],
)
def test_broken_mail_never_raises(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert isinstance(parsed.text, str) and len(parsed.message_id) <= 250


def test_attachments_keep_their_names_and_bytes() -> None:
    message = EmailMessage()
    message["From"] = "qa@supplier.example"
    message.set_content("See the photo.")
    message.add_attachment(b"\xff\xd8\xff\xe0jpeg", maintype="image", subtype="jpeg", filename="破损照片.jpg")
    parsed = parse_mail(message.as_bytes())
    assert [(f.filename, f.media_type, f.data) for f in parsed.files] == [
        ("破损照片.jpg", "image/jpeg", b"\xff\xd8\xff\xe0jpeg")
    ]
    assert parsed.text.strip() == "See the photo."
