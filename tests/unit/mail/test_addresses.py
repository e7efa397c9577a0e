"""Signed reply addresses: they name the case and party, and any change to them is noticed."""

from __future__ import annotations

from app.mail.addresses import read_tag, reply_address, signature, tag_for, tags_in

SECRET = "unit-test-secret"


def test_reply_address_round_trips_and_is_case_insensitive() -> None:
    address = reply_address("Support <support@example.com>", SECRET, "AS-2026-000123", "supplier")
    assert address.startswith("support+as-2026-000123.s") and address.endswith("@example.com")
    tags = tags_in([address.upper(), "other@example.com"], "support@example.com", SECRET)
    assert [(t.number, t.party, t.valid) for t in tags] == [("AS-2026-000123", "supplier", True)]


def test_changed_case_party_or_signature_is_invalid() -> None:
    tag = tag_for(SECRET, "AS-2026-000123", "carrier")
    other_case = tag.replace("000123", "000124")
    other_party = tag.replace(".c", ".s", 1)
    flipped = tag[:-1] + ("a" if tag[-1] != "a" else "b")
    assert read_tag(tag, SECRET) is not None and read_tag(tag, SECRET).valid  # type: ignore[union-attr]
    for forged in (other_case, other_party, flipped):
        found = read_tag(forged, SECRET)
        assert found is not None and not found.valid
    assert not read_tag(tag, "another-secret").valid  # type: ignore[union-attr]


def test_only_plus_addresses_of_the_support_mailbox_count() -> None:
    tag = tag_for(SECRET, "AS-2026-000001", "customer")
    assert tags_in([f"sales+{tag}@example.com", f"support+{tag}@evil.example"], "support@example.com", SECRET) == []
    assert read_tag("not-a-tag", SECRET) is None
    assert reply_address("", SECRET, "AS-2026-000001", "supplier") == ""
    assert len(signature(SECRET, "AS-2026-000001", "supplier")) == 10
