"""The audit's query string, shared by the pages and /api/v1/audit.

Values arrive as text and are parsed here, so an empty form field means "not given"
and a bad one is refused naming its field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from careplan import csv_export
from careplan.access import Actor
from careplan.audit import audit
from careplan.errors import N_, InvalidInput
from careplan.plans.lifecycle import StepTitle
from careplan.plans.protocol_schema import Text
from careplan.validation import whole_number
from web.labels import label_of
from web.templating import step_name

PAGE_SIZE = 50


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _int(value: str | None, field: str) -> int | None:
    value = _text(value)
    if value is None:
        return None
    return whole_number(value, field)


def _date(value: str | None, field: str) -> date | None:
    value = _text(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("must be a date (YYYY-MM-DD)"), field=field) from None


@dataclass(frozen=True)
class AuditParams:
    region: str | None = None
    store_id: int | None = None
    staff_id: int | None = None
    as_of: date | None = None
    period_from: date | None = None
    period_to: date | None = None
    protocol_id: str | None = None

    def query(self, session: Session, actor: Actor, today: date) -> audit.AuditQuery:
        scope = audit.resolve_scope(
            session, actor, region=self.region, store_id=self.store_id, staff_id=self.staff_id
        )
        return audit.make_query(
            scope,
            today=today,
            as_of=self.as_of,
            period_from=self.period_from,
            period_to=self.period_to,
            protocol_id=self.protocol_id,
        )


Param = Annotated[str | None, Query(max_length=64)]


def audit_params(
    region: Param = None,
    store_id: Param = None,
    staff_id: Param = None,
    as_of: Param = None,
    period_from: Param = None,
    period_to: Param = None,
    protocol_id: Param = None,
) -> AuditParams:
    return AuditParams(
        region=_text(region),
        store_id=_int(store_id, "store_id"),
        staff_id=_int(staff_id, "staff_id"),
        as_of=_date(as_of, "as_of"),
        period_from=_date(period_from, "period_from"),
        period_to=_date(period_to, "period_to"),
        protocol_id=_text(protocol_id),
    )


@dataclass(frozen=True)
class StepParams:
    status: audit.ListStatus = "overdue"
    bucket: str | None = None
    step_key: str | None = None
    page: int = 1

    @property
    def filter(self) -> audit.StepFilter:
        return audit.StepFilter(status=self.status, bucket=self.bucket, step_key=self.step_key)


def step_params(
    status: Param = None, bucket: Param = None, step_key: Param = None, page: Param = None
) -> StepParams:
    wanted = _text(status) or "overdue"
    if wanted not in ("overdue", "missed", "due"):
        raise InvalidInput(N_("must be overdue, missed or due"), field="status")
    if bucket := _text(bucket):
        audit.bucket_of(bucket)
    number = _int(page, "page") or 1
    if not 1 <= number <= 100_000:
        raise InvalidInput(N_("must be 1 or more"), field="page")
    return StepParams(wanted, bucket, _text(step_key), number)  # type: ignore[arg-type]


Audit = Annotated[AuditParams, Depends(audit_params)]
Steps = Annotated[StepParams, Depends(step_params)]


def disposition(filename: str, *, inline: bool = False) -> str:
    """A download's Content-Disposition. The name goes as RFC 6266's UTF-8 `filename*`:
    headers are Latin-1, and a name with a region (华东) or a member's name in it raised
    in the server instead of downloading."""
    return f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(filename)}"


def csv_response(filename: str, lines: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": disposition(filename),
            "Cache-Control": "no-store",
        },
    )


Rows = Callable[[Iterable[Iterable[object]]], Iterable[Iterable[object]]]


def streamed_steps(
    factory: sessionmaker[Session],
    actor: Actor,
    q: audit.AuditQuery,
    f: audit.StepFilter,
    header: list[str],
    readable: Rows | None = None,
) -> Iterator[str]:
    """Every step as CSV, read by a session of its own: the response outlives the
    request's session, and the rows are fetched in chunks while they are sent."""
    with factory() as session:
        session.info["actor"] = actor
        rows: Iterable[Iterable[object]] = audit.step_rows(session, actor, q, f)
        yield from csv_export.csv_lines(header, readable(rows) if readable else rows)


# The pages' CSVs are for people: each id is followed by its name in the reader's
# language, and outcomes are words. The API's CSVs keep ids and codes alone.
READABLE_STEP_FIELDS = [
    *audit.STEP_FIELDS[: audit.STEP_FIELDS.index("step_key") + 1],
    "protocol",
    "step",
    *audit.STEP_FIELDS[audit.STEP_FIELDS.index("step_key") + 1 :],
]
READABLE_BY_STEP_FIELDS = ["protocol_id", "step_key", "protocol", "step",
                           *audit.BY_STEP_FIELDS[2:]]  # fmt: skip


def _in(value: Text | None, language: str) -> str:
    return value.get(language) if value is not None else ""


def _step_in(value: StepTitle | None, language: str) -> str:
    return step_name(value, language) if value is not None else ""


def readable_steps(names: audit.Names, language: str, _: Callable[..., str]) -> Rows:
    at = audit.STEP_FIELDS.index
    at_protocol, at_step, at_outcome = at("protocol_id"), at("step_key"), at("outcome")

    def rows(found: Iterable[Iterable[object]]) -> Iterator[list[object]]:
        for row in found:
            r = list(row)
            pid, key, outcome = str(r[at_protocol]), str(r[at_step]), str(r[at_outcome])
            r[at_outcome] = _(label_of(outcome, "AuditOutcome") or outcome)
            r[at_step + 1 : at_step + 1] = [
                _in(names.protocol(pid), language), _step_in(names.step(pid, key), language)
            ]  # fmt: skip
            yield r

    return rows


def readable_by_step_csv(
    session: Session, q: audit.AuditQuery, header: list[str], language: str
) -> StreamingResponse:
    rows = (
        [x.protocol_id, x.key, _in(x.protocol_title, language), _step_in(x.step_title, language),
         *x.overdue, x.total]
        for x in audit.by_step(session, q)
    )  # fmt: skip
    return csv_response(filename(q, "by-step"), csv_export.csv_lines(header, rows))


def report_csv(r: audit.Report, header: list[str]) -> StreamingResponse:
    rows = (audit.row_values(x) for x in r.rows)
    return csv_response(filename(r.query, "report"), csv_export.csv_lines(header, rows))


def by_step_csv(session: Session, q: audit.AuditQuery, header: list[str]) -> StreamingResponse:
    rows = (audit.by_step_values(x) for x in audit.by_step(session, q))
    return csv_response(filename(q, "by-step"), csv_export.csv_lines(header, rows))


def filename(q: audit.AuditQuery, what: str) -> str:
    s = q.scope
    where = {
        "chain": "chain",
        "region": "region",
        "store": s.store_code,
        "staff": f"staff{s.staff_id}",
    }
    return f"audit-{what}-{where[s.level]}-{q.as_of.isoformat()}.csv"
