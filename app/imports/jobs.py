"""An import from upload to commit: the stored file, its mapping, the preview, and the run's progress."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.cases.events import Actor
from app.db import refresh_statistics
from app.errors import NotFound, ValidationFailed
from app.i18n import gettext as _
from app.i18n import ngettext
from app.imports import services
from app.imports.columns import COLUMNS, KINDS, auto_mapping, known_headers
from app.imports.messages import Message
from app.imports.preview import Preview, RowNote, check
from app.imports.reader import FileRefused, Sheet, read_sheet
from app.imports.values import CODED, value_key
from app.rules.facts import N_

# Uploads above this are refused before they are read (about a million rows of a wide sheet).
MAX_UPLOAD_BYTES = 60 * 1024 * 1024
# Files with more valid rows than this are written by the worker, with a progress bar.
log = logging.getLogger("crossclaim.imports")

BACKGROUND_ROWS = 2000
# An import writing more rows than this refreshes the planners' statistics (only the worker and the
# command line write that many: the page hands larger files to the worker).
STATISTICS_ROWS = BACKGROUND_ROWS
# Rows not created that a finished import lists on its page (the CLI lists every one).
SHOWN_NOTES = 500


@dataclass
class Job:
    token: str
    folder: Path
    kind: str
    filename: str

    @property
    def upload(self) -> Path:
        return self.folder / "upload"

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return {}

    def save_state(self, **changes: Any) -> dict[str, Any]:
        state = {**self.state(), **changes}
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, default=str, ensure_ascii=False))
        temporary.replace(self.state_file)  # readers polling the bar never see half a file
        return state

    @staticmethod
    def message(state: dict[str, Any]) -> str:
        """The run's last word in ``state`` (its progress, or why it failed) in the reader's language."""
        message = Message.from_state(state)
        return message.translated() if message is not None else ""


def _root(data_dir: Path) -> Path:
    return data_dir / "imports"


def job_create(*, data_dir: Path, kind: str, filename: str, data: bytes, owner: int) -> Job:
    if kind not in KINDS:
        raise ValidationFailed(
            _("Choose what the file holds."), fields=[("kind", _("One of: %(kinds)s.", kinds=", ".join(KINDS)))]
        )
    if not data.strip():
        raise ValidationFailed(_("The file is empty."), fields=[("file", _("Choose a CSV or XLSX file with rows."))])
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(_("The file is too large."), fields=[("file", _("Split it into files under 60 MB."))])
    token = secrets.token_urlsafe(12)
    folder = _root(data_dir) / token
    folder.mkdir(parents=True)
    job = Job(token=token, folder=folder, kind=kind, filename=filename[-200:])
    job.upload.write_bytes(data)
    job.save_state(kind=kind, filename=job.filename, owner=owner, status="uploaded", progress=0)
    return job


def job_get(*, data_dir: Path, token: str) -> Job:
    if not token.replace("-", "").replace("_", "").isalnum():
        raise NotFound(_("There is no such import."))
    folder = _root(data_dir) / token
    if not (folder / "state.json").exists():
        raise NotFound(_("There is no such import."))
    job = Job(token=token, folder=folder, kind="", filename="")
    state = job.state()
    job.kind, job.filename = state["kind"], state["filename"]
    return job


def load_sheet(path: Path, kind: str) -> Sheet:
    return read_sheet(path, known_headers=known_headers(kind))


_STOPPED_READER = N_(
    "Reading this file stopped the server the last time; it is not read again. Check the file and upload it again."
)


def read_upload(job: Job) -> Sheet:
    """The stored upload's sheet; a file refused once, or that stopped the process while read, is not read again.

    A marker is kept while the file is read: if the process dies under the reader (a file crafted to
    exhaust memory), the next look at this import finds the marker and shows why instead of dying again.
    """
    state = job.state()
    refused = state.get("refused")
    if isinstance(refused, dict):
        raise FileRefused(refused.get("msgid") or _STOPPED_READER, **(refused.get("values") or {}))
    if state.get("reading"):
        stopped = FileRefused(_STOPPED_READER)
        job.save_state(reading=False, refused=stopped.message.as_state())
        raise stopped
    job.save_state(reading=True)
    try:
        sheet = load_sheet(job.upload, job.kind)
    except FileRefused as error:
        job.save_state(reading=False, refused=error.message.as_state())
        raise
    job.save_state(reading=False)
    return sheet


def mapping_from_form(kind: str, sheet: Sheet, form: dict[str, Any]) -> dict[str, int | None]:
    """The user's corrections: each field's file column index, or "" for none; the rest stay automatic."""
    mapping = auto_mapping(kind, sheet.headers)
    for column in COLUMNS[kind]:
        chosen = form.get(f"map_{column.name}")
        if chosen is None:
            continue
        chosen = str(chosen)
        mapping[column.name] = int(chosen) if chosen.isdecimal() and int(chosen) < len(sheet.headers) else None
    return mapping


# Unknown values shown to map per field; a column of free text mapped as a coded field is a mapping mistake.
SHOWN_VALUES = 50


def merged(*maps: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Value mappings laid over each other, the later winning for a value both map."""
    result: dict[str, dict[str, str]] = {}
    for value_map in maps:
        for name, words in value_map.items():
            result.setdefault(name, {}).update(words)
    return result


