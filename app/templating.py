"""The Jinja environment every page, fragment, mail and PDF is rendered with: the web app and the worker make it."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app import i18n
from app.accounts.roles import CLAIM_FIGURES
from app.cases.taxonomy import REMEDIES
from app.i18n import LANGUAGES, current_language

TEMPLATES = Path(__file__).resolve().parent / "templates"


def template_environment() -> Environment:
    """A fresh environment: autoescaped, translated, with the language switch's globals."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the code and change only with a restart: no stat() of each file per render.
        auto_reload=False,
    )
    i18n.install(environment)
    # claim_figures: the roles that read claim amounts (warehouse staff do not); remedy_names: the remedies in words.
    environment.globals.update(
        languages=LANGUAGES,
        current_language=current_language.get,
        claim_figures=CLAIM_FIGURES,
        remedy_names=REMEDIES,
    )
    return environment


def compile_all(environment: Environment) -> int:
    """Compile every template now, at start, rather than at each one's first request; a template that does
    not parse stops the start with its name. Returns how many there are."""
    names = environment.list_templates(filter_func=lambda name: not name.startswith("."))
    for name in names:
        environment.get_template(name)
    return len(names)
