"""The `crossclaim` command: serve, worker, migrate, demo data, users and tokens."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import signal
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from app import db
from app.cases.events import configure_audit_key
from app.i18n import configure_company_zone
from app.piccolo_app import TABLES
from app.settings import Settings, documented_settings


def _bound(settings: Settings) -> Any:
    engine = db.make_engine(
        settings.database_url,
        data_dir=settings.marker_dir,
        pool_size=settings.db_pool_size,
        statement_cache=settings.db_statement_cache,
    )
    db.bind_tables(engine, TABLES)
    return engine


def _run(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    engine = _bound(settings)

    async def main() -> int:
        await db.start(engine)
        try:
            return await work()
        finally:
            await db.stop(engine)

    return asyncio.run(main())


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app.migrate import migrate

    applied = asyncio.run(migrate(settings))
    print(json.dumps({"applied": applied}))
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    worker: subprocess.Popen[bytes] | None = None
    if args.with_worker:
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"])
    try:
        if args.server == "granian":
            _serve_granian(settings, args)
        else:
            _serve_uvicorn(settings, args)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGINT)
            worker.wait(timeout=30)
    return 0


def _serve_granian(settings: Settings, args: argparse.Namespace) -> None:
    """Granian, chosen by measurement (bench/RESULTS.md, 'server' row); proxies are handled by the app."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "app.asgi:create_app",
        factory=True,
        interface=Interfaces.ASGI,
        address=args.host,
        port=args.port,
        workers=1,
        log_level=settings.log_level.lower(),  # type: ignore[arg-type]
        log_access=False,
    ).serve()


