"""`crossclaim rules suggest FILE.json`: the engine's answer for a facts file, as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import TextIO

from app.rules.calendar import HolidayCalendar
from app.rules.engine import suggest
from app.rules.errors import FactsError
from app.rules.registry import RuleRegistry

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def run_suggest(
    path: str,
    *,
    today: date,
    out: TextIO,
    err: TextIO,
    registry: RuleRegistry | None = None,
    calendar: HolidayCalendar | None = None,
    carrier_windows: Mapping[str, int] | None = None,
) -> int:
    """Print the suggestion for the facts in `path` to `out`; on bad input explain on `err`, return 2."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except FileNotFoundError:
        err.write(f"error: {path}: no such file\n")
        return EXIT_BAD_INPUT
    except OSError as exc:
        err.write(f"error: {path}: cannot read: {exc.strerror}\n")
        return EXIT_BAD_INPUT
    except UnicodeDecodeError:
        err.write(f"error: {path}: not UTF-8 text\n")
        return EXIT_BAD_INPUT
    except json.JSONDecodeError as exc:
        err.write(f"error: {path}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}\n")
        return EXIT_BAD_INPUT
    try:
        suggestion = suggest(raw, today=today, registry=registry, calendar=calendar, carrier_windows=carrier_windows)
    except FactsError as exc:
        err.write(f"error: {path}: invalid facts\n")
        for field, message in exc.errors:
            err.write(f"  {field or '(facts)'}: {message}\n")
        return EXIT_BAD_INPUT
    json.dump(suggestion.to_dict(), out, indent=2, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK
