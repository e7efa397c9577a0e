"""Import pages: upload a file, correct the column mapping, preview every row error, confirm, watch progress."""

from __future__ import annotations

from functools import partial
from typing import Any

from anyio import to_thread
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.accounts.roles import DESK
from app.errors import NotFound, PayloadTooLarge, ValidationFailed
from app.i18n import gettext as _
from app.imports import jobs
from app.imports.columns import COLUMNS, KINDS, auto_mapping
from app.imports.preview import Preview
from app.imports.reader import FileRefused, Sheet
from app.imports.values import CODED, suggest_code
from app.web.auth import actor_for
from app.web.pages import render

# Shown on the page; the CLI and the summary list every error.
PREVIEW_ROWS = 20


def _data_dir(request: Request[Any, Any, Any]) -> Any:
    return request.app.state["settings"].data_dir


def _job(request: Request[Any, Any, Any], token: str) -> jobs.Job:
    job = jobs.job_get(data_dir=_data_dir(request), token=token)
    if job.state().get("owner") != request.user.id and request.user.role != "admin":
        raise NotFound(_("There is no such import."))
    return job


async def _check(job: jobs.Job, form: dict[str, Any] | None) -> tuple[Sheet | None, Preview | None, str]:
    """Read and check off the event loop; a refused file comes back as its message."""
    try:
        sheet = await to_thread.run_sync(jobs.read_upload, job)
    except FileRefused as error:
        return None, None, error.message
    state = job.state()
    saved = state.get("mapping")
    date_order = state.get("date_order")
    if form is not None:
        mapping = jobs.mapping_from_form(job.kind, sheet, form)
        date_order = str(form.get("date_order") or "") or date_order
    elif saved:
        mapping = saved
    else:
        mapping = auto_mapping(job.kind, sheet.headers)
    from app.imports.preview import check

    value_map, chosen = await jobs.value_map_for(job, form)
    preview = await to_thread.run_sync(
        partial(check, job.kind, sheet, mapping, date_order=date_order, value_map=value_map)
    )
    job.save_state(mapping=mapping, value_map=chosen, **({"date_order": date_order} if date_order else {}))
    return sheet, preview, ""


def _context(job: jobs.Job, sheet: Sheet | None, preview: Preview | None, refusal: str) -> dict[str, Any]:
    mapping = job.state().get("mapping") or {}
    return {
        "job": job,
        "state": job.state(),
        "refusal": refusal,
        "sheet": sheet,
        "preview": preview,
        "columns": COLUMNS[job.kind],
        "mapping": mapping,
        "sample": preview.records[:PREVIEW_ROWS] if preview else [],
        "background_rows": jobs.BACKGROUND_ROWS,
        "coded": CODED,
        "suggest_code": suggest_code,
        "shown_values": jobs.SHOWN_VALUES,
    }


class ImportController(Controller):
    path = "/imports"

    @get("/", opt={"roles": DESK}, name="import_start")
    async def start(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, "imports/start.html", {"kinds": KINDS, "error": ""})

    @post("/", opt={"roles": DESK}, request_max_body_size=jobs.MAX_UPLOAD_BYTES + 1024 * 1024, status_code=303)
    async def upload(self, request: Request[Any, Any, Any]) -> Any:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > jobs.MAX_UPLOAD_BYTES + 1024 * 1024:
            raise PayloadTooLarge(_("The file is larger than 60 MB; split it into smaller files."))
        try:
            # Raw form: an upload cut off or without its file answers with the start page and what to do.
            form = await request.form()
        except ClientException:
            raise ValidationFailed(
                _("The upload arrived incomplete."), fields=[("file", _("Send it again."))]
            ) from None
        upload = form.get("file")
        kind = str(form.get("kind") or "")
        if not isinstance(upload, UploadFile):
            error = _("Choose a CSV or XLSX file.")
            return render(request, "imports/start.html", {"kinds": KINDS, "error": error}, status_code=422)
        data = await upload.read()
        try:
            job = jobs.job_create(
                data_dir=_data_dir(request), kind=kind, filename=upload.filename or "", data=data, owner=request.user.id
            )
        except ValidationFailed as error:
            return render(request, "imports/start.html", {"kinds": KINDS, "error": error.message}, status_code=422)
        return Redirect(f"/imports/{job.token}", status_code=303)

    @get("/{token:str}", opt={"roles": DESK}, name="import_preview")
    async def preview(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        job = _job(request, token)
        if job.state().get("status") in {"queued", "running", "done", "failed"}:
            return render(request, "imports/preview.html", _context(job, None, None, ""))
        return render(request, "imports/preview.html", _context(job, *await _check(job, None)))

    @post("/{token:str}/mapping", opt={"roles": DESK}, status_code=200)
    async def remap(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        job = _job(request, token)
        # Raw form: one mapping field per column of the uploaded sheet.
        form = dict((await request.form()).items())
        return render(request, "imports/preview.html", _context(job, *await _check(job, form)), block="check")

    @post("/{token:str}/confirm", opt={"roles": DESK}, status_code=200)
    async def confirm(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        job = _job(request, token)
        # Raw form: one mapping field per column of the uploaded sheet, checked again before the import.
        form = dict((await request.form()).items())
        sheet, preview, refusal = await _check(job, form)
        if preview is None or preview.mapping_problems or (preview.error_rows and not form.get("skip_invalid")):
            context = _context(job, sheet, preview, refusal)
            context["confirm_error"] = _("Correct the errors first, or tick “import only the valid rows”.")
            return render(request, "imports/preview.html", context, block="check", status_code=422)
        if job.state().get("status") not in {"uploaded", None}:
            return render(request, "imports/preview.html", _context(job, None, None, ""), block="check")
        actor = actor_for(request)
        skip_repeats = bool(preview.repeats) and not form.get("keep_repeats")
        skip_invalid = bool(form.get("skip_invalid"))
        job.save_state(skip_invalid=skip_invalid, skip_repeats=skip_repeats, status="queued", progress=0)
        if preview.valid > jobs.BACKGROUND_ROWS:
            from app.imports.tasks import import_upload

            import_upload(
                str(_data_dir(request)), job.token, {"kind": actor.kind, "id": actor.id, "label": actor.label}
            )
        else:
            job.save_state(status="uploaded")
            await jobs.job_run(data_dir=_data_dir(request), token=job.token, actor=actor)
        return render(request, "imports/preview.html", _context(job, None, None, ""), block="check")

    @get("/{token:str}/progress", opt={"roles": DESK}, name="import_progress")
    async def progress(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        job = _job(request, token)
        return render(request, "imports/preview.html", _context(job, None, None, ""), block="check")


IMPORT_ROUTES = [ImportController]
