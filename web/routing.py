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
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from careplan.errors import InvalidInput


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


# The databases keep 64-bit integers; a larger one in a URL would reach the driver and
# fail there (a server error) instead of being refused as bad input naming its field.
INT64 = 2**63 - 1
_INTEGER = re.compile(r"[+-]?0*([0-9]+)", re.ASCII)


async def bounded_numbers(request: Request) -> None:
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        found = _INTEGER.fullmatch(value.strip()) if isinstance(value, str) else None
        if found and len(found.group(1)) > 19:  # int() refuses 4,300 digits and more
            raise InvalidInput(f"{name}: {value.strip()[:30]} is out of range", field=name)
        if found:
            _in_range(int(value), name)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return  # FastAPI answers a body that is not JSON itself, naming it
        _walk(body, "")


def _walk(value: object, path: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _walk(item, f"{path}.{n}")
    elif isinstance(value, int) and not isinstance(value, bool):
        _in_range(value, path or "body")


def _in_range(value: int, field: str) -> None:
    if abs(value) > INT64:
        raise InvalidInput(f"{field}: {str(value)[:30]} is out of range", field=field)


def router(**kwargs: Any) -> APIRouter:
    dependencies = [Depends(bounded_numbers), *kwargs.pop("dependencies", [])]
    return APIRouter(route_class=CommitRoute, dependencies=dependencies, **kwargs)