def _serve_uvicorn(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    # X-Forwarded-For/-Proto are read by the app itself (FORWARDED_ALLOW_IPS), the same under any server.
    uvicorn.run(
        "app.asgi:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=False,
    )


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from huey.consumer import Consumer

    from app.imports import tasks as import_tasks  # noqa: F401 - registers the import task
    from app.logs import configure_logging
    from app.startup import configure_process
    from app.tasks import (
        audit,  # noqa: F401 - registers the periodic audit checkpoint
        huey,
        mail,  # noqa: F401 - registers the periodic mailbox read
        push,  # noqa: F401 - registers the push mail
        reminders,  # noqa: F401 - registers the periodic reminder sweep
        reports,  # noqa: F401 - registers the monthly report and the corrective-action checks
        upkeep,  # noqa: F401 - registers the hourly refresh of the planners' statistics
    )

    configure_logging(settings.log_level)
    _bound(settings)
    configure_process(settings)
    periodic = not args.no_periodic
    Consumer(huey, workers=args.workers, worker_type="thread", periodic=periodic, check_worker_health=True).run()
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.demo import seed_demo
    from app.startup import configure_process

    configure_process(settings)  # demo clocks and hints follow the company's policy and rules too

    async def work() -> int:
        summary = await seed_demo(force=args.force, seed=args.seed)
        print(json.dumps(summary, ensure_ascii=False))
        return 0

    return _run(settings, work)


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.services import user_add
    from app.errors import ValidationFailed

    password = args.password or getpass.getpass("Password: ")

    async def work() -> int:
        try:
            user = await user_add(email=args.email, role=args.role, password=password, name=args.name or "")
        except ValidationFailed as error:
            for field, message in error.fields:
                print(f"{field}: {message}", file=sys.stderr)
            return 2
        print(json.dumps({"id": user.id, "email": user.email, "role": user.role}))
        return 0

    return _run(settings, work)


def cmd_user_disable(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.services import user_deactivate

    return _user_change(settings, lambda: user_deactivate(email=args.email))


def cmd_user_enable(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.services import user_activate

    return _user_change(settings, lambda: user_activate(email=args.email))


def _user_change(settings: Settings, change: Callable[[], Awaitable[Any]]) -> int:
    from app.errors import NotFound

    async def work() -> int:
        try:
            user = await change()
        except NotFound as error:
            print(f"crossclaim: {error}", file=sys.stderr)
            return 2
        print(json.dumps({"id": user.id, "email": user.email, "active": user.active}))
        return 0

    return _run(settings, work)


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.services import token_create
    from app.errors import ValidationFailed

    async def work() -> int:
        try:
            token = await token_create(email=args.email, name=args.name or "")
        except ValidationFailed as error:
            print(error.fields[0][1], file=sys.stderr)
            return 2
        print(token)
        return 0

    return _run(settings, work)


def cmd_rules_suggest(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from app.cases.responsibility import configure_rules
    from app.rules import RuleFileError
    from app.rules.cli import run_suggest

    try:
        registry = configure_rules(settings)
    except RuleFileError as error:
        print(f"crossclaim: {error}", file=sys.stderr)
        return 2
    # The same today as the web's: the UTC date.
    today = datetime.now(UTC).date()
    return run_suggest(args.file, today=today, out=sys.stdout, err=sys.stderr, registry=registry)


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.backup import BackupError, backup

    try:
        manifest = backup(settings, Path(args.out))
    except (BackupError, OSError, sqlite3.Error) as error:
        print(f"crossclaim backup: {error}", file=sys.stderr)
        return 1
    print(json.dumps(manifest))
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.backup import BackupError, restore

    try:
        result = restore(settings, Path(args.source), force=args.force)
    except (BackupError, OSError, tarfile.TarError) as error:
        print(f"crossclaim restore: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import audit_verify

    async def work() -> int:
        report = await audit_verify(settings.data_dir)
        print(json.dumps(report.to_dict()))
        return 0 if report.ok else 1

    return _run(settings, work)


def cmd_audit_checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import audit_checkpoint

    async def work() -> int:
        report = await audit_checkpoint(settings.data_dir)
        print(json.dumps(report.to_dict()))
        return 0 if report.ok else 1

    return _run(settings, work)


def cmd_analytics_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from app.analytics.daily import rebuild

    async def work() -> int:
        print(json.dumps({"days": await rebuild()}))
        return 0

    return _run(settings, work)


def cmd_remind_sweep(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from app.reminders.sweep import sweep
    from app.startup import configure_process

    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        print(f"crossclaim: --now must be an ISO date-time, not {args.now!r}", file=sys.stderr)
        return 2
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    configure_process(settings)

    async def work() -> int:
        summary = await sweep(settings=settings, now=now)
        print(json.dumps(summary.as_dict()))
        return 0

    return _run(settings, work)


def cmd_report_monthly(settings: Settings, args: argparse.Namespace) -> int:
    from app.analytics.report import ReportError, monthly_pdf
    from app.templating import template_environment

    async def work() -> int:
        try:
            pdf = await monthly_pdf(template_environment(), args.month)
        except ReportError as error:
            print(f"crossclaim: {error}", file=sys.stderr)
            return 2
        from pathlib import Path

        await asyncio.to_thread(Path(args.out).write_bytes, pdf)
        print(json.dumps({"month": args.month, "out": args.out, "bytes": len(pdf)}))
        return 0

    return _run(settings, work)


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """Check a file, print the JSON summary, and write it unless --dry-run or it has row errors."""
    from pathlib import Path

    from app.imports.values import ValueProblem

    try:
        given = _value_map_arguments(args.kind, args.mapping, args.map or [])
    except (ValueProblem, OSError, ValueError) as error:
        print(json.dumps({"rows": 0, "valid": 0, "errors": [], "refused": str(error)}, ensure_ascii=False))
        return 2

    async def work() -> int:
        from app.cases.events import Actor
        from app.errors import ValidationFailed
        from app.imports.jobs import commit, merged, preview_file, refused
        from app.imports.reader import FileRefused
        from app.imports.services import saved_value_map
        from app.rules.facts import N_

        value_map = merged(await saved_value_map(), given)
        try:
            _, preview = preview_file(Path(args.file), args.kind, date_order=args.date_order, value_map=value_map)
        except (FileRefused, OSError) as error:
            print(json.dumps(refused(str(error)), ensure_ascii=False))
            return 2
        summary = preview.summary()
        wrong = bool(preview.mapping_problems) or bool(preview.error_rows and not args.skip_invalid)
        if args.dry_run or wrong:
            print(json.dumps(summary, ensure_ascii=False, default=str))
            return 2 if wrong else 0
        try:
            result = await commit(preview=preview, actor=Actor.system(N_("Spreadsheet import")),
                                  skip_invalid=args.skip_invalid, skip_repeats=args.skip_repeats,
                                  value_map=given)  # fmt: skip
        except ValidationFailed as error:
            print(json.dumps({**summary, "refused": str(error)}, ensure_ascii=False))
            return 2
        print(json.dumps({**summary, "imported": result.as_dict()}, ensure_ascii=False, default=str))
        return 0

    return _run(settings, work)


def _value_map_arguments(kind: str, mapping_file: str | None, maps: list[str]) -> dict[str, dict[str, str]]:
    """--mapping FILE.json ({field: {value: code}}) and each --map FIELD:VALUE=CODE; a field may be its header."""
    from pathlib import Path

    from app.imports.columns import COLUMNS
    from app.imports.reader import normalise_header
    from app.imports.values import ValueProblem, checked_value_map

    names = {key: column.name for column in COLUMNS[kind] for key in column.keys}
    raw: dict[str, dict[str, str]] = {}
    if mapping_file:
        loaded = json.loads(Path(mapping_file).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueProblem("A value mapping is an object of fields, each an object of values and codes.")
        for field, words in loaded.items():
            if not isinstance(words, dict):
                raise ValueProblem("A value mapping is an object of fields, each an object of values and codes.")
            raw.setdefault(names.get(normalise_header(field), str(field)), {}).update(words)
    for given in maps:
        field, _colon, rest = given.partition(":")
        value, _equals, code = rest.rpartition("=")
        if not (field and _colon and value and code):
            raise ValueProblem("Write --map as FIELD:VALUE=CODE, e.g. --map problem_type:少件=short_shipment.")
        raw.setdefault(names.get(normalise_header(field), field), {})[value] = code
    return checked_value_map(raw)


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.cases.grid import GridView
    from app.imports.export import export_view

    exported: list[bytes] = []

    async def work() -> int:
        exported.append(await export_view(GridView(), args.format))
        return 0

    _run(settings, work)
    Path(args.out).write_bytes(exported[0])
    print(json.dumps({"out": args.out, "format": args.format, "bytes": len(exported[0])}))
    return 0


def cmd_mail_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """One .eml file through the same path as a mail read from the mailbox; prints the outcome as JSON."""
    from pathlib import Path

    from app.evidence.services import EvidencePolicy
    from app.evidence.storage import store_from_url
    from app.mail.ingest import ingest_mail

    try:
        raw = Path(args.file).read_bytes()
    except OSError as error:
        print(f"crossclaim: cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return 2
    store = store_from_url(settings.evidence_url, settings.data_dir)

    async def work() -> int:
        outcome = await ingest_mail(raw, settings=settings, store=store, policy=EvidencePolicy())
        print(json.dumps(outcome.as_dict(), ensure_ascii=False))
        return 0

    return _run(settings, work)


def cmd_mail_poll(settings: Settings, args: argparse.Namespace) -> int:
    from app.evidence.services import EvidencePolicy
    from app.evidence.storage import store_from_url
    from app.mail.imap import MailboxUnavailable, poll_mailbox

    if not settings.imap_url:
        print("crossclaim: set CROSSCLAIM_IMAP_URL to read a mailbox", file=sys.stderr)
        return 2
    store = store_from_url(settings.evidence_url, settings.data_dir)

    async def work() -> int:
        try:
            summary = await poll_mailbox(settings, store=store, policy=EvidencePolicy())
        except MailboxUnavailable as error:
            print(f"crossclaim: the mailbox cannot be read: {error}", file=sys.stderr)
            return 1
        print(json.dumps(summary.as_dict()))
        return 0

    return _run(settings, work)


def cmd_settings(settings: Settings, args: argparse.Namespace) -> int:
    for env, default, help_text in documented_settings():
        print(f"{env}\t{default}\t{help_text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossclaim", description="Crossclaim after-sales management")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--with-worker", action="store_true", help="also start the task worker")
    serve.add_argument(
        "--server", choices=("granian", "uvicorn"), default="granian", help="the ASGI server (default: granian)"
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run the task worker (reminders, mail, reports)")
    worker.add_argument("--workers", type=int, default=2)
    worker.add_argument(
        "--no-periodic", action="store_true", help="run queued tasks only (no sweep, mailbox read or reports)"
    )
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="load demo data into an empty database")
    demo.add_argument("--force", action="store_true", help="add demo data even when cases exist")
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help="manage staff users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add a staff user")
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=["admin", "manager", "handler", "warehouse"])
    add.add_argument("--password", help="prompted for when not given")
    add.add_argument("--name")
    add.set_defaults(func=cmd_user_add)
    disable = user.add_parser("disable", help="disable a staff user: their sessions and API tokens end at once")
    disable.add_argument("--email", required=True)
    disable.set_defaults(func=cmd_user_disable)
    enable = user.add_parser("enable", help="let a disabled staff user sign in again")
    enable.add_argument("--email", required=True)
    enable.set_defaults(func=cmd_user_enable)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="print a new API bearer token for a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name")
    create.set_defaults(func=cmd_token_create)

    rules = sub.add_parser("rules", help="the responsibility rules").add_subparsers(dest="rules_command", required=True)
    rules_suggest = rules.add_parser("suggest", help="print the responsibility hint for a JSON file of facts")
    rules_suggest.add_argument("file", metavar="FILE.json")
    rules_suggest.set_defaults(func=cmd_rules_suggest)

    backup = sub.add_parser("backup", help="write the database and evidence files to one archive")
    backup.add_argument("--out", required=True, help="the archive to write (.tar.gz)")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="restore a backup into an empty instance")
    restore.add_argument("--from", dest="source", required=True, help="the archive made by `crossclaim backup`")
    restore.add_argument("--force", action="store_true", help="overwrite an existing database")
    restore.set_defaults(func=cmd_restore)

    audit = sub.add_parser("audit", help="audit checks").add_subparsers(dest="audit_command", required=True)
    audit.add_parser(
        "verify", help="check every case timeline's keyed hash chain, and against the signed checkpoint"
    ).set_defaults(func=cmd_audit_verify)
    audit.add_parser(
        "checkpoint", help="verify, then anchor every chain's head in the signed checkpoint (the worker does it)"
    ).set_defaults(func=cmd_audit_checkpoint)

    analytics = sub.add_parser("analytics", help="the dashboard's figures").add_subparsers(
        dest="analytics_command", required=True
    )
    analytics.add_parser(
        "rebuild", help="recompute the daily sums behind the dashboard from the cases; prints JSON"
    ).set_defaults(func=cmd_analytics_rebuild)

    remind = sub.add_parser("remind", help="node reminders").add_subparsers(dest="remind_command", required=True)
    remind_sweep = remind.add_parser("sweep", help="send the reminders that are due, once each; prints JSON")
    remind_sweep.add_argument("--now", help="act as of this ISO date-time (default: now)")
    remind_sweep.set_defaults(func=cmd_remind_sweep)

    report = sub.add_parser("report", help="reports").add_subparsers(dest="report_command", required=True)
    monthly = report.add_parser("monthly", help="write the monthly after-sales report as a PDF")
    monthly.add_argument("--month", required=True, help="YYYY-MM")
    monthly.add_argument("--out", required=True, metavar="FILE.pdf")
    monthly.set_defaults(func=cmd_report_monthly)

    imports = sub.add_parser("import", help="import purchase order lines or a legacy case ledger (CSV/XLSX)")
    imports.add_argument("kind", choices=["orders", "cases"])
    imports.add_argument("file", metavar="FILE")
    imports.add_argument("--dry-run", action="store_true", help="check and print the summary, write nothing")
    imports.add_argument("--skip-invalid", action="store_true", help="import the valid rows of a file with errors")
    imports.add_argument(
        "--skip-repeats",
        action="store_true",
        help="skip case rows identical to an earlier row (default: separate cases)",
    )
    imports.add_argument(
        "--map",
        action="append",
        metavar="FIELD:VALUE=CODE",
        help="read VALUE in FIELD (its name or the file's header) as CODE, e.g. problem_type:少件=short_shipment; "
        "repeatable; kept for later imports",
    )
    imports.add_argument("--mapping", metavar="FILE.json", help='value mappings as {"FIELD": {"VALUE": "CODE"}}')
    imports.add_argument(
        "--date-order",
        choices=["dmy", "mdy"],
        help="read dates such as 03/04/2025 day first (dmy) or month first (mdy); default: as the file's dates show",
    )
    imports.set_defaults(func=cmd_import)

    export = sub.add_parser("export", help="export cases (the default grid view) to CSV or XLSX")
    export.add_argument("what", choices=["cases"])
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--out", required=True)
    export.set_defaults(func=cmd_export)

    mail = sub.add_parser("mail", help="inbound mail").add_subparsers(dest="mail_command", required=True)
    mail_ingest = mail.add_parser("ingest", help="read one .eml file into its case thread (or quarantine); prints JSON")
    mail_ingest.add_argument("file", metavar="FILE.eml")
    mail_ingest.set_defaults(func=cmd_mail_ingest)
    mail.add_parser("poll", help="read the unseen mail of CROSSCLAIM_IMAP_URL once; prints JSON").set_defaults(
        func=cmd_mail_poll
    )

    sub.add_parser("settings", help="list every setting with its default").set_defaults(func=cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"crossclaim: {error}", file=sys.stderr)
        return 2
    configure_company_zone(settings.time_zone)
    configure_audit_key(settings.secret_key)
    result: int = args.func(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
