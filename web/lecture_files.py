"""A lecture's files: the printed sign-in sheet (WeasyPrint) and an iCalendar event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from careplan.models import Lecture, LectureSeat
from careplan.vocab import SeatStatus
from web.i18n import gettext_for
from web.sheet_pdf import FONT_FAMILY, layout
from web.templating import env


def sign_in_html(lecture: Lecture, seats: Sequence[LectureSeat], language: str) -> str:
    """Registered members in name order with a column to sign; blank rows for walk-ins."""
    registered = sorted(
        (s for s in seats if s.status is SeatStatus.registered), key=lambda s: s.member.name
    )
    return env.get_template("lectures/sign_in.html").render(
        lecture=lecture,
        seats=registered,
        blank_rows=max(5, lecture.capacity - len(registered)) if registered else 10,
        lang=language,
        _=gettext_for(language),
        font_family=FONT_FAMILY,
    )


def sign_in_pdf(lecture: Lecture, seats: Sequence[LectureSeat], language: str) -> bytes:
    pdf = layout(sign_in_html(lecture, seats, language)).write_pdf()
    assert pdf is not None
    return pdf


def _ics_text(value: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newline escaped."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets continue on the next line after a space."""
    out, current = [], ""
    for char in line:
        if len((current + char).encode()) > 75:
            out.append(current)
            current = " "
        current += char
    return [*out, current]


def ics_of(lecture: Lecture, now: datetime) -> bytes:
    """One VEVENT (cancelled lectures say so, so calendars drop them)."""
    where = ", ".join(p for p in (lecture.store.name, lecture.store.address, lecture.venue) if p)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//careplan//lectures//ZH",
        "CALSCALE:GREGORIAN",
        "BEGIN:VEVENT",
        f"UID:lecture-{lecture.id}@careplan",
        f"DTSTAMP:{_ics_time(now)}",
        f"DTSTART:{_ics_time(lecture.starts_at)}",
        f"DTEND:{_ics_time(lecture.ends_at)}",
        f"SUMMARY:{_ics_text(' / '.join(filter(None, (lecture.title_zh, lecture.title_en))))}",
        f"LOCATION:{_ics_text(where)}",
        f"DESCRIPTION:{_ics_text(lecture.speaker)}",
        f"STATUS:{'CANCELLED' if lecture.status.value == 'cancelled' else 'CONFIRMED'}",
        f"SEQUENCE:{lecture.roster_version if lecture.status.value == 'cancelled' else 0}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(x for line in lines for x in _fold(line)) + "\r\n").encode()
