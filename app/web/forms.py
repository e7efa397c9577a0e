"""Posted forms read into dataclasses: the body marker the handlers share, and a repeated field as a list."""

from __future__ import annotations

from litestar.enums import RequestEncodingType
from litestar.params import Body

# `data: Annotated[SomeForm, FORM]`: the fields are read and typed before the handler runs; a field of the
# wrong shape is a 422 naming it (app/web/errors.py `validation_error`), never a 500.
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)

# A field a form may send more than once (ticked boxes, a table's rows): declare it `Several`, read it `several()`.
Several = str | list[str]


def several(value: Several) -> list[str]:
    """A field that may be sent more than once: Litestar hands one value as a string, several as a list."""
    return [value] if isinstance(value, str) else value
