"""Who is acting, and the one place that decides what they may see.

Every query for members, plans and checkpoints goes through `visible_members` (or the
getters below), so a clerk of store B never learns that store A's member 42 exists:
out-of-scope rows are simply "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar, TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from careplan.errors import N_, Forbidden, NotFound
from careplan.models import CarePlan, Checkpoint, Complaint, Escalation, Member, Staff, Store
from careplan.vocab import ComplaintCause, Role

CHAIN_WIDE = frozenset({Role.supervisor, Role.admin})
MANAGERS = frozenset({Role.store_manager, Role.supervisor, Role.admin})
# Who stands above whom when one person acts on another's account.
RANK = {Role.clerk: 1, Role.pharmacist: 1, Role.store_manager: 2, Role.supervisor: 3,
        Role.admin: 4}  # fmt: skip

Ts = TypeVarTuple("Ts")
M = TypeVar("M")


@dataclass(frozen=True)
class Actor:
    """The person (or system step) on whose behalf an operation runs."""

    staff_id: int | None
    role: Role
    store_id: int | None
    via: str = "api"

    @classmethod
    def of(cls, staff: Staff, via: str) -> Actor:
        return cls(staff_id=staff.id, role=staff.role, store_id=staff.store_id, via=via)

    @classmethod
    def system(cls, via: str = "system") -> Actor:
        return cls(staff_id=None, role=Role.admin, store_id=None, via=via)

    @property
    def chain_wide(self) -> bool:
        return self.role in CHAIN_WIDE

    def may_see_store(self, store_id: int) -> bool:
        return self.chain_wide or store_id == self.store_id

    def may_see_member(self, member: Member) -> bool:
        """The Python twin of scope_members
        (tests/careplan/test_contacts_and_stores.py ties the two)."""
        return self.may_see_store(member.home_store_id)


def scope_stores(stmt: Select[*Ts], actor: Actor) -> Select[*Ts]:
    """The stores a person may see: every store for head office, else their own (the
    SQL twin of Actor.may_see_store; tests/careplan/test_contacts_and_stores.py ties the two)."""
    if actor.chain_wide:
        return stmt
    return stmt.where(Store.id == actor.store_id)


def scope_members(stmt: Select[*Ts], actor: Actor) -> Select[*Ts]:
    """Limit a statement that involves Member to what the actor may see."""
    if actor.chain_wide:
        return stmt
    return stmt.where(Member.home_store_id == actor.store_id)


def get_member(session: Session, actor: Actor, member_id: int) -> Member:
    """A member the actor may see. By primary key, so a page that asks again (each part
    of the member page does) finds it in the session instead of the database."""
    member = session.get(Member, member_id)
    if member is None or not actor.may_see_member(member):
        raise NotFound(N_("member %(id)s not found"), field="member_id", id=member_id)
    return member


def rows_of_member(
    session: Session, actor: Actor, model: type[M], member_id: int, *order: Any
) -> list[M]:
    """A member's rows of one kind (plans, purchases, effects…) in the given order; a
    member the person may not see is not found, as on every member page."""
    get_member(session, actor, member_id)
    column = model.member_id  # type: ignore[attr-defined]
    return list(session.scalars(select(model).where(column == member_id).order_by(*order)))


def get_plan(session: Session, actor: Actor, plan_id: int) -> CarePlan:
    stmt = select(CarePlan).join(Member, CarePlan.member_id == Member.id)
    plan = session.scalar(scope_members(stmt.where(CarePlan.id == plan_id), actor))
    if plan is None:
        raise NotFound(N_("plan %(id)s not found"), field="plan_id", id=plan_id)
    return plan


def get_checkpoint(
    session: Session, actor: Actor, checkpoint_id: int, *, lock: bool = False
) -> Checkpoint:
    """A step the actor may see; `lock`: its row locked until the transaction ends (a
    concurrent save of the same step waits, then reads what the other wrote)."""
    stmt = (
        select(Checkpoint)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .join(Member, CarePlan.member_id == Member.id)
        .where(Checkpoint.id == checkpoint_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Checkpoint).execution_options(populate_existing=True)
    checkpoint = session.scalar(scope_members(stmt, actor))
    if checkpoint is None:
        raise NotFound(N_("checkpoint %(id)s not found"), field="checkpoint_id", id=checkpoint_id)
    return checkpoint


def may_manage_lectures(actor: Actor) -> bool:
    """Scheduling and cancelling lectures is a manager's (their store) or head office's."""
    return actor.role in MANAGERS


def may_build_messages(actor: Actor) -> bool:
    """Building the day's messages now rather than at the next hour: managers' and
    head office's (building twice adds nothing): require_manager's people."""
    return actor.role in MANAGERS


def may_read_message_log(actor: Actor) -> bool:
    """What the log provider kept, of the stores one sees: require_manager's people."""
    return actor.role in MANAGERS


