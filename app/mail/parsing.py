"""Reading one raw mail robustly: headers, the text of the reply, its files, and whether a machine sent it."""

from __future__ import annotations

import codecs
import email
import re
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Final

import charset_normalizer
from mailparser_reply import EmailReplyParser

# Labels mail clients use for a superset charset, or for a charset Python names otherwise.
_CHARSETS: Final = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
REPLY_LANGUAGES: Final = ["en", "zh", "ja", "ko", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
_PRECEDENCE_AUTOMATIC: Final = {"bulk", "auto_reply", "junk"}
_MESSAGE_ID: Final = re.compile(r"<([^<>\s]+)>")
MAX_TEXT: Final = 20_000


@dataclass(frozen=True)
class MailFile:
    filename: str
    media_type: str
    data: bytes


@dataclass
class InboundMessage:
    """What Crossclaim needs from a mail; every field has a safe value even for a broken mail."""

    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    reply: str = ""
    files: list[MailFile] = field(default_factory=list)
    # "" for a person's mail, else auto_reply or bounce
    automatic: str = ""
    bounced: list[str] = field(default_factory=list)
    # For a bounce: what the returned original said about itself.
    original_ids: list[str] = field(default_factory=list)
    original_tags: list[str] = field(default_factory=list)
    original_to: list[str] = field(default_factory=list)
    tag_header: str = ""
    # Every Authentication-Results header, topmost first: (authserv-id, {"spf"|"dkim"|"dmarc": result}).
    authentication: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        return [*self.in_reply_to, *reversed(self.references), *self.original_ids]


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text in its declared charset when that works, else UTF-8, else charset-normalizer's best guess."""
    name = (declared or "").strip().strip('"').lower()
    name = _CHARSETS.get(name, name)
    if name:
        try:
            codecs.lookup(name)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")


def header_text(message: Message, name: str) -> str:
    """A header decoded (RFC 2047 words and raw 8-bit bytes alike), on one line."""
    values = message.get_all(name) or []
    if not values:
        return ""
    raw = str(values[0])
    try:
        parts = decode_header(raw)
    except Exception:
        parts = [(raw, None)]
    text = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            text.append(decode_bytes(chunk, charset))
        else:
            # compat32 keeps undecodable 8-bit header bytes as surrogates: decode them as text bytes.
            text.append(
                decode_bytes(chunk.encode("utf-8", "surrogateescape"), None) if _has_surrogates(chunk) else chunk
            )
    return " ".join(" ".join(text).split())


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def message_ids(value: str) -> list[str]:
    return [found.lower() for found in _MESSAGE_ID.findall(value)] or ([value.strip().lower()] if value.strip() else [])


def _addresses(message: Message, *names: str) -> list[str]:
    values = [header_text(message, name) for name in names]
    return [address.lower() for _, address in getaddresses([v for v in values if v]) if "@" in address]


class _TextFromHtml(HTMLParser):
    """HTML reduced to its visible text: scripts, styles and heads dropped, quotes marked with '> '."""

    _SKIP: Final = {"script", "style", "head", "title", "template", "noscript"}
    _BLOCK: Final = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.skipping = 0
        self.quoted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag == "blockquote":
            self.quoted += 1
            self.lines.append("")
        elif tag in self._BLOCK:
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote":
            self.quoted = max(0, self.quoted - 1)
            self.lines.append("")
        elif tag in self._BLOCK:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        # Whitespace collapsed but kept where the mail had it: "<b>Re</b>fund" is one word, and Chinese
        # text split by inline tags gets no spaces of its own.
        text = re.sub(r"\s+", " ", data)
        if not self.lines[-1]:
            text = text.lstrip()
            if text:
                self.lines[-1] = "> " * self.quoted + text
        else:
            self.lines[-1] += text


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return ""
    lines = [line.rstrip() for line in parser.lines]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Reply headers of common clients that the library's patterns miss (Chinese and Japanese clients,
# Outlook's separators): the history starts at the first such line.
_HISTORY: Final = re.compile(
    r"^\s*(?:.{0,200}(?:写道|寫道|wrote|a écrit|escribió|schrieb)\s*[:：]\s*"
    r"|-{2,}\s*(?:原始邮件|原始郵件|Original Message|Ursprüngliche Nachricht|元のメッセージ)\s*-{2,}.*"
    r"|(?:发件人|寄件者|差出人)\s*[:：].*)$",
    re.MULTILINE | re.IGNORECASE,
)


def strip_reply(text: str) -> str:
    """The newest reply only: quoted history, the 'On … wrote:' header and the signature removed."""
    if not text.strip():
        return ""
    cut = _HISTORY.search(text)
    if cut is not None and text[: cut.start()].strip():
        text = text[: cut.start()]
    try:
        parsed = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(text)
        reply = parsed.replies[0].body if parsed.replies else text
    except Exception:
        reply = text
    # Plain "> " quotes without a header line the parser knows are history too.
    kept = [line for line in reply.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_content_charset() or part.get_param("charset"))  # type: ignore[arg-type]


def _filename(part: Message, index: int) -> str:
    raw = part.get_filename() or part.get_param("name") or ""
    name = raw if isinstance(raw, str) else ""
    if name:
        try:
            chunks = decode_header(name)
            name = "".join(c if isinstance(c, str) else decode_bytes(c, cs) for c, cs in chunks)
        except Exception:  # an undecodable encoded word: keep the name as written
            name = str(raw)
    return name or f"attachment-{index}"


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or bool(part.get_filename())


def _walk(message: Message, found: InboundMessage, bodies: dict[str, str]) -> None:
    """Depth-first over the parts, without descending into attached mails (a bounce's original)."""
    media_type = message.get_content_type()
    if media_type in {"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"}:
        _read_original(message, found)
        return
    if media_type == "message/delivery-status":
        _read_delivery_status(message, found)
        return
    if message.is_multipart():
        payload = message.get_payload()
        for part in payload if isinstance(payload, list) else []:
            if isinstance(part, Message):
                _walk(part, found, bodies)
        return
    if media_type.startswith("multipart/"):
        # A multipart without a usable boundary: its body is all there is to read.
        bodies.setdefault("text/plain", _part_text(message))
        return
    if _is_attachment(message) or not media_type.startswith("text/"):
        data = message.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            found.files.append(MailFile(_filename(message, len(found.files) + 1), media_type, data))
        return
    if media_type in {"text/plain", "text/html"} and media_type not in bodies:
        bodies[media_type] = _part_text(message)


def _read_original(part: Message, found: InboundMessage) -> None:
    payload = part.get_payload()
    inner: Message | None = None
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
    else:
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            inner = email.message_from_bytes(data, policy=compat32)
    if inner is None:
        return
    found.original_ids.extend(message_ids(header_text(inner, "Message-ID")))
    tag = header_text(inner, "X-Crossclaim-Tag")
    if tag:
        found.original_tags.append(tag)
    found.original_to.extend(_addresses(inner, "To"))


def _read_delivery_status(part: Message, found: InboundMessage) -> None:
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [str(block) for block in payload]
    else:
        data = part.get_payload(decode=True)
        blocks = [decode_bytes(data, "utf-8")] if isinstance(data, bytes) else []
    failed = []
    for block in "\n".join(blocks).split("\n\n"):
        fields = dict(
            (key.strip().lower(), value.strip())
            for key, _, value in (line.partition(":") for line in block.splitlines())
            if value
        )
        action = fields.get("action", "").lower()
        recipient = fields.get("final-recipient") or fields.get("original-recipient") or ""
        address = recipient.partition(";")[2].strip().lower() or recipient.lower()
        if "@" in address and action in {"failed", ""}:
            failed.append(address.strip("<>"))
    if failed:
        found.bounced[:] = list(dict.fromkeys(failed))


def _automatic(message: Message) -> str:
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        report = (message.get_param("report-type") or "").__str__().lower()
        return "bounce" if report == "delivery-status" else "auto_reply"
    auto_submitted = header_text(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return "auto_reply"
    if header_text(message, "Precedence").lower() in _PRECEDENCE_AUTOMATIC:
        return "auto_reply"
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("X-Autoresponder"):
        return "auto_reply"
    if header_text(message, "Return-Path").strip() == "<>":
        return "auto_reply"
    return ""


_AUTH_RESULT = re.compile(r"^\s*(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)


def authentication_results(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """RFC 8601 headers as (authserv-id, first result per method), in the order given (topmost first)."""
    found = []
    for value in values:
        parts = " ".join(value.split()).split(";")
        server = parts[0].strip().split(" ")[0].lower()
        results: dict[str, str] = {}
        for part in parts[1:]:
            match = _AUTH_RESULT.match(part)
            if match:
                results.setdefault(match.group(1).lower(), match.group(2).lower())
        found.append((server[:200], results))
    return found


def parse_mail(raw: bytes) -> InboundMessage:
    """Never raises: what cannot be read is left empty and named in ``problems``."""
    found = InboundMessage()
    try:
        message = email.message_from_bytes(raw, policy=compat32)
    except Exception as error:  # a mail the parser cannot even split into headers and body
        found.problems.append(f"unparseable: {type(error).__name__}")
        return found
    found.problems.extend(type(defect).__name__ for defect in message.defects)
    try:
        ids = message_ids(header_text(message, "Message-ID"))
        found.message_id = ids[0][:250] if ids else ""
        found.in_reply_to = message_ids(header_text(message, "In-Reply-To"))
        found.references = message_ids(header_text(message, "References"))
        senders = _addresses(message, "Reply-To") or _addresses(message, "From")
        from_addresses = _addresses(message, "From")
        found.sender = (from_addresses or senders or [""])[0]
        found.recipients = _addresses(message, "To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
        found.subject = header_text(message, "Subject")[:300]
        found.tag_header = header_text(message, "X-Crossclaim-Tag")
        found.authentication = authentication_results(
            [str(value) for value in message.get_all("Authentication-Results") or []][:20]
        )
        found.automatic = _automatic(message)
        bodies: dict[str, str] = {}
        _walk(message, found, bodies)
        if "text/plain" in bodies and bodies["text/plain"].strip():
            found.text = bodies["text/plain"]
        elif "text/html" in bodies:
            found.text = html_to_text(bodies["text/html"])
        found.text = found.text.replace("\r\n", "\n").replace("\x00", "")[:MAX_TEXT]
        found.reply = strip_reply(found.text)
        if found.automatic == "bounce" and not found.bounced:
            found.bounced = list(dict.fromkeys(found.original_to))
    except Exception as error:  # a broken part: keep what was read so far
        found.problems.append(f"unreadable: {type(error).__name__}")
    return found
