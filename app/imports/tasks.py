"""The worker's side of a big import: run a confirmed upload, recording progress for the page's bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from piccolo.utils.sync import run_sync

from app.cases.events import Actor
from app.queue import huey


@huey.task(retries=0)  # type: ignore[untyped-decorator]
def import_upload(data_dir: str, token: str, actor: dict[str, str]) -> dict[str, Any]:
    # Not retried: the run is one transaction, and a failure is shown to the user rather than repeated.
    from app.imports.jobs import job_run

    return run_sync(job_run(data_dir=Path(data_dir), token=token, actor=Actor(**actor)))