def sees_store_management(actor: Actor) -> bool:
    """Store managers, head office and admins: the staff page, the audit, till imports."""
    return actor.role in MANAGERS


def may_choose_owner(actor: Actor) -> bool:
    """A manager gives a new member to any member of staff; others own who they enrol."""
    return actor.role in MANAGERS


def may_erase_members(actor: Actor) -> bool:
    """Erasing a member's personal data (on request, or when retention ends)."""
    return actor.role in MANAGERS


def may_print_for_others(actor: Actor) -> bool:
    """Printing a colleague's or the whole store's sheets; staff print their own."""
    return actor.role in MANAGERS


def require_manager(actor: Actor) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden(N_("only a store manager, supervisor or admin may do this"), field="role")


# --- Where a person starts ------------------------------------------------------------

# Head office's supervisors own no members: their day starts at the chain's audit.
STARTS_ON_AUDIT = frozenset({Role.supervisor})


def starts_on_the_audit(actor: Actor) -> bool:
    """Whether the person's home page is the audit rather than a worklist of their own."""
    return actor.role in STARTS_ON_AUDIT


# --- Escalations -------------------------------------------------------------------------


def may_resolve_escalation(actor: Actor, escalation: Escalation) -> bool:
    """Closing a case is for whom it was raised to: that role in the member's store (a
    pharmacist for side effects, say), the store's manager, or head office. A clerk who
    answered "stopped" cannot close the pharmacist's case they raised."""
    if actor.chain_wide:
        return True
    if actor.store_id != escalation.store_id:
        return False
    return actor.role in (escalation.role, Role.store_manager)


def sees_every_escalation_in_sight(actor: Actor) -> bool:
    """Managers and head office list every case they may see; store staff the cases that
    involve them (handled by them, or about a member they own)."""
    return actor.role in MANAGERS


# --- Acting on staff accounts and chain-wide settings ---------------------------------


def may_see_staff(actor: Actor, staff: Staff) -> bool:
    """A store's people are seen by that store; people of no store (supervisors, admins)
    and every store's people by the chain-wide roles."""
    return actor.chain_wide or (staff.store_id is not None and staff.store_id == actor.store_id)


def may_see_staff_month(actor: Actor, staff: Staff) -> bool:
    """The clerk's month (careplan/value/staff_month.py): a store manager sees their
    store's people, head office everyone's, anyone else only their own row."""
    if actor.role in MANAGERS:
        return may_see_staff(actor, staff)
    return staff.id == actor.staff_id


def may_manage_staff(actor: Actor, staff: Staff) -> bool:
    """Whether the actor may act on this person's account (make them leave, end their
    sessions, change or reset it): someone they see and who stands below them. An admin
    may act on any other admin too, so that one admin's account can always be mended;
    nobody acts on their own account this way."""
    if staff.id == actor.staff_id or not may_see_staff(actor, staff):
        return False
    if actor.role is Role.admin:
        return True
    return actor.role in MANAGERS and RANK[actor.role] > RANK[staff.role]


def may_grant_role(actor: Actor, role: Role, store_id: int | None) -> bool:
    """Whether the actor may give an account this role at this store: never a role at or
    above their own (an admin may make admins), never outside what they see."""
    if actor.role is not Role.admin and RANK[role] >= RANK[actor.role]:
        return False
    return actor.role in MANAGERS and (
        actor.chain_wide or (store_id is not None and store_id == actor.store_id)
    )


def may_hand_over_members_of(actor: Actor, staff: Staff) -> bool:
    """Moving a person's members: a manager over their own members, or over those of
    someone whose account they may manage."""
    if actor.role not in MANAGERS:
        return False
    return staff.id == actor.staff_id or may_manage_staff(actor, staff)


