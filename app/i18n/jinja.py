"""The templates' side of languages: gettext callables and the locale filters installed on an environment."""

from __future__ import annotations

from jinja2 import Environment

from app.i18n.catalog import gettext, ngettext, npgettext, pgettext
from app.i18n.formats import format_day, format_money, format_number, local_time_filter, zone_filter
from app.i18n.labels import actor_name, change_label, label, recorded, rule_text


def install(environment: Environment) -> None:
    """gettext, pgettext and the locale filters for the app's templates."""
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
    environment.filters.update(
        local_time=local_time_filter,
        zone_name=zone_filter,
        day=format_day,
        number=format_number,
        money=format_money,
        label=label,
        change_label=change_label,
        actor_name=actor_name,
        recorded=recorded,
        rule_text=rule_text,
    )
