"""The monthly PDF parsed back, the CLI, the download button and the mail to managers over real SMTP."""

from __future__ import annotations

import asyncio
import email
import os
import re
import socket
import subprocess
import sys
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from app.analytics import figures
from app.analytics.filters import AnalyticsFilters, month_bounds
from tests.conftest import ROOT
from tests.integration.test_analytics_figures import generate


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def pdf_fonts(path: Path) -> list[list[str]]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


async def test_cli_writes_the_monthly_pdf(settings: Any, tmp_path: Path) -> None:
    await generate(seed=9)
    out = tmp_path / "april.pdf"
    env = {**os.environ, "DATABASE_URL": settings.database_url, "CROSSCLAIM_DATA_DIR": str(settings.data_dir)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", "report", "monthly", "--month", "2026-04", "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    text = pdf_text(out)
    april = AnalyticsFilters(start=month_bounds("2026-04")[0], end=month_bounds("2026-04")[1])
    totals = await figures.case_totals(april)
    before = await figures.case_totals(april.shifted_month_back())
    assert totals["cases"] > 0
    assert "After-sales report 2026-04" in text
    # Made on the company's clock, and it says so.
    assert re.search(r"Generated \d{1,2} \w{3} \d{4}, \d{2}:\d{2} China Standard Time", text), text[:300]
    line = next(row for row in text.splitlines() if row.strip().startswith("Cases reported"))
    assert line.split()[-3:-1] == [str(totals["cases"]), str(before["cases"])]
    assert "供应商 0" in text  # Chinese supplier names in the ranking
    assert "No cases were reported" not in text
    assert pdf_pages(out) >= 3
    fonts = pdf_fonts(out)
    cjk = [font for font in fonts if "CJK" in font[0]]
    assert cjk, fonts
    # pdffonts columns: name type encoding emb sub uni object ID; every font must be embedded.
    assert all("yes" in font[-5:-2] for font in fonts), fonts


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_empty_month_is_mailed_to_managers_and_says_so(
    settings: Any, make_user: Any, smtp: Any, tmp_path: Path
) -> None:
    from dataclasses import replace

    from app.tasks.reports import monthly_report_mail

    inbox, port = smtp
    manager = await make_user("manager", email="mei@example.com")
    await make_user("handler", email="hao@example.com")
    from app.accounts.tables import User

    gone = await make_user("manager", email="gone@example.com")
    await User.update({User.active: False}).where(User.id == gone.id)
    mail_settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{port}")
    result = await monthly_report_mail(mail_settings, month="2024-01")
    assert result["sent_to"] == [manager.email]
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "mei@example.com" and "2024-01" in message["Subject"]
    attachment = next(part for part in message.walk() if part.get_content_type() == "application/pdf")
    assert attachment.get_filename() == "crossclaim-2024-01.pdf"
    path = tmp_path / "empty.pdf"
    path.write_bytes(attachment.get_payload(decode=True))
    text = pdf_text(path)
    assert "No cases were reported in this month." in text
    assert "No deliveries in this month." in text
    assert pdf_pages(path) >= 2


async def test_each_manager_gets_the_report_in_their_language(
    settings: Any, make_user: Any, smtp: Any, tmp_path: Path
) -> None:
    from dataclasses import replace

    from app.tasks.reports import monthly_report_mail

    inbox, port = smtp
    await make_user("manager", email="mei@example.com", language="en")
    await make_user("manager", email="li@example.cn", language="zh")
    result = await monthly_report_mail(replace(settings, smtp_url=f"smtp://127.0.0.1:{port}"), month="2024-01")
    assert result["sent_to"] == ["li@example.cn", "mei@example.com"] and result["languages"] == ["en", "zh"]
    mails = {message["To"]: message for message in inbox.messages}
    assert set(mails) == {"mei@example.com", "li@example.cn"}
    assert mails["mei@example.com"]["Subject"] == "Crossclaim after-sales report 2024-01"
    assert str(make_header(decode_header(mails["li@example.cn"]["Subject"]))) == "Crossclaim 售后月报 2024-01"
    texts = {}
    for to, message in mails.items():
        attachment = next(part for part in message.walk() if part.get_content_type() == "application/pdf")
        path = tmp_path / f"{to}.pdf"
        path.write_bytes(attachment.get_payload(decode=True))
        texts[to] = pdf_text(path)
    assert "No cases were reported in this month." in texts["mei@example.com"]
    assert "No cases were reported in this month." not in texts["li@example.cn"]
    assert "本月没有报告案件" in texts["li@example.cn"].replace(" ", ""), texts["li@example.cn"][:500]


async def test_download_button_gives_the_pdf(client: Any, login: Any) -> None:
    await login("handler")
    page = await client.get("/dashboard")
    assert 'action="/dashboard/report.pdf"' in page.text
    response = await client.get("/dashboard/report.pdf", params={"month": "2025-12"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert 'filename="crossclaim-2025-12.pdf"' in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF")
    assert (await client.get("/dashboard/report.pdf", params={"month": "Dec"})).status_code == 422


async def test_no_cjk_font_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app.analytics.report import ReportError, monthly_pdf
    from app.templating import template_environment

    # A real fontconfig that knows no fonts at all: what a bare container looks like.
    config = tmp_path / "fonts.conf"
    config.write_text('<?xml version="1.0"?><fontconfig><cachedir>' + str(tmp_path) + "</cachedir></fontconfig>")
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    with pytest.raises(ReportError, match="No font for Chinese"):
        await monthly_pdf(template_environment(), "2026-04")


async def test_the_periodic_task_runs_on_the_first_and_mails(settings: Any, make_user: Any, smtp: Any) -> None:
    from datetime import datetime

    from app.tasks.reports import monthly_report

    assert monthly_report.task_class().validate_datetime(datetime(2026, 6, 1, 6, 0))
    assert not monthly_report.task_class().validate_datetime(datetime(2026, 6, 2, 6, 0))
    inbox, port = smtp
    await make_user("manager", email="mei@example.com")
    # The worker's own way in: a fresh process, settings from the environment, the task's sync door.
    script = (
        "from app import db; from app.piccolo_app import TABLES; from app.settings import Settings; "
        "s = Settings.from_env(); "
        "db.bind_tables(db.make_engine(s.database_url), TABLES); "
        "from app.tasks.reports import monthly_report; print(monthly_report.call_local())"
    )
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "CROSSCLAIM_DATA_DIR": str(settings.data_dir),
        "CROSSCLAIM_SMTP_URL": f"smtp://127.0.0.1:{port}",
    }
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "mei@example.com" in done.stdout
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == "mei@example.com"


async def overdue_history() -> None:
    """November 2026: a case from July still past its deadline at month end, one finished on 3 December
    (overdue on the month's last day all the same), one due only in December; a supplier's known answers."""
    from datetime import UTC, datetime, timedelta

    from app.cases.tables import Case
    from app.tracking.tables import StageDeadline
    from tests.integration.test_analytics_scorecard import history

    await history()
    deadlines = [
        ("CC-JULY", datetime(2026, 7, 2, tzinfo=UTC), datetime(2026, 7, 9, tzinfo=UTC), None),
        (
            "CC-LATE",
            datetime(2026, 11, 5, tzinfo=UTC),
            datetime(2026, 11, 12, tzinfo=UTC),
            datetime(2026, 12, 3, tzinfo=UTC),
        ),
        ("CC-DECEMBER", datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC), None),
    ]
    for number, created, due, finished in deadlines:
        case = Case(
            number=number, problem_type="quality_defect", node="plan", created_at=created, node_entered_at=created
        )
        await case.save()
        await StageDeadline(
            case=case.id, node="plan", owner_party="supplier", started_at=created, due_at=due, finished_at=finished
        ).save()
        assert due - created < timedelta(days=8)


@pytest.mark.parametrize(
    ("language", "cover", "scope", "scorecard"),
    [
        (
            "en",
            "Past a deadline at month end (opened any time)",
            "Past a stage deadline on the last day of the month",
            "How suppliers and carriers work with us",
        ),
        ("zh", "月末逾期（任何时间开立）", "本月最后一天仍逾期的阶段期限", "供应商与承运商的协作表现"),
    ],
)
async def test_the_cover_gives_the_headline_and_each_list_its_scope(
    language: str, cover: str, scope: str, scorecard: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from app.analytics.report import monthly_pdf
    from app.i18n import current_language
    from app.templating import template_environment

    await overdue_history()
    token = current_language.set(language)
    try:
        pdf = await monthly_pdf(template_environment(), "2026-11", now=datetime(2026, 12, 7, 9, tzinfo=UTC))
    finally:
        current_language.reset(token)
    path = tmp_path / "november.pdf"
    path.write_bytes(pdf)
    pages = [page.replace(" ", "") for page in pdf_text(path).split("\f")]
    squeeze = cover.replace(" ", "")
    cover_lines = [line for line in pages[0].splitlines() if line]
    label = next(i for i, line in enumerate(cover_lines) if line.startswith(squeeze))
    figures = cover_lines[label][len(squeeze) :]
    assert figures == "21+100.0%", cover_lines  # July and the one finished in December; October: July only
    text = "".join(pages)
    assert scope.replace(" ", "") in text
    overdue = text[text.index(scope.replace(" ", "")) :]
    assert "CC-JULY" in overdue and "CC-LATE" in overdue and "CC-DECEMBER" not in overdue
    card = text[text.index(scorecard.replace(" ", "")) :]
    assert "66.67%" in card and "50.00%(1/2)" in card and "顺丰" in card