def value_choices_from_form(form: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The meanings chosen on the page: ``value_<field>_<n>`` is the code for the value in ``value_<field>_<n>_of``."""
    chosen: dict[str, dict[str, str]] = {}
    for name, (_words, codes) in CODED.items():
        prefix = f"value_{name}_"
        for key, code in form.items():
            if key.startswith(prefix) and not key.endswith("_of") and str(code) in codes:
                value = form.get(f"{key}_of")
                if isinstance(value, str) and value.strip():
                    chosen.setdefault(name, {})[value_key(value)] = str(code)
    return chosen


async def value_map_for(job: Job, form: dict[str, Any] | None) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    """The words to read a job's file with (the company's, then this import's choices) and its choices to keep."""
    chosen = job.state().get("value_map") or {}
    if form is not None:
        chosen = merged(chosen, value_choices_from_form(form))
    return merged(await services.saved_value_map(), chosen), chosen


def preview_file(
    path: Path,
    kind: str,
    mapping: dict[str, int | None] | None = None,
    *,
    date_order: str | None = None,
    value_map: dict[str, dict[str, str]] | None = None,
) -> tuple[Sheet, Preview]:
    sheet = load_sheet(path, kind)
    mapping = mapping or auto_mapping(kind, sheet.headers)
    return sheet, check(kind, sheet, mapping, date_order=date_order, value_map=value_map)


def refused(message: str) -> dict[str, Any]:
    return {"rows": 0, "valid": 0, "errors": [{"row": 0, "column": "", "message": message}]}


async def commit(
    *,
    preview: Preview,
    actor: Actor,
    skip_invalid: bool = False,
    skip_repeats: bool = False,
    value_map: dict[str, dict[str, str]] | None = None,
) -> services.ImportResult:
    """Write a checked file: all its rows in one transaction, or nothing when any row is wrong.

    Rows that repeat an earlier row are separate cases unless ``skip_repeats``; either way each row of the
    file is counted once in the result, with the reason for every row not created.
    """
    if preview.mapping_problems:
        raise ValidationFailed(
            _("The column mapping is incomplete."), fields=[("mapping", m) for m in preview.mapping_problems]
        )
    if preview.error_rows and not skip_invalid:
        raise ValidationFailed(
            ngettext(
                "%(num)s row has errors; correct it or import only the valid rows.",
                "%(num)s rows have errors; correct them or import only the valid rows.",
                preview.error_rows,
            ),
            fields=[
                ("file", _("row %(row)s, %(column)s: %(problem)s", row=e.row, column=e.column, problem=e.message))
                for e in preview.errors[:20]
            ],
        )
    records, skipped = preview.records, list(preview.skipped)
    if skip_repeats and preview.repeats:
        records = [record for record in records if "repeat_of" not in record]
        said = N_("Same values as row %(row)s; skipped as a repeat.")
        skipped += [RowNote(note.row, Message(said, row=note.message.values["row"])) for note in preview.repeats]
    if preview.kind == "orders":
        result = await services.import_orders(records=records)
    else:
        result = await services.import_cases(records=records, actor=actor)
    if result.created + result.updated > STATISTICS_ROWS:
        await _refresh_statistics()
    result.rows, result.skipped, result.errors = preview.rows, len(skipped), preview.error_rows
    result.notes += skipped
    if value_map:
        await services.value_map_save(value_map=value_map)  # the next import reads these words the same way
    return result


async def _refresh_statistics() -> None:
    """Thousands of rows at once: the planners' statistics are refreshed now rather than at the worker's
    next hour (until then the pages' queries could be planned for the old sizes). The rows are written
    whatever happens here: a failure is logged, not the import's."""
    try:
        await refresh_statistics(every_table=True)
    except Exception:
        log.exception("planner statistics not refreshed after an import")


async def job_run(*, data_dir: Path, token: str, actor: Actor) -> dict[str, Any]:
    """Read, check and write a stored upload with the mapping and choice saved on it; records progress."""
    job = job_get(data_dir=data_dir, token=token)
    state = job.state()
    if state.get("status") in {"done", "running"}:
        return state  # a retried task or a second click: the first run owns it
    # Messages are stored as msgid and values: the worker has no reader, the page translates them when shown.
    job.save_state(status="running", progress=10, **Message(N_("Reading the file")).as_state())
    preview: Preview | None = None
    try:
        sheet = read_upload(job)
        mapping = {k: v for k, v in state.get("mapping", {}).items()} or auto_mapping(job.kind, sheet.headers)
        job.save_state(progress=40, **Message(N_("Checking the rows")).as_state())
        value_map, chosen = await value_map_for(job, None)
        preview = check(job.kind, sheet, mapping, date_order=state.get("date_order"), value_map=value_map)
        job.save_state(progress=60, rows=preview.rows, valid=preview.valid, **Message(N_("Writing")).as_state())
        result = await commit(
            preview=preview,
            actor=actor,
            skip_invalid=bool(state.get("skip_invalid")),
            skip_repeats=bool(state.get("skip_repeats")),
            value_map=chosen,
        )
    except FileRefused as error:
        return job.save_state(status="failed", progress=100, **error.message.as_state())
    except ValidationFailed as error:
        # commit()'s text is in the language it was raised in, which in the worker is not the reader's.
        failure = _refusal(preview) if preview is not None else Message(str(error))
        return job.save_state(status="failed", progress=100, **failure.as_state())
    except Exception as error:
        stopped = Message(N_("The import stopped (%(kind)s)."), kind=type(error).__name__)
        job.save_state(status="failed", progress=100, **stopped.as_state())
        raise
    summary = {**result.as_dict(), "not_created": [note.as_state() for note in result.listed()[:SHOWN_NOTES]]}
    return job.save_state(status="done", progress=100, result=summary, **Message(N_("Imported")).as_state())


def _refusal(preview: Preview) -> Message:
    """Why commit() refused a checked file, as a catalogue message (the msgids are commit()'s own)."""
    if preview.mapping_problems:
        return Message("The column mapping is incomplete.")
    return Message(
        "%(num)s row has errors; correct it or import only the valid rows.",
        plural="%(num)s rows have errors; correct them or import only the valid rows.",
        num=preview.error_rows,
    )
