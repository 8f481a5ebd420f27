"""One decision about where a request commits: after the endpoint, before the response.

(A commit in a yield-dependency's exit may run after the response is sent, so a client
could read a 200 for a write that then fails.) Endpoints are sync and run in the pool.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from careplan.errors import N_, InvalidInput
from careplan.validation import NUL, NUL_MESSAGE


def _committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: careplan endpoints are sync (sessions are sync)")

    @functools.wraps(endpoint)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                value.commit()
                break
        return result

    return wrapped


class CommitRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _committing(endpoint), **kwargs)


# What no endpoint can take, refused naming its field before any endpoint runs (checked
# once here, for every route, rather than in each model):
# - an integer beyond the databases' 64 bits, which would reach the driver and fail
#   there, a server error;
# - a NUL character in text, never valid and refused by PostgreSQL (a server error),
#   stored by SQLite. Uploaded files are read by the import, which names the bad line.
INT64 = 2**63 - 1
_INTEGER = re.compile(r"[+-]?0*([0-9]+)", re.ASCII)
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def checked_input(request: Request) -> None:
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if isinstance(value, str):
            _text(value, name)
            _integer_text(value, name)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return  # FastAPI answers a body that is not JSON itself, naming it
        _walk(body, "")
    elif content_type.startswith(_FORMS):
        for name, value in (await request.form()).multi_items():  # read once, kept
            if isinstance(value, str):
                _text(value, name)


def _walk(value: object, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            _text(str(key), where)
            _walk(item, where)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _walk(item, f"{path}.{n}")
    elif isinstance(value, str):
        _text(value, path or "body")
    elif isinstance(value, int) and not isinstance(value, bool):
        _in_range(value, path or "body")


def _text(value: str, field: str) -> None:
    if NUL in value:
        raise InvalidInput(NUL_MESSAGE, field=field)


def _integer_text(value: str, field: str) -> None:
    found = _INTEGER.fullmatch(value.strip())
    if found and len(found.group(1)) > 19:  # int() refuses 4,300 digits and more
        raise InvalidInput(N_("%(value)s is out of range"), field=field, value=value.strip()[:30])
    if found:
        _in_range(int(value), field)


def _in_range(value: int, field: str) -> None:
    if abs(value) > INT64:
        raise InvalidInput(N_("%(value)s is out of range"), field=field, value=str(value)[:30])


# Marks on an endpoint that the request's dependencies read (request.scope["endpoint"] is
# the routed endpoint, and functools.wraps carries the marks through CommitRoute).
READS_FIRST = "careplan_reads_first"
ANONYMOUS_FORM = "careplan_anonymous_form"

E = TypeVar("E", bound=Callable[..., Any])


def reads_first(endpoint: E) -> E:
    """A write that does slow work (laying out a PDF) before it writes: its transaction
    starts as a read, and takes the write lock only when the slow part is done
    (careplan.db.begin_writing_after_reads), so SQLite's other writers need not wait."""
    setattr(endpoint, READS_FIRST, True)
    return endpoint


def anonymous_form(endpoint: E) -> E:
    """A form posted before sign-in (sign-in, language): its CSRF token is the anonymous
    cookie's. Every other form must carry the signed-in session's token."""
    setattr(endpoint, ANONYMOUS_FORM, True)
    return endpoint


def marked(request: Request, mark: str) -> bool:
    return bool(getattr(request.scope.get("endpoint"), mark, False))


def router(**kwargs: Any) -> APIRouter:
    dependencies = [Depends(checked_input), *kwargs.pop("dependencies", [])]
    return APIRouter(route_class=CommitRoute, dependencies=dependencies, **kwargs)
