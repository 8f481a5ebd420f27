"""How the processes log: one JSON object per line (or plain text at a terminal), and the
request id that every line logged during a request carries.

The id lives in a context variable: the web side sets it when a request comes in
(web/request_id.py), and whatever logs while that request runs (a route, the domain, the
database layer, the server's own error line) is stamped with it, with no argument
handed down. A job consumer can set it the same way for the job it runs.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]

_request_id: ContextVar[str | None] = ContextVar("careplan_request_id", default=None)

# The attributes every LogRecord has; anything else on a record came as `extra=` and is
# written as a field of its own (method, path, status, duration_ms on access lines).
# uvicorn's color_message is its message again with terminal colours: not for a file.
_STANDARD = frozenset(
    logging.LogRecord("x", logging.INFO, __file__, 0, "", None, None).__dict__
) | {"message", "asctime", "request_id", "rid", "color_message"}


def set_request_id(value: str) -> None:
    """This request's id, for every line logged until the request's task ends.

    Never reset: each request runs in a task (and worker threads) of its own, whose
    context ends with it, and Starlette's last-resort error handler logs after every
    middleware has returned, which must still see the id."""
    _request_id.set(value)


def current_request_id() -> str | None:
    return _request_id.get()


def _request_id_of(record: logging.LogRecord) -> str | None:
    given = record.__dict__.get("request_id")
    return given if isinstance(given, str) else current_request_id()


class JsonFormatter(logging.Formatter):
    """time (UTC), level, logger, message, pid, request_id, any extras, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = _request_id_of(record)
        if rid is not None:
            line["request_id"] = rid
        line |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # ensure_ascii=False: a Chinese message stays readable in the log.
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a developer's terminal (`make run`): one readable line, the id in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(rid)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.rid = _request_id_of(record) or "-"
        return super().format(record)


def dict_config(style: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A logging.config.dictConfig for a server process: every logger (the server's own
    included) writes through one handler to stderr in `style`. The server's access log is
    silenced: web/request_log.py writes one line per request instead."""
    formatter = {"json": JsonFormatter, "text": TextFormatter}[style]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's loggers pass their lines up to ours instead of their own handlers.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False},
            # Chatter at INFO: the font subsetter a line per table of a sheet's PDF,
            # alembic two lines each time /healthz reads the schema's revision.
            "fontTools": {"level": "WARNING"},
            "weasyprint": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},
        },
    }
