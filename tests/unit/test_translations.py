"""Every string marked for translation in the source has a complete Simplified Chinese translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from app.i18n import translations

ROOT = Path(__file__).resolve().parents[2]
ZH_PO = ROOT / "app" / "locale" / "zh" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\([A-Za-z0-9_]+\)[a-zA-Z]|%%")
CJK = re.compile(r"[\u4e00-\u9fff]")

Msgid = str | tuple[str, ...]


def extra_keywords() -> list[str]:
    """The ``-k`` keywords of the Makefile's extract command, so the test extracts what the build extracts."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    command = next(line for line in makefile.splitlines() if "pybabel extract" in line)
    return re.findall(r"-k\s+(\S+)", command)


def source_messages() -> dict[tuple[Msgid, str | None], str]:
    """Every message in the current source, keyed by (msgid, context), with one place it comes from."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    # "name:1c,2" specs (context, message) are parsed as pybabel parses them.
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(extra_keywords())}
    found: dict[tuple[Msgid, str | None], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords, strip_comment_tags=True
    ):
        # Babel skips non-literal arguments as None; only the literal strings are catalogue entries.
        if isinstance(message, tuple):
            if not all(message):
                continue
            msgid: Msgid = tuple(message)
        elif message:
            msgid = message
        else:
            continue
        found.setdefault((msgid, context), f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> tuple[list[str], int]:
    """The named placeholders and escaped percents, plus the count of bare percent signs."""
    return sorted(PLACEHOLDER.findall(text)), PLACEHOLDER.sub("", text).count("%")


def zh_catalog() -> Catalog:
    with ZH_PO.open("rb") as handle:
        return read_po(handle, locale="zh")


def problems(catalog: Catalog, messages: dict[tuple[Msgid, str | None], str]) -> list[str]:
    found: list[str] = []
    for (msgid, context), where in sorted(messages.items(), key=lambda item: item[1]):
        entry = catalog.get(msgid, context=context)
        strings = entry.string if entry is not None else ""
        text = strings[0] if isinstance(strings, (list, tuple)) else strings
        if entry is None or not text or entry.fuzzy:
            found.append(f"untranslated: {msgid!r} ({where})")
            continue
        # zh has one plural form: it reads like the English plural, so its placeholders are the ones to keep.
        source = msgid[-1] if isinstance(msgid, tuple) else msgid
        if placeholders(text) != placeholders(source):
            found.append(f"placeholders differ: {msgid!r} -> {text!r} ({where})")
    return found


def test_every_source_message_has_a_chinese_translation() -> None:
    messages = source_messages()
    assert len(messages) > 100, "extraction found almost nothing: babel.cfg or the keywords are wrong"
    found = problems(zh_catalog(), messages)
    assert not found, f"{len(found)} of {len(messages)} messages need work in {ZH_PO}:\n" + "\n".join(found)


def test_zh_catalogue_has_one_plural_form() -> None:
    assert zh_catalog().num_plurals == 1


def test_the_check_fails_on_a_new_or_broken_string() -> None:
    catalog = Catalog(locale="zh")
    catalog.add("Sign in", "登录")
    catalog.add("Keep it under %(count)s characters.", "请控制在 %(count)s 以内。")
    catalog.add("Round %(round)s", "第 %(number)s 轮")
    catalog.add("Rate (95%% interval)", "比率（95% 区间）")
    catalog.add("Saved", "已保存", flags=["fuzzy"])
    messages: dict[tuple[Msgid, str | None], str] = {
        ("Sign in", None): "a:1",
        ("Keep it under %(count)s characters.", None): "a:2",
        ("Round %(round)s", None): "a:3",
        ("Rate (95%% interval)", None): "a:4",
        ("Saved", None): "a:5",
        ("A brand new string", None): "a:6",
    }
    found = problems(catalog, messages)
    assert [line.split(":")[0] for line in found] == [
        "placeholders differ",
        "placeholders differ",
        "untranslated",
        "untranslated",
    ]
    assert "'A brand new string'" in found[-1]


def test_sign_in_is_chinese() -> None:
    translations.cache_clear()
    text = translations("zh").gettext("Sign in")
    assert text != "Sign in"
    assert CJK.search(text), text
