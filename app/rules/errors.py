"""Errors of the responsibility engine: bad facts from a user, bad rule files from a deployment."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

# Python 3.11's TOMLDecodeError carries its position only in the message text.
_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)\s*$")


class RulesError(Exception):
    """Base class, so callers can catch everything the engine raises on purpose."""


class FactsError(RulesError, ValueError):
    """The facts of a case do not validate; `errors` lists (field, message) pairs for a form."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__("; ".join(f"{field or '(facts)'}: {message}" for field, message in self.errors))


class RuleFileError(RulesError):
    """A rule or holiday file cannot be used; the message starts with `path:line:` like a compiler's."""

    def __init__(self, message: str, *, path: Path | str, line: int | None = None, column: int | None = None):
        self.path = str(path)
        self.line = line
        self.column = column
        self.reason = message
        where = self.path
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")

    @classmethod
    def from_toml(cls, exc: tomllib.TOMLDecodeError, *, path: Path | str, text: str) -> RuleFileError:
        """A TOML syntax error, with the line and column tomllib reports."""
        message = str(exc)
        match = _TOML_POSITION.search(message)
        if match is None:
            return cls(f"TOML syntax error: {message}", path=path)
        reason = message[: match.start()]
        if match.group(1) is None:
            return cls(f"TOML syntax error: {reason} (at end of file)", path=path, line=max(1, len(text.splitlines())))
        return cls(f"TOML syntax error: {reason}", path=path, line=int(match.group(1)), column=int(match.group(2)))
