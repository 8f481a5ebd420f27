"""Patient guidance sheets: what goes on the sheet a member takes home, which sheets a
day's contacts need, and the record of every print.

The domain gathers the facts (in the member's language) and records prints; turning them
into a PDF is web/sheet_pdf.py's job, passed in as `render` where a batch needs it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor, get_plan, may_print_for_others, scope_members
from careplan.adherence.drug_classes import label as drug_class_label
from careplan.adherence.measured import (
    MEASURED_DAYS,
    ClassAdherence,
    classes_adherence,
    fills_by_member,
    products_by_member,
)
from careplan.adherence.pdc import Fill
from careplan.clock import local_date
from careplan.config import get_settings
from careplan.db import begin_for_writing
from careplan.errors import N_, Forbidden, InvalidInput, NotFound
from careplan.models import (
    CarePlan,
    Checkpoint,
    HealthCheck,
    Member,
    SheetBatch,
    SheetPrint,
    Staff,
    Store,
)
from careplan.plans.checkpoints import status_clause
from careplan.plans.lifecycle import OPEN_STATES, allowed_channels, protocol_of, step_of
from careplan.plans.measurements import MEASUREMENTS, Measurement
from careplan.plans.protocol_schema import Protocol, StepCommon
from careplan.vocab import BatchState, Channel, CheckpointState, CheckpointStatus, Paper, Role

LANGUAGES = ("zh", "en")
TREND_POINTS = 6  # the last six readings: enough to see a direction, short enough to read
MAX_BATCH = 500  # a store's day; more is a mistake in the request, not a day's work
# Crockford's base32 without I, L, O, U: a code read aloud over the phone stays unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

Render = Callable[[Sequence["Sheet"], Paper, Callable[[int], None]], bytes]


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


@dataclass(frozen=True)
class Reading:
    on: date
    shown: str  # "135/85" or "-2.6"
    at_this_step: bool
    values: dict[str, float]


@dataclass(frozen=True)
class Trend:
    kind: str
    title: str
    unit: str
    parts: tuple[tuple[str, str], ...]  # (component key, label) in display order
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class NextContact:
    on: date
    channel: Channel
    title: str


@dataclass(frozen=True)
class Sheet:
    """Everything printed on one member's sheet, already in the sheet's language."""

    code: str
    language: str
    checkpoint_id: int
    member_id: int
    member_name: str
    card_number: str
    allergies: tuple[str, ...]
    medicines: tuple[dict[str, str], ...]
    protocol_title: str
    step_title: str
    guidance: str
    step_number: int
    steps_total: int
    trends: tuple[Trend, ...]
    next_contact: NextContact | None
    store_name: str
    store_address: str
    store_phone: str
    staff_name: str
    staff_phone: str
    staff_role: Role
    printed_at: datetime  # in the chain's time zone
    supply: tuple[Supply, ...] = ()  # the plan's tracked medicines, from the till


@dataclass(frozen=True)
class Supply:
    """One tracked medicine class, as a member reads it: on how many of the last days
    they had it (PDC), and the day the medicine bought so far runs out."""

    title: str
    covered_days: int
    days: int  # from the first purchase in the period to today
    percent: int | None
    lasts_until: date | None  # the last day with medicine
    refill_soon: bool  # runs out within a week, or has run out


def _shown(value: float) -> str:
    return f"{value:g}"


def _reading(check: HealthCheck, m: Measurement, checkpoint_id: int) -> Reading:
    values = {c.key: float(check.values[c.key]) for c in m.components if c.key in check.values}
    local = check.measured_at.astimezone(get_settings().zone)
    return Reading(
        on=local.date(),
        shown="/".join(_shown(values[c.key]) for c in m.components if c.key in values),
        at_this_step=check.checkpoint_id == checkpoint_id,
        values=values,
    )


def _kinds(protocol: Protocol, step: StepCommon) -> tuple[str, ...]:
    """This step's measurements; where it takes none, those the whole plan follows."""
    if step.measurements:
        return step.measurements
    kinds: list[str] = []
    for s in protocol.checkpoints:
        kinds += [k for k in s.measurements if k not in kinds]
    return tuple(kinds)


