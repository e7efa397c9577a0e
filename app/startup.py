"""Process wiring: the state every entry point (web app, worker, CLI) sets from the settings at start."""

from __future__ import annotations

import gc

from app.cases.events import configure_audit_key
from app.cases.hooks import on_node_entered
from app.cases.responsibility import configure_rules
from app.faults import arm_for_tests
from app.i18n import configure_company_zone
from app.queue import configure_queue
from app.rules import RuleRegistry
from app.settings import Settings
from app.tracking.policies import configure_policy
from app.tracking.services import clock_on_entry


def configure_process(settings: Settings) -> RuleRegistry:
    """Company zone, audit key, SLA policy (defaults + the admin's saved override), task queue and rules.

    The web app and the worker call this once at start, so a clock started by a web request and one
    started by a task follow the same policy; a broken company rule file stops the start here.
    """
    wire_contexts()
    configure_company_zone(settings.time_zone)
    configure_audit_key(settings.secret_key)
    configure_policy(settings.data_dir)
    configure_queue(settings)
    arm_for_tests(settings)
    return configure_rules(settings)


def wire_contexts() -> None:
    """Where a lower context tells an upper one: the handlers each registry runs (idempotent)."""
    on_node_entered(clock_on_entry)


def settle_heap() -> None:
    """Once a server process has built what it keeps (modules, route tables, compiled templates): collect
    once, then move every object left out of the garbage collector's sight (``gc.freeze``).

    Otherwise each full collection walks all of them again: 50-110 ms with the loop stopped, several times a
    minute under load, the whole of the pages' p99 (measured with gc.callbacks in the server's worker).
    Collecting first keeps garbage from being frozen for good; what is made later is collected as usual.
    """
    gc.collect()
    gc.freeze()
