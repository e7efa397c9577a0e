"""The case grid page: filters, sorting, column chooser, keyset pages, bulk assign, push and root cause, inline edits
and exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template
from markupsafe import Markup

from app.accounts.roles import CLAIM_FIGURES, DESK, STAFF
from app.analytics import root_causes
from app.analytics.taxonomy import ROOT_CAUSES
from app.cases import assignment, grid
from app.cases.search import similar_cases
from app.cases.selectors import case_get
from app.cases.states import Node
from app.cases.taxonomy import PARTIES, PROBLEM_TYPES, REMEDIES, URGENCIES
from app.collaboration import bulk
from app.collaboration.services import Pushed, parse_date
from app.errors import ValidationFailed
from app.i18n import company_zone, label
from app.i18n import gettext as _
from app.imports.export import FORMATS, export_view
from app.settings import Settings
from app.tasks.push import enqueue_push
from app.web import grid_table
from app.web.auth import actor_for
from app.web.forms import FORM
from app.web.pages import render
from app.web.render_cache import RenderCache, reader_key, render_part


@dataclass
class CellForm:
    value: str = ""


# Ticked cases sit on the pages a person scrolled through: a thousand is far more than anyone ticks.
MAX_TICKED = 1000


def _ticked(params: Any) -> list[int]:
    found = [int(value) for value in params.getall("case", []) if str(value).isdecimal()]
    return list(dict.fromkeys(found))[:MAX_TICKED]


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValidationFailed(_("Choose CSV or XLSX."), fields=[("format", _("csv or xlsx"))])


def _view(request: Request[Any, Any, Any], params: Any) -> grid.GridView:
    return grid.GridView.parse(params, figures=request.user.role in CLAIM_FIGURES)


def _context(
    request: Request[Any, Any, Any], view: grid.GridView, rows: list[dict[str, Any]], *, can_edit: bool, **extra: Any
) -> dict[str, Any]:
    limit = grid.PAGE_SIZE
    figures = request.user.role in CLAIM_FIGURES
    shown = [grid.BY_NAME[n] for n in view.columns]
    column_labels = {column.name: str(column.label) for column in grid.COLUMNS}
    # Translated once here: each cell would otherwise resolve a lazy string of its own.
    labels = {
        "problem_type": {code: str(label) for code, label in PROBLEM_TYPES.items()},
        "responsible": {code: str(label) for code, label in PARTIES.items()},
        "urgency": {code: str(label) for code, label in URGENCIES.items()},
        "node": {node.value: label(node.value, "node") for node in Node},
    }
    table = grid_table.table_rows(
        rows[:limit],
        shown,
        column_labels=column_labels,
        editable=grid.INLINE_FIELDS if can_edit else {},
        labels=labels,
        urgencies=labels["urgency"],
        zone=request.user.time_zone or company_zone(),
        choose_label=_("Choose"),
        edit_title=_("Edit"),
    )
    return {
        **_outer_context(view, figures=figures),
        "table_rows": table,
        "rows_shown": min(len(rows), limit),
        "shown": shown,
        "next_after": grid.next_cursor(view, rows[:limit], limit) if len(rows) > limit else None,
        "query_string": lambda **changes: urlencode(view.params(**changes)),
        "remedies": REMEDIES,
        "can_edit": can_edit,
        "inline_fields": grid.INLINE_FIELDS,
        "root_causes": {code: str(label) for code, label in ROOT_CAUSES.items()},
        **extra,
    }


def _outer_context(view: grid.GridView, *, figures: bool) -> dict[str, Any]:
    """What the page needs around its results: the filters and the column chooser."""
    return {
        "view": view,
        "columns": grid.columns_for(figures=figures),
        "filter_names": [name for name in grid.FILTERS if figures or name not in grid.FIGURE_COLUMNS],
        "filter_labels": {name: str(grid.BY_NAME[name].label) for name in grid.FILTERS},
        "problem_types": {code: str(label) for code, label in PROBLEM_TYPES.items()},
        "parties": {code: str(label) for code, label in PARTIES.items()},
    }


# The grid's results (table, bulk actions) by data version, role, language, zone and view; saved views by
# data version and person. See app/web/render_cache.py.
RESULTS = RenderCache(entries=128)
SAVED = RenderCache(entries=512)


def _form_ids(form: Any) -> list[int]:
    """The ticked cases of a bulk action's form."""
    return [int(v) for v in form.getall("case") if str(v).isdecimal()] if "case" in form else []


