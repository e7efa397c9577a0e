"""What the company's ledgers mean by their own words: a file's value mapped once is read so every time."""

from piccolo.columns import Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class ImportValueMap(Table):
    id: Serial  # Piccolo adds the primary key; declared so type checkers know it
    # "<field>:<value as written>", the natural key imports upsert on.
    key = Varchar(length=260, unique=True)
    field = Varchar(length=40)
    value = Varchar(length=200)
    code = Varchar(length=40)
    updated_at = Timestamptz(default=TimestamptzNow())
