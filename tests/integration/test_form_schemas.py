"""Forms read as dataclasses: a field sent in the wrong shape is a 422 in words that stores nothing; a field
that may repeat is read the same whether the browser sends it once or several times."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup

from app.analytics.tables import Recovery
from app.cases.tables import Case
from app.playbooks.lookup import json_list
from app.playbooks.tables import Playbook, SavedReply
from tests.conftest import csrf_token, sign_in
from tests.integration.test_playbooks import make_supplier, playbook_form


async def test_a_field_sent_twice_is_refused_with_words_and_nothing_is_stored(client: Any, make_user: Any) -> None:
    await sign_in(client, await make_user("handler"))
    await Case(number="CC-9", problem_type="quality_defect").save()
    token = await csrf_token(client)
    htmx = {"HX-Request": "true", "x-csrftoken": token}
    recovery = {"case": ["CC-9", "CC-10"], "party": "supplier", "kind": "credit_note", "claimed": "100",
                "currency": "usd", "claimed_on": "2026-11-01"}  # fmt: skip
    refused = await client.post("/dashboard/recoveries", data=recovery, headers=htmx)
    assert refused.status_code == 422 and refused.headers["HX-Retarget"] == "#messages"
    words = BeautifulSoup(refused.text, "html.parser").get_text()
    assert "The request is not valid" in words and "Expected `str`, got `array`" in words
    reply = {"_csrf_token": token, "language": "en", "title": ["One", "Two"], "body": "Hello"}
    plain = await client.post("/replies", data=reply)
    assert plain.status_code == 422 and "The request is not valid" in plain.text and "<html" in plain.text
    assert (await Recovery.count(), await SavedReply.count()) == (0, 0)


async def test_a_playbook_row_sent_once_is_kept_like_rows_sent_several_times(client: Any, make_user: Any) -> None:
    supplier = await make_supplier()
    await sign_in(client, await make_user("handler"))
    token = await csrf_token(client)
    one_row = playbook_form(
        token,
        contact_problem_type="quality_defect",
        contact_language="zh",
        contact_name="Ms Wang (QA)",
        contact_email="qa-claims@sup-p.cn",
        item_key="",
        item_label="Batch number photo",
        item_problem_type="quality_defect",
        remedies="replacement",
    )
    saved = await client.post(f"/parties/supplier/{supplier.id}/playbook", data=one_row)
    assert saved.status_code == 303, saved.text
    playbook = await Playbook.objects().first()
    assert [contact["email"] for contact in json_list(playbook.contacts)] == ["qa-claims@sup-p.cn"]
    assert json_list(playbook.remedies) == ["replacement"] and len(json_list(playbook.evidence)) == 1
