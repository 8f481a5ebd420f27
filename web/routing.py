"""One decision about where a request commits: after the endpoint, before the response.

(A commit in a yield-dependency's exit may run after the response is sent, so a client
could read a 200 for a write that then fails.) Endpoints are sync and run in the pool.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session


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


def router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=CommitRoute, **kwargs)
