"""Turning pydantic's complaints into one plain message that names the field."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from careplan.errors import N_, InvalidInput, InvalidValue

M = TypeVar("M", bound=BaseModel)

# Never valid in text: PostgreSQL refuses to store it, SQLite would keep it.
NUL = "\x00"
NUL_MESSAGE = N_("contains a NUL character, which is never valid text")


def field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "(input)"


# Pydantic's own words name its internals ("String should match pattern '^1[3-9]...'"):
# each error type is said as one catalogue key, with only the bounds a person needs.
_BY_TYPE: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing": (N_("required"), ()),
    "extra_forbidden": (N_("unknown field"), ()),
    "string_too_long": (N_("at most %(max_length)s characters"), ("max_length",)),
    "string_pattern_mismatch": (N_("not in the expected form"), ()),
    "string_type": (N_("must be text"), ()),
    "string_unicode": (N_("must be text"), ()),
    "int_parsing": (N_("must be a whole number"), ()),
    "int_type": (N_("must be a whole number"), ()),
    "int_from_float": (N_("must be a whole number"), ()),
    "int_parsing_size": (N_("must be a whole number"), ()),
    "float_parsing": (N_("must be a number"), ()),
    "float_type": (N_("must be a number"), ()),
    "decimal_parsing": (N_("must be a number"), ()),
    "decimal_type": (N_("must be a number"), ()),
    "finite_number": (N_("must be a number"), ()),
    "decimal_max_places": (N_("at most %(decimal_places)s decimals"), ("decimal_places",)),
    "decimal_max_digits": (N_("at most %(max_digits)s digits"), ("max_digits",)),
    "decimal_whole_digits": (N_("at most %(whole_digits)s digits before the point"),
                             ("whole_digits",)),
    "greater_than_equal": (N_("must be %(ge)s or more"), ("ge",)),
    "greater_than": (N_("must be more than %(gt)s"), ("gt",)),
    "less_than_equal": (N_("must be %(le)s or less"), ("le",)),
    "less_than": (N_("must be less than %(lt)s"), ("lt",)),
    "enum": (N_("choose a value from the list"), ()),
    "literal_error": (N_("choose a value from the list"), ()),
    "bool_parsing": (N_("must be yes or no"), ()),
    "bool_type": (N_("must be yes or no"), ()),
    "date_parsing": (N_("not a date (YYYY-MM-DD)"), ()),
    "date_type": (N_("not a date (YYYY-MM-DD)"), ()),
    "date_from_datetime_parsing": (N_("not a date (YYYY-MM-DD)"), ()),
    "date_from_datetime_inexact": (N_("not a date (YYYY-MM-DD)"), ()),
    "datetime_parsing": (N_("not a date and time"), ()),
    "datetime_type": (N_("not a date and time"), ()),
    "datetime_from_date_parsing": (N_("not a date and time"), ()),
    "datetime_object_invalid": (N_("not a date and time"), ()),
    "timezone_aware": (N_("give a time zone (e.g. +08:00)"), ()),
    "list_type": (N_("must be a list"), ()),
    "too_short": (N_("at least %(min_length)s items"), ("min_length",)),
    "too_long": (N_("at most %(max_length)s items"), ("max_length",)),
    "json_invalid": (N_("not valid JSON"), ()),
}


# What a value of the form asks for, said for the fields that have one (the pattern
# itself is for programmers).
_FORM_OF: dict[str, str] = {
    "card_number": N_("letters, digits and hyphens only"),
    "landline": N_("digits, spaces and + - ( ) only"),
    "username": N_("letters, digits and . _ - only"),
}


def refusal(err: dict[str, Any]) -> InvalidInput:
    """One pydantic error as a refusal naming the field, with a catalogue key."""
    field = field_path(tuple(err.get("loc", ())))
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, InvalidValue):  # ours: a model validator may name a field within
        inner = ".".join(p for p in (field.removeprefix("(input)"), cause.field) if p)
        return InvalidInput(cause.message, field=inner or field, **cause.params)
    if kind == "missing" or ("input" in err and err["input"] is None):
        return InvalidInput(N_("required"), field=field)  # null where a value must be
    if kind == "string_too_short":
        if ctx.get("min_length", 1) <= 1:
            return InvalidInput(N_("required"), field=field)
        return InvalidInput(N_("at least %(min_length)s characters"), field=field,
                            min_length=ctx["min_length"])  # fmt: skip
    if kind == "string_pattern_mismatch" and field in _FORM_OF:
        return InvalidInput(_FORM_OF[field], field=field)
    key, names = _BY_TYPE.get(kind, (N_("not valid"), ()))
    return InvalidInput(key, field=field, **{n: ctx[n] for n in names if n in ctx})


def describe(err: dict[str, Any]) -> tuple[str, str]:
    """(field, English message) for one pydantic error."""
    refused = refusal(err)
    return refused.field or "(input)", refused.text


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


def whole_number(text: str, field: str, message: str = N_("must be a whole number")) -> int:
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
        raise InvalidValue(N_("not a date (YYYY-MM-DD)"))
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def parse(model: type[M], data: Any) -> M:
    """Validate input for a service; the first problem becomes an InvalidInput."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise refusal(dict(exc.errors()[0])) from None
