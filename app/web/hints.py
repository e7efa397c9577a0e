"""The responsibility hint's region as a reader sees it today, for every page that shows it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from litestar import Request

from app.accounts.roles import DESK
from app.cases import responsibility
from app.cases.responsibility import HintPanel
from app.cases.tables import Case


def today_utc() -> date:
    """The web's today: the UTC date on the server's clock (the engine itself never reads a clock)."""
    return datetime.now(UTC).date()


def hint_view(
    request: Request[Any, Any, Any],
    case: Case,
    *,
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, str] | None = None,
) -> HintPanel:
    """The hint region's content as of today; a desk user may edit it."""
    user = request.scope.get("user")
    return responsibility.hint_panel(
        case,
        today=today_utc(),
        errors=errors,
        submitted=submitted,
        can_edit=user is not None and user.role in DESK,
    )
