"""/api/v1/purchases — till imports, the product → drug-class mapping, measured adherence."""

from __future__ import annotations

from datetime import date

from fastapi import Request, UploadFile
from pydantic import BaseModel, Field

from careplan.adherence import drug_classes, measured
from careplan.adherence.drug_classes import MappingIn
from careplan.adherence.till_import import import_csv_committed, import_lines_committed
from careplan.periods import period
from careplan.validation import IsoDate
from web.access_log import LOOK
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(prefix="/purchases", tags=["purchases"])


class ImportOut(BaseModel):
    import_id: int
    lines: int
    added: int
    already_there: int
    encoding: str


class LinesIn(BaseModel):
    file_name: str = Field(default="api", max_length=255)
    # Rows with the CSV's column names: card_number, product_code, product_name,
    # drug_class, quantity, days_supply, purchased_on, store_code, amount.
    lines: list[dict[str, str | int | float | None]] = Field(min_length=1, max_length=50_000)


def _out(result: object) -> ImportOut:
    return ImportOut.model_validate(result, from_attributes=True)


@api.post(
    "/import",
    response_model=ImportOut,
    responses={422: {"description": "refused whole: `errors` lists each line and field"}},
)
def import_json(
    request: Request, body: LinesIn, session: DbSession, actor: CurrentActor, clock: Now
) -> ImportOut:
    """Import lines; all or none. A line already imported (same content) is not added."""
    rows = (
        (n, {k: "" if v is None else str(v).strip() for k, v in line.items()})
        for n, line in enumerate(body.lines, start=1)
    )
    session.commit()  # the import commits on its own: this request holds no lock
    result = import_lines_committed(
        request.app.state.session_factory, actor, rows, file_name=body.file_name,
        sha256="", encoding="json", today=clock.today, now=clock.now,
    )  # fmt: skip
    return _out(result)


@api.post(
    "/import.csv",
    response_model=ImportOut,
    responses={422: {"description": "refused whole: `errors` lists each line and field"}},
)
def import_file(
    request: Request, file: UploadFile, session: DbSession, actor: CurrentActor, clock: Now
) -> ImportOut:
    """The till's CSV export as a multipart upload `file` (UTF-8 or GBK); line numbers
    in the errors are the file's."""
    name = file.filename or "upload.csv"
    session.commit()  # the import commits on its own: this request holds no lock
    result = import_csv_committed(
        request.app.state.session_factory, actor, file.file, file_name=name,
        today=clock.today, now=clock.now,
    )  # fmt: skip
    return _out(result)


class ClassOut(BaseModel):
    product_code: str
    product_name: str
    drug_class: str


@api.get("/classes", response_model=list[ClassOut])
def classes(session: DbSession, actor: CurrentActor) -> list[ClassOut]:
    return [
        ClassOut.model_validate(m, from_attributes=True) for m in drug_classes.mappings(session)
    ]


class ClassIn(BaseModel):
    product_name: str = Field(default="", max_length=160)
    drug_class: str


@api.put("/classes/{product_code}", response_model=ClassOut)
def set_class(
    product_code: str, body: ClassIn, session: DbSession, actor: CurrentActor, clock: Now
) -> ClassOut:
    row = drug_classes.set_class(
        session, actor, MappingIn(product_code, body.product_name, body.drug_class), now=clock.now
    )
    return ClassOut.model_validate(row, from_attributes=True)


class GapOut(BaseModel):
    start: date
    end: date
    days: int


class AdherenceOut(BaseModel):
    drug_class: str
    pdc: float | None
    adherent: bool | None
    eligible: bool  # PQA: at least two fills on different dates
    index_on: date | None
    days_in_period: int
    covered_days: int
    gaps: list[GapOut]
    runs_out_on: date | None


@api.get("/adherence/{member_id}", response_model=list[AdherenceOut], dependencies=[LOOK])
def member_adherence(
    member_id: int,
    session: DbSession,
    actor: CurrentActor,
    clock: Now,
    start: IsoDate | None = None,
    end: IsoDate | None = None,
) -> list[AdherenceOut]:
    """PDC per tracked class over [start, end] (default: the 180 days to today)."""
    start, end = period(start, end, default_end=clock.today, days=measured.MEASURED_DAYS)
    found = measured.member_adherence(session, actor, member_id, start=start, end=end)
    return [_adherence_out(a) for a in found]


def _adherence_out(a: measured.ClassAdherence) -> AdherenceOut:
    c = a.coverage
    return AdherenceOut(
        drug_class=a.drug_class,
        pdc=c.pdc,
        adherent=c.adherent,
        eligible=c.eligible,
        index_on=c.index_on,
        days_in_period=c.days_in_period,
        covered_days=c.covered_days,
        gaps=[GapOut(start=g.start, end=g.end, days=g.days) for g in c.gaps],
        runs_out_on=a.runs_out_on,
    )
