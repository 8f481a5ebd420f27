"""Turning pydantic's complaints into one plain message that names the field."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from careplan.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

# Never valid in text: PostgreSQL refuses to store it, SQLite would keep it.
NUL = "\x00"
NUL_MESSAGE = "contains a NUL character, which is never valid text"


def field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "(input)"


def describe(err: dict[str, Any]) -> tuple[str, str]:
    """(field, message) for one pydantic error."""
    field = field_path(tuple(err.get("loc", ())))
    kind = err.get("type", "")
    if kind == "missing":
        return field, f"{field}: required"
    if kind == "extra_forbidden":
        return field, f"{field}: unknown field"
    if "input" in err and err["input"] is None:
        return field, f"{field}: required"  # null where a value must be: as if left out
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return field, f"{field}: {message}"


def left_out(**constraints: Any) -> Any:
    """A field of a partial update that may be left out (it stays as it is) but never
    sent as null, because the record always has a value there: its type has no None, so
    null is refused naming the field. None is only the marker of "not sent", never
    validated nor stored (dump with exclude_unset or exclude_none), and the schema shows
    no default, so clients are not told null is a value."""
    return Field(default=None, json_schema_extra=_no_default, **constraints)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def is_whole_number(text: str, *, longest: int = 18) -> bool:
    """ASCII digits only, at most `longest` of them. str.isdigit() also says yes to "²",
    which int() refuses, and to "٣", which int() reads as 3; and int() refuses more than
    4,300 digits (the database keeps 64-bit integers anyway)."""
    return text.isascii() and text.isdigit() and len(text) <= longest


def whole_number(text: str, field: str, message: str = "must be a whole number") -> int:
    """`text` as an int, or refused naming `field`."""
    if not is_whole_number(text):
        raise InvalidInput(message, field=field)
    return int(text)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _iso_date(value: Any) -> Any:
    # Pydantic also reads a number, or a string of digits, as seconds since 1970: a
    # period "from 0" was 1970-01-01. A date is asked for as YYYY-MM-DD only.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("not a date (YYYY-MM-DD)")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def parse(model: type[M], data: Any) -> M:
    """Validate input for a service; the first problem becomes an InvalidInput."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, message = describe(dict(exc.errors()[0]))
        raise InvalidInput(message, field=field) from None
