"""Measured adherence: PDC per member and tracked drug class from their purchases, the
refill steps that follow the supply, and the chain's view (share below 80%, lapsed).

A purchase's class is the managers' mapping for its product (product_classes) when there
is one, else the class the till wrote on the line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import groupby

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member, scope_members
from careplan.adherence.pdc import Coverage, Fill, coverage, is_adherent, runs_out_on
from careplan.models import (
    CarePlan,
    Checkpoint,
    Member,
    ProductClass,
    Purchase,
)
from careplan.plans.contacts import last_contacts
from careplan.plans.lifecycle import protocol_of, shift_checkpoint
from careplan.plans.protocol_schema import Protocol
from careplan.plans.protocols import definitions_by_version
from careplan.vocab import CheckpointState, PlanStatus


def class_column() -> ColumnElement[str | None]:
    """The class of a purchase: the mapping's, else the till's (join ProductClass)."""
    return func.coalesce(ProductClass.drug_class, Purchase.drug_class)


def fills_by_member(
    session: Session,
    member_ids: Iterable[int],
    *,
    since: date | None = None,
    until: date | None = None,
) -> dict[int, dict[str, list[Fill]]]:
    """Member → class → fills, read a thousand members a statement (index
    ix_purchases_member_date). Lines without days' supply cannot be counted."""
    found: dict[int, dict[str, list[Fill]]] = defaultdict(lambda: defaultdict(list))
    ids = sorted(set(member_ids))
    for i in range(0, len(ids), 1000):
        stmt = (
            select(Purchase.member_id, class_column(), Purchase.purchased_on, Purchase.days_supply)
            .outerjoin(ProductClass, ProductClass.product_code == Purchase.product_code)
            .where(Purchase.member_id.in_(ids[i : i + 1000]), Purchase.days_supply.is_not(None))
        )
        if since is not None:
            stmt = stmt.where(Purchase.purchased_on >= since)
        if until is not None:
            stmt = stmt.where(Purchase.purchased_on <= until)
        for member_id, drug_class, on, days in session.execute(stmt):
            if drug_class and days is not None:  # never None: the query keeps known supplies
                found[member_id][drug_class].append(Fill(on, days))
    return found


def products_by_member(
    session: Session, member_ids: Iterable[int], *, until: date | None = None
) -> dict[int, dict[str, list[str]]]:
    """Member → class → the names of the products bought in it, the latest first: what
    a member reads on their sheet ("氨氯地平片"), not the class ("钙通道阻滞剂")."""
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    ids = sorted(set(member_ids))
    for i in range(0, len(ids), 1000):
        stmt = (
            select(Purchase.member_id, class_column(), Purchase.product_name)
            .outerjoin(ProductClass, ProductClass.product_code == Purchase.product_code)
            .where(Purchase.member_id.in_(ids[i : i + 1000]))
            .order_by(Purchase.purchased_on.desc(), Purchase.id.desc())
        )
        if until is not None:
            stmt = stmt.where(Purchase.purchased_on <= until)
        for member_id, drug_class, name in session.execute(stmt):
            names = found[member_id][drug_class] if drug_class else None
            if names is not None and name and name not in names:
                names.append(name)
    return found


def tracked_classes(plans: Iterable[CarePlan]) -> set[str]:
    """The classes the active plans' protocol versions track."""
    return {
        key
        for plan in plans
        if plan.status is PlanStatus.active
        for key in protocol_of(plan).tracks
    }


MEASURED_DAYS = 180  # the window the member page and the guidance sheet measure over


@dataclass(frozen=True)
class ClassAdherence:
    drug_class: str
    coverage: Coverage
    runs_out_on: date | None  # counting every fill up to today

    def lapsed(self, today: date) -> bool:
        return self.runs_out_on is not None and self.runs_out_on <= today


def member_adherence(
    session: Session,
    actor: Actor,
    member_id: int,
    *,
    start: date,
    end: date,
    plans: Iterable[CarePlan] | None = None,
) -> list[ClassAdherence]:
    """PDC over [start, end] for each class the member's active plans track (`plans`: all
    the member's, when the caller has read them)."""
    member = get_member(session, actor, member_id)
    if plans is None:
        plans = session.scalars(select(CarePlan).where(CarePlan.member_id == member.id))
    classes = tracked_classes(plans)
    fills = fills_by_member(session, [member.id], until=end)[member.id]
    return classes_adherence(sorted(classes), fills, start, end)


def classes_adherence(
    classes: Iterable[str], fills: dict[str, list[Fill]], start: date, end: date
) -> list[ClassAdherence]:
    """PDC over [start, end] and the run-out date, for each class, from a member's fills."""
    found = [(key, fills.get(key, [])) for key in classes]
    return [ClassAdherence(key, coverage(f, start, end), runs_out_on(f)) for key, f in found]


# --- Refill steps --------------------------------------------------------------------------


def _refill_steps(protocol: Protocol) -> dict[str, tuple[str, int]]:
    """Step key → (class, days before the supply runs out)."""
    return {
        s.key: (s.refill.drug_class, s.refill.days_before)
        for s in protocol.checkpoints
        if s.refill is not None
    }


def _refill_keys(session: Session) -> set[str]:
    """Keys of refill steps in any published protocol version (a handful)."""
    return {key for d in definitions_by_version(session).values() for key in _refill_steps(d)}


