"""What a server process does once at start: every template compiled, then the heap settled."""

import gc
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, TemplateSyntaxError

from app.startup import settle_heap
from app.templating import TEMPLATES, compile_all, template_environment


def test_every_template_is_compiled_at_start() -> None:
    environment = template_environment()
    on_disk = {str(path.relative_to(TEMPLATES)) for path in Path(TEMPLATES).rglob("*") if path.is_file()}
    assert compile_all(environment) == len(on_disk) > 50
    # Compiled now: a request later finds each in the environment's cache.
    assert environment.cache is not None
    assert {name for _, name in environment.cache.keys()} == on_disk


def test_a_template_that_does_not_parse_stops_the_start_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "good.html").write_text("<p>{{ name }}</p>")
    (tmp_path / "broken.html").write_text("<p>{% if %}</p>")
    with pytest.raises(TemplateSyntaxError) as refused:
        compile_all(Environment(loader=FileSystemLoader(tmp_path)))
    assert refused.value.name == "broken.html"


def test_the_settled_heap_is_out_of_the_collectors_sight() -> None:
    """A full collection then walks only what was made since: here a fraction of what the start built."""
    import app.asgi  # noqa: F401 - what a server process holds before its first request

    before = len(gc.get_objects())
    try:
        settle_heap()
        assert gc.get_freeze_count() >= before // 2
        assert len(gc.get_objects()) < before // 10
        # Garbage is still collected afterwards.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
