"""Turning pydantic's complaints into one plain message that names the field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from careplan.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


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
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return field, f"{field}: {message}"


def parse(model: type[M], data: Any) -> M:
    """Validate input for a service; the first problem becomes an InvalidInput."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, message = describe(dict(exc.errors()[0]))
        raise InvalidInput(message, field=field) from None