def move_refill_steps(session: Session, member_ids: Iterable[int]) -> list[Checkpoint]:
    """Re-date the open refill steps of these members' active plans to their supply:
    the first open step of a class falls due `days_before` the supply runs out; later
    open refill steps of that class keep their distance to it. Two statements per
    thousand members, whatever the number of plans."""
    keys = _refill_keys(session)
    if not keys:
        return []
    ids = sorted(set(member_ids))
    moved: list[Checkpoint] = []
    for i in range(0, len(ids), 1000):
        chunk = ids[i : i + 1000]
        rows = session.execute(
            select(Checkpoint, CarePlan)
            .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
            .where(
                CarePlan.member_id.in_(chunk),
                CarePlan.status == PlanStatus.active,
                Checkpoint.key.in_(keys),
                Checkpoint.state == CheckpointState.pending,
            )
            .order_by(CarePlan.id, Checkpoint.due_on)
        ).all()
        if not rows:
            continue
        fills = fills_by_member(session, {plan.member_id for _, plan in rows})
        for _, group in groupby(rows, key=lambda row: row[1].id):  # ordered by plan
            steps = list(group)
            plan = steps[0][1]
            refills = _refill_steps(protocol_of(plan))
            moved += _move_plan([cp for cp, _ in steps], refills, fills[plan.member_id])
    session.flush()
    return moved


def _move_plan(
    open_steps: list[Checkpoint], refills: dict[str, tuple[str, int]], fills: dict[str, list[Fill]]
) -> list[Checkpoint]:
    delta_of: dict[str, int] = {}  # class → days its first open step moved
    moved = []
    for cp in open_steps:
        if cp.key not in refills:
            continue  # a key that is a refill step only in another version
        drug_class, days_before = refills[cp.key]
        if drug_class not in delta_of:
            out = runs_out_on(fills.get(drug_class, []))
            if out is None:
                delta_of[drug_class] = 0  # nothing bought yet: the fixed offset stands
            else:
                delta_of[drug_class] = (out - timedelta(days=days_before) - cp.due_on).days
        if delta_of[drug_class]:
            shift_checkpoint(cp, delta_of[drug_class])
            cp.version += 1  # a form open on the old dates must not save over the new
            moved.append(cp)
    return moved


# --- The chain's view -------------------------------------------------------------------


@dataclass
class Share:
    tracked: int = 0  # members on the protocol with a fill of a tracked class
    below: int = 0  # of them, with any tracked class under 80%

    @property
    def rate(self) -> float | None:
        return self.below / self.tracked if self.tracked else None


@dataclass(frozen=True)
class Lapsed:
    member_id: int
    name: str
    card_number: str
    store_id: int
    owner_id: int
    protocol_id: str
    drug_class: str
    runs_out_on: date
    mobile: str | None = None
    last_contact_on: date | None = None  # the member's latest worked step, any plan


def chain_adherence(
    session: Session, actor: Actor, *, start: date, end: date, store_id: int | None = None
) -> tuple[dict[tuple[int, str], Share], list[Lapsed]]:
    """Per (store, protocol): how many tracked members are below 80% over [start, end];
    and the members whose tracked supply had run out by `end` with no refill since.
    Fills are read once, for the members on an active plan that tracks a class."""
    # What each plan tracks is its own protocol version's list, as on the member page.
    tracks = {vid: d.tracks for vid, d in definitions_by_version(session).items() if d.tracks}
    if not tracks:
        return {}, []
    plans_stmt = select(
        CarePlan.member_id, CarePlan.protocol_id, CarePlan.protocol_version_id,
        Member.home_store_id, Member.name, Member.card_number, Member.owner_id, Member.mobile,
    ).join(Member, CarePlan.member_id == Member.id).where(
        CarePlan.status == PlanStatus.active, CarePlan.protocol_version_id.in_(tracks)
    )  # fmt: skip
    if store_id is not None:
        plans_stmt = plans_stmt.where(Member.home_store_id == store_id)
    on_plans = session.execute(scope_members(plans_stmt, actor)).all()
    by_member = fills_by_member(
        session, {row.member_id for row in on_plans}, since=start - timedelta(days=366), until=end
    )
    shares: dict[tuple[int, str], Share] = defaultdict(Share)
    lapsed: list[Lapsed] = []
    mobiles = {row.member_id: row.mobile for row in on_plans}
    for member_id, protocol_id, version_id, home, name, card, owner, _mobile in on_plans:
        fills = by_member[member_id]
        classes = tracks[version_id]
        measured = [
            pdc for k in classes if (pdc := coverage(fills.get(k, []), start, end).pdc) is not None
        ]
        if measured:
            share = shares[(home, protocol_id)]
            share.tracked += 1
            share.below += any(not is_adherent(p) for p in measured)
        for key in classes:
            out = runs_out_on(fills.get(key, []))
            if out is not None and out <= end:
                lapsed.append(Lapsed(member_id, name, card, home, owner, protocol_id, key, out))
    contacts = last_contacts(session, {x.member_id for x in lapsed})
    lapsed = [
        replace(x, mobile=mobiles.get(x.member_id), last_contact_on=contacts.get(x.member_id))
        for x in lapsed
    ]
    lapsed.sort(key=lambda x: (x.runs_out_on, x.member_id))
    return dict(shares), lapsed
