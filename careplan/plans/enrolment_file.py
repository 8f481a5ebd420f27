"""Bulk enrolment from a CSV file (after a screening day: every member who agreed, at once).

Columns: card_number, protocol, start (YYYY-MM-DD). All lines or none: a bad line is
named with its number and field, and a process killed part-way leaves no plan behind,
because the whole file is one transaction.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, scope_members
from careplan.csv_records import BadRecord, records
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.models import Member
from careplan.plans import lifecycle

COLUMNS = ("card_number", "protocol", "start")
PROGRESS_EVERY = 50


@dataclass(frozen=True)
class EnrolmentLine:
    line: int
    card_number: str
    protocol: str
    start: date


def read_lines(text: str) -> list[EnrolmentLine]:
    rows = records(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] = []
    try:
        header = next(rows, (1, []))[1]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise InvalidInput(N_("%(column)s (line 1): the header lacks %(missing)s"),
                               field=missing[0], column=missing[0], missing=missing)  # fmt: skip
        # A short line's missing cells are empty, as they are in csv.DictReader.
        lines = [_line(n, dict(zip(header, row, strict=False))) for n, row in rows if row]
    except BadRecord as bad:
        column = header[bad.column].strip() if bad.column < len(header) else "file"
        raise InvalidInput(N_("%(column)s (line %(line)s): %(problem)s"), field=column,
                           column=column, line=bad.line, problem=bad.message) from None  # fmt: skip
    if not lines:
        raise InvalidInput(N_("the file has no lines to enrol"), field="file")
    return lines


def _line(n: int, row: dict[str, str]) -> EnrolmentLine:
    values = {c: (row.get(c) or "").strip() for c in COLUMNS}
    for column in COLUMNS:
        if not values[column]:
            raise InvalidInput(N_("%(column)s (line %(line)s): required"), field=column,
                               column=column, line=n)  # fmt: skip
    try:
        start = date.fromisoformat(values["start"])
    except ValueError:
        raise InvalidInput(
            N_("start (line %(line)s): '%(value)s' is not a date (YYYY-MM-DD)"),
            field="start",
            line=n,
            value=values["start"],
        ) from None
    return EnrolmentLine(n, values["card_number"], values["protocol"], start)


def enroll_lines(
    session: Session,
    actor: Actor,
    lines: list[EnrolmentLine],
    *,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Enrol every line in the caller's transaction; the new plans' ids."""
    cards = {line.card_number for line in lines}
    visible = scope_members(select(Member.card_number, Member.id), actor)
    found = {card: i for card, i in session.execute(visible.where(Member.card_number.in_(cards)))}
    plan_ids = []
    for n, line in enumerate(lines, start=1):
        plan_ids.append(_enrol(session, actor, line, found, today=today, now=now))
        if progress is not None and (n % PROGRESS_EVERY == 0 or n == len(lines)):
            progress(n)
    return plan_ids


def _enrol(
    session: Session,
    actor: Actor,
    line: EnrolmentLine,
    members: dict[str, int],
    *,
    today: date,
    now: datetime,
) -> int:
    member_id = members.get(line.card_number)
    if member_id is None:
        raise InvalidInput(
            N_("card_number (line %(line)s): no member with card '%(card)s'"),
            field="card_number",
            line=line.line,
            card=line.card_number,
        )
    try:
        plan = lifecycle.enroll(session, actor, member_id=member_id, protocol_id=line.protocol,
                            start=line.start, today=today, now=now)  # fmt: skip
    except CareplanError as exc:
        raise type(exc)(
            N_("%(column)s (line %(line)s): %(problem)s"),
            field=exc.field,
            column=exc.field or "",
            line=line.line,
            problem=exc.english,
        ) from None
    return plan.id