async def _after_bulk(request: Request[Any, Any, Any], view: grid.GridView, **outcome: Any) -> Template:
    """A bulk action's answer: the grid's results as they are now, with what the action did."""
    rows = await grid.grid_rows(view, limit=grid.PAGE_SIZE + 1)
    context = _context(
        request, view, rows, choices=await grid.filter_choices(), users=await assignment.assignable_users(),
        can_edit=True, **outcome,
    )  # fmt: skip
    return render(request, "grid/page.html", context, block="results")


class GridController(Controller):
    path = "/grid"

    @get("/", opt={"roles": STAFF}, name="case_grid")
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        view = _view(request, request.query_params)
        user = request.user
        can_edit = user.role in DESK
        # "Load more" asks for the next rows only; filters, sorting and columns re-render the table.
        block = "more_rows" if request.headers.get("hx-target") == "grid-more" else "results"
        # Read before any of the page's queries: what is kept under it is at least this new.
        shared = reader_key(request, tuple(view.params(after=view.after).items()))
        saved_key = (shared[0], user.id) if shared is not None else None
        saved = SAVED.get(saved_key) if saved_key is not None else None
        if saved is None:
            saved = await grid.saved_views(user.id)
            if saved_key is not None:
                SAVED.put(saved_key, saved)

        async def page_data() -> dict[str, Any]:
            rows = await grid.grid_rows(view, limit=grid.PAGE_SIZE + 1)
            choices = await grid.filter_choices()
            users = await assignment.assignable_users()
            return _context(request, view, rows, can_edit=can_edit, choices=choices, users=users, notice=None)

        async def kept_parts() -> tuple[Markup, Markup, Any]:
            made = await page_data()
            # The filter form lists every supplier, carrier and product: kept with the results.
            results = render_part(request, "grid/page.html", "results", made)
            return results, render_part(request, "grid/page.html", "filters", made), made["choices"]

        if shared is not None and block == "results":
            results, filters, choices = await RESULTS.kept_or_made(shared, kept_parts)
            context = {**_outer_context(view, figures=user.role in CLAIM_FIGURES), "choices": choices}
            context.update(results_html=results, filters_html=filters)
        else:
            context = await page_data()
        context["saved"] = saved
        return render(request, "grid/page.html", context, block=block)

    @post("/views", opt={"roles": STAFF}, status_code=200)
    async def save_view(self, request: Request[Any, Any, Any]) -> Template:
        # Raw form: the grid's view (filters, sort, columns) rides along, read as the query string is.
        form = await request.form()
        await grid.view_save(user_id=request.user.id, name=str(form.get("view_name") or ""), view=_view(request, form))
        return render(request, "grid/_views.html", {"saved": await grid.saved_views(request.user.id)})

    @post("/views/{view_id:int}/delete", opt={"roles": STAFF}, status_code=200)
    async def delete_view(self, request: Request[Any, Any, Any], view_id: FromPath[int]) -> Template:
        await grid.view_delete(user_id=request.user.id, view_id=view_id)
        return render(request, "grid/_views.html", {"saved": await grid.saved_views(request.user.id)})

    @get("/export/{fmt:str}", opt={"roles": DESK}, name="grid_export")
    async def export(self, request: Request[Any, Any, Any], fmt: FromPath[str]) -> Response[bytes]:
        """The whole view as a file, or only its ticked cases when the address names them (case=ID...)."""
        _check_format(fmt)
        view = _view(request, request.query_params)
        ticked = _ticked(request.query_params)
        data = await export_view(view, fmt, case_ids=ticked or None, zone=request.user.time_zone)
        name = f"cases-{'ticked-' if ticked else ''}{datetime.now(UTC):%Y%m%d-%H%M}.{fmt}"
        return Response(
            data, media_type=FORMATS[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @get("/export-ticked/{fmt:str}", opt={"roles": DESK}, name="grid_export_ticked")
    async def export_ticked(self, request: Request[Any, Any, Any], fmt: FromPath[str]) -> Response[str]:
        """The button's answer: the browser is sent to the file of the ticked cases (it downloads, the page stays)."""
        _check_format(fmt)
        ticked = _ticked(request.query_params)
        if not ticked:
            raise ValidationFailed(_("Tick the cases to export."))
        view = _view(request, request.query_params)
        query = urlencode([*view.params().items(), *(("case", str(case_id)) for case_id in ticked)])
        return Response("", headers={"HX-Redirect": f"/grid/export/{fmt}?{query}"})

    @post("/assign", opt={"roles": DESK}, status_code=200)
    async def assign(self, request: Request[Any, Any, Any]) -> Template:
        # Raw form: the grid's view (filters, sort, columns) rides along, read as the query string is.
        form = await request.form()
        view = _view(request, form)
        ids = _form_ids(form)
        assignee = str(form.get("assignee") or "")
        changed = len(
            await assignment.assign_cases(
                actor=actor_for(request), case_ids=ids, assignee_id=int(assignee) if assignee.isdecimal() else None
            )
        )
        return await _after_bulk(request, view, notice=changed)

    @post("/push", opt={"roles": DESK}, status_code=200)
    async def push(self, request: Request[Any, Any, Any]) -> Template:
        """Send the ticked cases each to its own supplier, with the mail and link a single push sends."""
        # Raw form: the grid's view (filters, sort, columns) rides along, read as the query string is.
        form = await request.form()
        view = _view(request, form)
        ids = _form_ids(form)
        requirement = str(form.get("requirement") or "")
        reply_by = parse_date(str(form.get("reply_by") or ""), "reply_by")
        attach_pack = form.get("attach_pack") == "yes"

        settings: Settings = request.app.state.settings

        async def deliver(pushed: Pushed, reply_by: date) -> None:
            # Each case's push has committed: its mail (and claim pack) is the worker's, one task per case.
            enqueue_push(settings, pushed, requirement=requirement, reply_by=reply_by, attach_pack=attach_pack)

        outcome = await bulk.push_to_suppliers(
            actor=actor_for(request),
            case_ids=ids,
            requirement=requirement,
            reply_by=reply_by,
            note=str(form.get("note") or ""),
            deliver=deliver,
            attach_pack=attach_pack,
        )
        return await _after_bulk(request, view, pushed=outcome)

    @post("/root-cause", opt={"roles": DESK}, status_code=200)
    async def root_cause(self, request: Request[Any, Any, Any]) -> Template:
        """Set one root cause on every ticked case (and link a corrective action), each on its own timeline."""
        # Raw form: the grid's view (filters, sort, columns) rides along, read as the query string is.
        form = await request.form()
        view = _view(request, form)
        ids = _form_ids(form)
        action = str(form.get("action") or "").strip()
        if action and not action.isdecimal():
            raise ValidationFailed(
                _("Give the corrective action's number, or leave it empty."),
                fields=[("action", _("A number such as 12."))],
            )
        outcome = await root_causes.root_causes_set(
            actor=actor_for(request),
            case_ids=ids,
            root_cause=str(form.get("root_cause") or ""),
            action_id=int(action) if action else None,
        )
        return await _after_bulk(request, view, causes_set=outcome)

    @get("/similar/{number:str}", opt={"roles": STAFF}, name="case_similar")
    async def similar(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Template:
        case = await case_get(number)
        context = {
            "case": case,
            "similar": await similar_cases(case.id),
            "problem_types": PROBLEM_TYPES,
            "parties": PARTIES,
            "remedies": REMEDIES,
        }
        return render(request, "cases/_similar.html", context)

    @get("/{case_id:int}/edit/{field_name:str}", opt={"roles": DESK}, name="grid_edit")
    async def edit(
        self, request: Request[Any, Any, Any], case_id: FromPath[int], field_name: FromPath[str]
    ) -> Template:
        found = await grid.grid_rows(grid.GridView(), limit=1, case_ids=[case_id])
        row = found[0] if found else None
        if row is None or field_name not in grid.INLINE_FIELDS:
            raise ValidationFailed(_("This field cannot be changed here."), fields=[(field_name, _("Open the case."))])
        return render(
            request, "grid/_cell.html", {"row": row, "name": field_name, "editing": True, "urgencies": URGENCIES}
        )

    @post("/{case_id:int}/edit/{field_name:str}", opt={"roles": DESK}, status_code=200)
    async def save(
        self,
        request: Request[Any, Any, Any],
        case_id: FromPath[int],
        field_name: FromPath[str],
        data: Annotated[CellForm, FORM],
    ) -> Template:
        actor = actor_for(request)
        row = await grid.inline_update(actor=actor, case_id=case_id, field_name=field_name, value=data.value)
        button = grid_table.edit_button(row, field_name, {k: str(v) for k, v in URGENCIES.items()}, _("Edit"))
        return render(request, "grid/_cell.html", {"row": row, "name": field_name, "editing": False, "button": button})


GRID_ROUTES = [GridController]