def may_end_sessions_of(actor: Actor, staff: Staff) -> bool:
    """Signing a person out everywhere (a lost phone, a leak) is an admin's step."""
    return actor.role is Role.admin and may_manage_staff(actor, staff)


def require_manage_staff(actor: Actor, staff: Staff, *, field: str = "staff_id") -> None:
    if not may_see_staff(actor, staff):
        raise NotFound(N_("staff %(id)s not found"), field=field, id=staff.id)
    if not may_manage_staff(actor, staff):
        raise Forbidden(N_("you may not change this person's account"), field=field)


def may_change_chain_settings(actor: Actor) -> bool:
    """Settings every store's figures depend on (the product → drug-class mapping, the
    protocols) are changed from head office, not by one store."""
    return actor.chain_wide


def require_chain_settings(actor: Actor) -> None:
    if not may_change_chain_settings(actor):
        raise Forbidden(N_("only a supervisor or admin may change chain-wide settings"),
                        field="role")  # fmt: skip


# --- The admin console: accounts, stores and protocols of the whole chain -------------


def may_administer(actor: Actor) -> bool:
    """The admin console (/admin): every account, every store, publishing protocols.
    Supervisors audit the chain but do not run its accounts."""
    return actor.role is Role.admin


def require_administer(actor: Actor) -> None:
    if not may_administer(actor):
        raise Forbidden(N_("only an administrator may do this"), field="role")


def may_manage_stores(actor: Actor) -> bool:
    """Opening a store or changing its name, code or address is an admin's step."""
    return may_administer(actor)


def require_manage_stores(actor: Actor) -> None:
    if not may_manage_stores(actor):
        raise Forbidden(N_("only an administrator may do this"), field="role")


def may_see_colleagues_worklists(actor: Actor) -> bool:
    """A manager works the whole store's list, or a colleague's (holiday, sick leave)."""
    return actor.role in MANAGERS


def may_set_grade(actor: Actor, member: Member) -> bool:
    """Setting (or clearing) a relationship grade of 80 or 100 is a judgement of the
    member's owner, their store's manager or head office: never another store's."""
    if not actor.may_see_member(member):
        return False
    return actor.role in MANAGERS or actor.staff_id == member.owner_id


def require_set_grade(actor: Actor, member: Member) -> None:
    if not may_set_grade(actor, member):
        raise Forbidden(
            N_("only the member's owner, a store manager or a supervisor may set this grade"),
            field="grade",
        )


# --- Member value: spend tiers and quadrants ----------------------------------------------


def may_see_spend_tiers(actor: Actor) -> bool:
    """Spend tiers and quadrants rank members by what they spend: a manager's view of
    their store, head office's of any store, region or the chain. Clerks and pharmacists
    work their own members and do not see the store ranked."""
    return actor.role in MANAGERS


ScopeKind = Literal["chain", "region", "store"]


def member_value_scope(
    actor: Actor, kind: ScopeKind | None = None, *, region: str | None = None,
    store_id: int | None = None,
) -> tuple[ScopeKind, str | None, int | None]:
    """Whose members' figures a person may open, for every member-value page (spend tiers
    and quadrants, the member analysis, the long-inactive list), as (kind, region, store):
    head office any store, a region or the chain (the chain unless it asks); a store
    manager their own store only, by default or asked (another store, a region or the
    chain is not found, as another store's member is); anyone else is refused."""
    require_manager(actor)
    if kind is None:
        kind = "store" if store_id is not None else "region" if region else None
    if actor.chain_wide:
        if kind == "store" and store_id is None:
            raise NotFound(N_("store not found"), field="store_id")
        chosen: ScopeKind = kind or "chain"
        return (chosen, region if chosen == "region" else None,
                store_id if chosen == "store" else None)  # fmt: skip
    own = kind in (None, "store") and store_id in (None, actor.store_id)
    if not own or actor.store_id is None:
        raise NotFound(N_("store not found"), field="store_id")
    return "store", None, actor.store_id


def may_refresh_value_snapshot(actor: Actor) -> bool:
    """Asking for the figures again now rather than tonight (a queued job; running it
    twice only costs time): whoever may open the page, managers and head office."""
    return may_see_spend_tiers(actor)


# --- The member analysis (会员分析) ------------------------------------------------------


