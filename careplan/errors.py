"""Domain errors: each names the field at fault and carries its message as a key and
parameters, so every caller can say it plainly in the reader's language.

The key is an English template with named parameters, the message id of the Babel
catalogues (`"card number %(card)s is already registered"`, card="T100"): the API
answers in English with the key and parameters beside it, a page translates the key and
fills in the parameters. A message is therefore always a literal, never an f-string.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Marks a message template for the catalogues where it is not raised directly."""
    return message


class CareplanError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message  # the key: an English template
        self.field = field
        self.params = params

    @property
    def english(self) -> str:
        return self.message % self.params if self.params else self.message

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
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


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
