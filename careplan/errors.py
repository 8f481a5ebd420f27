"""Domain errors: each names the field at fault and carries its message as a key and
parameters, so every caller can say it plainly in the reader's language.

The key is an English template with named parameters, the message id of the Babel
catalogues (`"card number %(card)s is already registered"`, card="T100"): the API
answers in English with the key and parameters beside it, a page translates the key and
fills in the parameters. A message is therefore always a literal, never an f-string.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


def N_(message: str) -> str:
    """Marks a message template for the catalogues: every refusal's key is written
    `N_("...")` where it is raised, so `make messages` finds it."""
    return message


class InvalidValue(ValueError):
    """A pydantic validator's refusal (pydantic wraps only ValueError): a key and its
    parameters, which validation.parse carries into the InvalidInput it raises. `field`
    names the field when a model validator, which has no field of its own, refuses."""

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        self.message, self.field, self.params = message, field, params
        english = message % {k: said(v) for k, v in params.items()} if params else message
        super().__init__(f"{field}: {english}" if field else english)


class CareplanError(Exception):
    """Base of every error the domain raises on purpose."""

    # Set once the refusal is written in a history (a refused till import's), so the
    # callers it is raised on through do not write it twice.
    recorded = False

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message  # the key: an English template
        self.field = field
        self.params = params

    def __str__(self) -> str:
        return self.english

    @property
    def english(self) -> str:
        if not self.params:
            return self.message
        return self.message % {k: said(v) for k, v in self.params.items()}

    @property
    def text(self) -> str:
        """The message, led by the field it is about: `mobile: not a mobile number`."""
        english = self.english
        if self.field and not english.startswith(self.field):
            return f"{self.field}: {english}"
        return english

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.text,
            "field": self.field,
            "key": self.message,
            "params": {k: _plain(v) for k, v in self.params.items()},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def said(value: Any) -> Any:
    """A parameter in an English sentence: a list as "a, b", an enum as its value."""
    if isinstance(value, list | tuple):
        return ", ".join(str(said(v)) for v in value)
    return str(value) if isinstance(value, StrEnum) else value


class InvalidInput(CareplanError):
    """The input breaks a rule; nothing was written."""


class NotFound(CareplanError):
    """Missing, or not visible to this user (we never say which)."""


class Forbidden(CareplanError):
    """Visible, but this role may not do that."""


class Conflict(CareplanError):
    """The request clashes with the current state (duplicate plan, closed step...)."""


class StaleVersion(Conflict):
    """Somebody changed the record since it was read; carries what it is now."""

    def __init__(self, message: str, *, current: dict[str, Any]) -> None:
        super().__init__(message, field="version")
        self.current = current

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "current": self.current}