def may_see_phones_in_member_lists(actor: Actor) -> bool:
    """Phones in a list of many members (a quadrant's, the long-inactive list, their CSVs)
    are for the store that calls them: its manager, who calls or gives the calls to the
    owners. Head office ranks a region or the chain and calls nobody: it sees who and how
    many, not the numbers (PIPL's minimum necessary; a thousand phones in a CSV is a leak
    waiting); one member's page still shows theirs."""
    return actor.role in MANAGERS and not actor.chain_wide and actor.store_id is not None


def may_set_outlook(actor: Actor, member: Member) -> bool:
    """How soon a member will buy again (预计续购) is judged by who knows them: their
    owner, or a manager over their store (careplan/value/outlook.py)."""
    if not actor.may_see_member(member):
        return False
    return actor.staff_id == member.owner_id or actor.role in MANAGERS


def require_set_outlook(actor: Actor, member: Member) -> None:
    if not may_set_outlook(actor, member):
        raise Forbidden(
            N_("only the member's owner or a manager sets the outlook"), field="outlook"
        )


def may_see_contact_floor(actor: Actor) -> bool:
    """The members called fewer than three times a year: managers (their store) and
    head office (every store), as for the other follow-up lists of the audit."""
    return actor.role in MANAGERS


def require_see_contact_floor(actor: Actor) -> None:
    if not may_see_contact_floor(actor):
        raise Forbidden(N_("only a store manager, supervisor or admin may do this"), field="role")


# --- Complaints (顾客投诉) -----------------------------------------------------------------

# Who takes a complaint at the counter: the store's own people. Head office reads them.
COMPLAINT_TAKERS = frozenset({Role.clerk, Role.pharmacist, Role.store_manager})


def may_record_complaint(actor: Actor) -> bool:
    """Recording a complaint: store staff, in their own store (supervisors read only)."""
    return actor.role in COMPLAINT_TAKERS and actor.store_id is not None


def complaints_in_header(actor: Actor) -> bool:
    """Store staff take complaints and supervisors read them; an administrator runs
    accounts (and may still open /complaints: head office reads every store's)."""
    return actor.role is not Role.admin


def require_record_complaint(actor: Actor) -> None:
    if not may_record_complaint(actor):
        raise Forbidden(N_("only the store's staff record complaints"), field="role")


def scope_complaints(stmt: Select[*Ts], actor: Actor) -> Select[*Ts]:
    """The complaints a person sees: their store's; every store's for head office."""
    if actor.chain_wide:
        return stmt
    return stmt.where(Complaint.store_id == actor.store_id)


def get_complaint(session: Session, actor: Actor, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or not actor.may_see_store(complaint.store_id):
        raise NotFound(N_("complaint %(id)s not found"), field="complaint_id", id=complaint_id)
    return complaint


def _store_manager_of(actor: Actor, complaint: Complaint) -> bool:
    return actor.role is Role.store_manager and actor.store_id == complaint.store_id


def may_hand_over_for_complaint(actor: Actor, complaint: Complaint) -> bool:
    """Giving a member who complained about the service to another clerk: the manager
    of the store chooses who (seed 000); a member's complaint of cause service only."""
    return (
        _store_manager_of(actor, complaint)
        and complaint.member_id is not None
        and complaint.cause is ComplaintCause.service
    )


def may_close_complaint(actor: Actor, complaint: Complaint, owner_id: int | None) -> bool:
    """Closing: the store's manager, or the member's own clerk (who made the visit).
    A walk-in has no clerk: the manager closes it. Whether the visit came first and who
    may close a dissatisfied member's are the domain's (careplan/value/complaints.py)."""
    if _store_manager_of(actor, complaint):
        return True
    return owner_id is not None and actor.staff_id == owner_id


def may_close_without_visit(actor: Actor, complaint: Complaint) -> bool:
    """A member's complaint whose visit will never be made (its plan stopped: the member
    moved away, was removed from follow-up; or the step skipped) is the store manager's
    to close, as a walk-in's is: nobody else heard how it ended."""
    return _store_manager_of(actor, complaint)


def may_close_dissatisfied(actor: Actor, complaint: Complaint) -> bool:
    """A member still dissatisfied after the visit is the manager's to close (or to
    reopen with a new visit): the clerk cannot end it alone."""
    return _store_manager_of(actor, complaint)
