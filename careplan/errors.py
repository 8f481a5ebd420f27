"""Domain errors: each names the field at fault so every caller can say it plainly."""

from __future__ import annotations

from typing import Any


class CareplanError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def text(self) -> str:
        """The message, led by the field it is about: `mobile: not a mobile number`."""
        if self.field and not self.message.startswith(self.field):
            return f"{self.field}: {self.message}"
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.text, "field": self.field}


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
