"""Schemathesis against the running API: generated requests for every /api/v1 operation, never a 5xx.

Item 19's API side and the general rule behind the checklist (bad input gets a clear 4xx, never a 500):
each operation gets up to FUZZ_EXAMPLES generated requests, valid and invalid, with a bearer token;
every answer must match the OpenAPI document the server publishes (status code, content type, schema).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks

from app.accounts.services import token_create
from tests.browser.conftest import running_server

# CI runs a fixed, reproducible set; FUZZ_RANDOM=1 FUZZ_EXAMPLES=200 explores further.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
FUZZ_RANDOM = os.environ.get("FUZZ_RANDOM") == "1"


@pytest.fixture(scope="module")
def fuzz_server(settings: Any) -> Iterator[str]:
    with running_server(settings, "fuzz") as base:
        yield base


@pytest.fixture
async def bearer(make_user: Any) -> dict[str, str]:
    """An admin's API token (admins reach every API operation); the tables are emptied after each test."""
    user = await make_user("admin")
    return {"Authorization": f"Bearer {await token_create(email=user.email)}"}


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> int:
    """Runs the generated cases of one operation; returns how many requests were sent."""
    sent = 0

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=not FUZZ_RANDOM,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        # Schema-valid requests may still be refused (an unknown order, a bad email): that is a 4xx by design.
        excluded = [checks.positive_data_acceptance]
        if case.media_type == "multipart/form-data":
            excluded.append(checks.negative_data_rejection)  # every form field is text: a "boolean" is the text true
        case.call_and_validate(headers=headers, timeout=30, excluded_checks=excluded)

    run()
    return sent


@pytest.mark.checklist(19)
def test_generated_requests_never_fail_and_match_the_schema(fuzz_server: str, bearer: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/schema/openapi.json").include(path_regex="^/api/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    failures = []
    sent: dict[str, int] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                sent[f"{operation.label} ({mode.value})"] = fuzz(operation, mode, bearer)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing in the operation can be made invalid
            except (Exception, BaseExceptionGroup) as failure:  # every operation is tried; all are reported
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
    print("requests per operation:", sent)
    # The fuzzing was not vacuous: every operation got generated requests, most of them the full quota.
    assert {label.split(" (")[0] for label in sent} == {operation.label for operation in operations}
    assert sum(sent.values()) >= len(operations) * FUZZ_EXAMPLES


def _query_names(handler: Any, path: str) -> set[str]:
    """The query parameters a page handler declares, besides those every page reads by hand."""
    import inspect

    injected = {"self", "request", "data", "state", "headers", "socket", "scope"}
    path_names = set(re.findall(r"\{(\w+):", path))
    declared = set(inspect.signature(handler.fn).parameters) - injected - path_names
    return declared | FREE_QUERY_NAMES


# Read from request.query_params by the pages themselves (the grid's view, the case list's filters).
FREE_QUERY_NAMES = {"q", "sort", "after", "cols", "col", "case", "node", "from", "to", "month", "f_supplier", "next"}


def _cursor(value: Any, row_id: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, row_id]).encode()).decode()


ODD_QUERY_VALUES = [
    "a\x00b",
    "\x00",
    "9" * 30,
    "-1",
    "²",
    "1_000",
    "2026-13-45",
    "x" * 300,
    "' OR 1=1 --",
    "%zz",
    "😀",
    _cursor("abc", 5),
    _cursor(None, "x"),
    _cursor("2026-01-01T00:00:00+00:00", 2**70),
    "bm90IGpzb24",
]


@pytest.mark.checklist(19)
async def test_odd_query_parameters_on_every_page_get_a_4xx_never_a_500(client: Any, make_user: Any) -> None:
    """Every GET page and fragment, with each of its query parameters set to values a probe would try."""
    from app.cases.events import Actor
    from app.cases.services import CaseDraft, case_create
    from tests.conftest import sign_in
    from tests.integration.test_access_matrix import fill_path

    case = (await case_create(actor=Actor.system(), draft=CaseDraft(problem_type="other"))).case
    await sign_in(client, await make_user("admin"))
    app = client._transport.app
    failures: list[str] = []
    sent = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "GET" not in handler.http_methods or route.path.startswith(("/static", "/api/", "/schema")):
                continue
            if route.path in ("/logout", "/sw.js") or "public" in handler.opt.get("roles", ()):
                continue
            url = fill_path(route.path, case)
            names = sorted(_query_names(handler, route.path))
            for value in ODD_QUERY_VALUES:
                for sort in ("amount", "-due") if "after" in names else ("",):
                    params = {**{name: value for name in names}, "sort": sort}
                    answer = await client.get(url, params=params)
                    sent += 1
                    if answer.status_code >= 500:
                        failures.append(f"{url} {params!r} -> {answer.status_code}")
    assert sent > 300
    assert not failures, sorted({failure.split(" ")[0] + " " + failure[-3:] for failure in failures})
