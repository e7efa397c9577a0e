"""Evidence files: append-only, each kept by the SHA-256 of its original bytes."""

from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.cases.tables import Case


class Evidence(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    case = ForeignKey(Case, null=False, on_delete=OnDelete.restrict)
    sha256 = Varchar(length=64, index=True)
    original_key = Varchar(length=200, default="")
    web_key = Varchar(length=200, default="")
    thumb_key = Varchar(length=200, default="")
    media_type = Varchar(length=80, default="")
    web_media_type = Varchar(length=80, default="")
    kind = Varchar(length=20, default="image")
    size = Integer(default=0)
    width = Integer(null=True, default=None)
    height = Integer(null=True, default=None)
    captured_at = Varchar(length=32, default="")
    filename = Varchar(length=200, default="")
    party = Varchar(length=20, default="us")
    uploaded_by = Varchar(length=200, default="")
    uploaded_at = Timestamptz(default=TimestamptzNow())
    status = Varchar(length=20, default="ok")
    status_reason = Text(default="")
    # Which item of the problem type's evidence checklist this file shows (app.rules EVIDENCE names).
    covers = Varchar(length=40, default="")