def _trends(
    checks: list[HealthCheck], kinds: tuple[str, ...], cp: Checkpoint, lang: str
) -> tuple[Trend, ...]:
    out = []
    for kind in kinds:
        m = MEASUREMENTS[kind]
        rows = [c for c in checks if c.kind == kind][-TREND_POINTS:]
        if not rows:
            continue
        out.append(
            Trend(
                kind=kind,
                title=m.en if lang == "en" else m.zh,
                unit=m.unit,
                parts=tuple((c.key, c.en if lang == "en" else c.zh) for c in m.components),
                readings=tuple(_reading(r, m, cp.id) for r in rows),
            )
        )
    return tuple(out)


@dataclass
class _Loaded:
    """The rows a set of sheets needs, fetched in a handful of queries, not per sheet."""

    checkpoints: list[tuple[Checkpoint, Member]]
    checks: dict[int, list[HealthCheck]] = field(default_factory=dict)
    fills: dict[int, dict[str, list[Fill]]] = field(default_factory=dict)  # by member
    products: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # by member
    plan_steps: dict[int, list[Checkpoint]] = field(default_factory=dict)  # by plan id


def _load(session: Session, actor: Actor, ids: Sequence[int], now: datetime) -> _Loaded:
    stmt = (
        select(Checkpoint, Member)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .join(Member, CarePlan.member_id == Member.id)
        .where(Checkpoint.id.in_(ids))
    )
    found = {cp.id: (cp, m) for cp, m in session.execute(scope_members(stmt, actor))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(N_("checkpoint %(id)s not found"), field="checkpoint_id", id=missing[0])
    loaded = _Loaded([found[i] for i in ids])
    member_ids = {m.id for _, m in loaded.checkpoints if m.health_consent}
    plan_ids = {cp.plan_id for cp, _ in loaded.checkpoints}
    if member_ids:
        rows = session.scalars(
            select(HealthCheck)
            .where(HealthCheck.member_id.in_(member_ids), HealthCheck.measured_at <= now)
            .order_by(HealthCheck.measured_at, HealthCheck.id)
        )
        for row in rows:
            loaded.checks.setdefault(row.member_id, []).append(row)
        # Purchases of medicines tell of conditions: shown under the same consent.
        loaded.fills = fills_by_member(session, member_ids, until=local_date(now))
        loaded.products = products_by_member(session, member_ids, until=local_date(now))
    steps = session.scalars(
        select(Checkpoint)
        .where(Checkpoint.plan_id.in_(plan_ids))
        .where(Checkpoint.state.notin_((CheckpointState.retired, CheckpointState.cancelled)))
        .order_by(Checkpoint.seq, Checkpoint.id)
    )
    for step in steps:
        loaded.plan_steps.setdefault(step.plan_id, []).append(step)
    return loaded


def _next_contact(
    cp: Checkpoint, plan_steps: list[Checkpoint], protocol: Protocol, lang: str
) -> NextContact | None:
    later = [s for s in plan_steps if s.seq > cp.seq and s.state in OPEN_STATES]
    if not later:
        return None
    nxt = later[0]
    step = step_of(protocol, nxt.key)
    return NextContact(nxt.due_on, allowed_channels(protocol, step)[0], step.title.get(lang))


def _sheet(
    session: Session, cp: Checkpoint, member: Member, loaded: _Loaded, lang: str, now: datetime
) -> Sheet:
    protocol = protocol_of(cp.plan)
    step = step_of(protocol, cp.key)
    store = session.get_one(Store, member.home_store_id)
    staff = session.get_one(Staff, cp.assignee_id)
    steps = loaded.plan_steps.get(cp.plan_id, [])
    consent = member.health_consent
    checks = loaded.checks.get(member.id, [])
    return Sheet(
        code=new_code(),
        language=lang,
        checkpoint_id=cp.id,
        member_id=member.id,
        member_name=member.name,
        card_number=member.card_number,
        allergies=tuple(member.drug_allergies or ()) if consent else (),
        medicines=tuple(member.regular_medicines or ()) if consent else (),
        protocol_title=protocol.title.get(lang),
        step_title=step.title.get(lang),
        guidance=step.guidance.get(lang),
        step_number=1 + sum(1 for s in steps if s.seq < cp.seq),
        steps_total=len(steps),
        trends=_trends(checks, _kinds(protocol, step), cp, lang) if consent else (),
        next_contact=_next_contact(cp, steps, protocol, lang),
        store_name=store.name,
        store_address=store.address,
        store_phone=store.phone,
        staff_name=staff.name,
        staff_phone=staff.phone,
        staff_role=staff.role,
        printed_at=now.astimezone(get_settings().zone),
        supply=_supply(
            protocol,
            loaded.fills.get(member.id, {}),
            loaded.products.get(member.id, {}),
            lang,
            local_date(now),
        )
        if consent
        else (),
    )


def _supply(
    protocol: Protocol,
    fills: dict[str, list[Fill]],
    products: dict[str, list[str]],
    lang: str,
    today: date,
) -> tuple[Supply, ...]:
    """The plan's tracked classes the member has bought: a sheet shows what it knows."""
    start = today - timedelta(days=MEASURED_DAYS - 1)
    bought = [key for key in protocol.tracks if fills.get(key)]
    return tuple(
        _supply_line(a, products.get(a.drug_class, []), lang, today)
        for a in classes_adherence(bought, fills, start, today)
    )


def _supply_line(measured: ClassAdherence, products: list[str], lang: str, today: date) -> Supply:
    cover, out_on = measured.coverage, measured.runs_out_on
    # The medicines by the names on their boxes; the class only if the till gave none.
    names = "、".join(products) if lang == "zh" else ", ".join(products)
    return Supply(
        title=names or drug_class_label(measured.drug_class, lang),
        covered_days=cover.covered_days,
        days=cover.days_in_period,
        percent=None if cover.pdc is None else round(100 * cover.pdc),
        lasts_until=None if out_on is None else out_on - timedelta(days=1),
        refill_soon=out_on is not None and out_on <= today + timedelta(days=7),
    )


def _language(requested: str | None, member: Member) -> str:
    if requested is None:
        return member.language if member.language in LANGUAGES else "zh"
    if requested not in LANGUAGES:
        raise InvalidInput(N_("language must be one of %(languages)s"), field="language",
                           languages=LANGUAGES)  # fmt: skip
    return requested


def build_sheets(
    session: Session,
    actor: Actor,
    checkpoint_ids: Sequence[int],
    *,
    now: datetime,
    language: str | None = None,
) -> list[Sheet]:
    """One sheet per checkpoint, in the given order, each in its member's language
    unless `language` is given."""
    if not checkpoint_ids:
        return []
    if len(checkpoint_ids) > MAX_BATCH:
        raise InvalidInput(N_("at most %(most)s sheets at a time"), field="checkpoint_ids",
                           most=MAX_BATCH)  # fmt: skip
    loaded = _load(session, actor, checkpoint_ids, now)
    return [
        _sheet(session, cp, m, loaded, _language(language, m), now) for cp, m in loaded.checkpoints
    ]


def current_checkpoint(session: Session, actor: Actor, plan_id: int, today: date) -> Checkpoint:
    """The step a sheet printed from the member page is about: the open step the member
    is in now; else the last one done; else the first still to come."""
    plan = get_plan(session, actor, plan_id)
    steps = list(
        session.scalars(
            select(Checkpoint).where(Checkpoint.plan_id == plan.id).order_by(Checkpoint.seq)
        )
    )
    open_now = [
        s
        for s in steps
        if s.state is CheckpointState.pending
        and s.open_on <= today
        and (s.missed_on is None or s.missed_on > today)
    ]
    done = [s for s in steps if s.state is CheckpointState.done]
    upcoming = [s for s in steps if s.state in OPEN_STATES and s.open_on > today]
    for candidates in (open_now, done[-1:], upcoming):
        if candidates:
            return candidates[0]
    raise NotFound(N_("plan %(id)s has no step to print"), field="plan_id", id=plan_id)


# --- A day's contacts --------------------------------------------------------------------


def _store_in_scope(session: Session, actor: Actor, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None or not actor.may_see_store(store.id):
        raise NotFound(N_("store %(id)s not found"), field="store", id=store_id)
    return store


def _staff_in_store(session: Session, actor: Actor, staff_id: int, store: Store) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None or staff.store_id != store.id:
        raise NotFound(N_("staff %(id)s not found in store %(store)s"), field="staff", id=staff_id,
                       store=store.code)  # fmt: skip
    if actor.staff_id != staff.id and not may_print_for_others(actor):
        raise Forbidden(N_("only a manager may print a colleague's sheets"), field="staff")
    return staff


def todays_contacts(
    session: Session, actor: Actor, *, store_id: int, on: date, staff_id: int | None = None
) -> list[int]:
    """The day's contacts, in the order they are handed out: by who works them, then
    the member waiting longest first. A contact is a step open that day (due or overdue,
    not missed), or one recorded as done that day."""
    store = _store_in_scope(session, actor, store_id)
    if staff_id is not None:
        _staff_in_store(session, actor, staff_id, store)
    elif not may_print_for_others(actor):
        raise Forbidden(N_("only a manager may print the whole store's sheets"), field="staff")
    stmt = (
        select(Checkpoint.id)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .join(Member, CarePlan.member_id == Member.id)
        .where(Member.home_store_id == store.id)
        .where(
            or_(
                status_clause(CheckpointStatus.due, on),
                status_clause(CheckpointStatus.overdue, on),
                and_(Checkpoint.state == CheckpointState.done, Checkpoint.completed_on == on),
            )
        )
        .order_by(Checkpoint.assignee_id, Checkpoint.due_on, Checkpoint.id)
        .limit(MAX_BATCH + 1)
    )
    if staff_id is not None:
        stmt = stmt.where(Checkpoint.assignee_id == staff_id)
    ids = list(session.scalars(scope_members(stmt, actor)))
    if len(ids) > MAX_BATCH:
        raise InvalidInput(
            N_("more than %(most)s contacts that day: print one person's at a time"),
            field="staff",
            most=MAX_BATCH,
        )
    return ids


# --- Prints ------------------------------------------------------------------------------


def record_prints(
    session: Session,
    actor: Actor,
    sheets: Sequence[Sheet],
    *,
    paper: Paper,
    now: datetime,
    batch_id: int | None = None,
) -> list[SheetPrint]:
    """Each sheet handed out goes in its member's contact log: who printed what, when."""
    rows = [
        SheetPrint(
            code=s.code,
            member_id=s.member_id,
            checkpoint_id=s.checkpoint_id,
            batch_id=batch_id,
            printed_by_id=actor.staff_id,
            printed_at=now,
            language=s.language,
            paper=paper,
        )
        for s in sheets
    ]
    session.add_all(rows)
    session.flush()
    return rows


def find_print(session: Session, actor: Actor, code: str) -> SheetPrint:
    """The print behind the code on a sheet a member brings back."""
    wanted = code.strip().upper().replace(" ", "")
    if len(wanted) == 8:
        wanted = f"{wanted[:4]}-{wanted[4:]}"
    stmt = (
        select(SheetPrint)
        .join(Member, SheetPrint.member_id == Member.id)
        .where(SheetPrint.code == wanted)
    )
    found = session.scalar(scope_members(stmt, actor))
    if found is None:
        raise NotFound(N_("no sheet has that code"), field="code")
    return found


# --- Batches -----------------------------------------------------------------------------


def create_batch(
    session: Session,
    actor: Actor,
    *,
    store_id: int,
    on: date,
    paper: Paper,
    now: datetime,
    staff_id: int | None = None,
    contacts: Sequence[int] | None = None,
) -> SheetBatch:
    """Queue a day's contacts for the worker; `contacts` when the caller has just asked
    todays_contacts (the worker builds the sheets as the requester, scoped as ever)."""
    ids = (
        list(contacts)
        if contacts is not None
        else todays_contacts(session, actor, store_id=store_id, on=on, staff_id=staff_id)
    )
    if not ids:
        raise InvalidInput(N_("there are no contacts that day"), field="on_date")
    same = _same_request(session, actor, store_id, staff_id, on, paper, ids, now)
    if same is not None:
        return same
    batch = SheetBatch(
        requested_by_id=actor.staff_id,
        requested_at=now,
        store_id=store_id,
        staff_id=staff_id,
        on_date=on,
        paper=paper,
        checkpoint_ids=",".join(map(str, ids)),
        state=BatchState.queued,
        total=len(ids),
        updated_at=now,
    )
    session.add(batch)
    session.flush()
    return batch


# The same batch asked again by the same person this soon is the one already asked for:
# a double click (or a second tab) printed every sheet twice, each print recorded.
SAME_REQUEST_WITHIN = timedelta(seconds=30)


def _same_request(
    session: Session, actor: Actor, store_id: int, staff_id: int | None, on: date,
    paper: Paper, ids: Sequence[int], now: datetime,
) -> SheetBatch | None:  # fmt: skip
    if actor.staff_id is None:
        return None
    # The asker's row, locked: two identical requests at once take turns here
    # (PostgreSQL; SQLite's writers already do), so the second finds the first.
    session.execute(select(Staff.id).where(Staff.id == actor.staff_id).with_for_update())
    stmt = (
        select(SheetBatch)
        .where(
            SheetBatch.requested_by_id == actor.staff_id,
            SheetBatch.store_id == store_id,
            SheetBatch.staff_id.is_(None) if staff_id is None else SheetBatch.staff_id == staff_id,
            SheetBatch.on_date == on,
            SheetBatch.paper == paper,
            SheetBatch.checkpoint_ids == ",".join(map(str, ids)),
            SheetBatch.state != BatchState.failed,
            SheetBatch.requested_at >= now - SAME_REQUEST_WITHIN,
        )
        .order_by(SheetBatch.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def recent_batches(session: Session, actor: Actor, limit: int = 10) -> list[SheetBatch]:
    """The batches this person asked for, newest first."""
    stmt = (
        select(SheetBatch)
        .where(SheetBatch.requested_by_id == actor.staff_id)
        .order_by(SheetBatch.requested_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def get_batch(session: Session, actor: Actor, batch_id: int) -> SheetBatch:
    """A batch is seen by who asked for it and by those who may see its store's staff."""
    batch = session.get(SheetBatch, batch_id)
    visible = batch is not None and (
        batch.requested_by_id == actor.staff_id
        or (may_print_for_others(actor) and actor.may_see_store(batch.store_id))
    )
    if batch is None or not visible:
        raise NotFound(N_("batch %(id)s not found"), field="batch_id", id=batch_id)
    return batch


def batch_members(session: Session, batch: SheetBatch) -> list[int]:
    """The members whose sheets a batch holds (its PDF shows their health data)."""
    ids = [int(i) for i in batch.checkpoint_ids.split(",") if i]
    stmt = (
        select(CarePlan.member_id)
        .join(Checkpoint, Checkpoint.plan_id == CarePlan.id)
        .where(Checkpoint.id.in_(ids))
        .distinct()
    )
    return list(session.scalars(stmt))


def batch_pdf(session: Session, actor: Actor, batch_id: int) -> bytes:
    batch = get_batch(session, actor, batch_id)
    if batch.state is not BatchState.done or batch.pdf is None:
        raise InvalidInput(N_("the batch is not ready yet"), field="batch_id")
    return batch.pdf


# Run in the transaction that records a batch's prints, just before its commit, with
# the batch's finished values: the job marks its row done there (refusing, by raising,
# if it no longer holds it), so the prints and the mark are one commit (careplan/jobs).
Seal = Callable[[Session, dict[str, Any]], None]


def run_batch(
    factory: sessionmaker[Session],
    batch_id: int,
    render: Render,
    *,
    clock: Callable[[], datetime],
    progress: Callable[[int], None],
    seal: Seal,
) -> int:
    """Render a batch a job has claimed, reporting each sheet laid out to `progress`; the
    prints are recorded with the PDF and `seal`, in one transaction, or not at all. How
    many sheets it holds. Any failure is raised: the job decides what becomes of it."""
    with factory() as session:
        batch = session.get_one(SheetBatch, batch_id)
        requester = session.get(Staff, batch.requested_by_id) if batch.requested_by_id else None
        actor = Actor.of(requester, via="batch") if requester else Actor.system("batch")
        session.info["actor"] = actor
        ids = [int(i) for i in batch.checkpoint_ids.split(",") if i]
        paper = batch.paper
        sheets = build_sheets(session, actor, ids, now=clock())
        # End the read before the long render: progress is committed meanwhile, and
        # SQLite will not let a transaction that read an older snapshot write later.
        session.rollback()
        pdf = render(sheets, paper, progress)
        begin_for_writing(session)
        record_prints(session, actor, sheets, paper=paper, now=clock(), batch_id=batch_id)
        now = clock()
        seal(session, {"pdf": pdf, "done": len(sheets), "state": BatchState.done,
                       "updated_at": now, "finished_at": now})  # fmt: skip
        session.commit()
    return len(sheets)
