"""The audit pages: chain → region → store → staff → the steps, with CSV of every view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote_plus

from fastapi import Request
from fastapi.responses import Response

from careplan import csv_export
from careplan.access import require_manager
from careplan.adherence.drug_classes import label as drug_class_label
from careplan.adherence.measured import Lapsed, Share, chain_adherence
from careplan.audit import audit
from careplan.errors import N_, InvalidInput
from careplan.staff import names_of
from careplan.stores import visible_stores
from web import audit_params as shared_csv
from web.audit_params import PAGE_SIZE, Audit, Steps, csv_response, filename, streamed_steps
from web.deps import DbSession, Now
from web.i18n import gettext_for
from web.labels import AUDIT_COLUMNS
from web.pages.common import pages_router
from web.pages.complaints import staff_rows, store_rows
from web.pages.worklist import protocol_choices
from web.session import User
from web.templating import render

pages = pages_router()


def _linker(q: audit.AuditQuery) -> Callable[..., str]:
    """URLs keeping the day, the period and the protocol, for another scope or view. A
    store's page has a link in every cell: the common part is encoded once."""
    kept = {
        "as_of": q.as_of.isoformat(),
        "period_from": q.period_from.isoformat(),
        "period_to": q.period_to.isoformat(),
        "protocol_id": q.protocol_id or "",
    }
    encoded = {k: f"{k}={quote_plus(v)}" for k, v in kept.items() if v}
    common = "&".join(encoded.values())

    def link(path: str = "/audit", **scope: Any) -> str:
        base = common
        if not encoded.keys().isdisjoint(scope):  # the link sets a kept value itself
            base = "&".join(part for k, part in encoded.items() if k not in scope)
        own = [f"{k}={quote_plus(str(v))}" for k, v in scope.items() if v is not None and v != ""]
        return f"{path}?{'&'.join([base, *own] if base else own)}"

    return link


@dataclass(frozen=True)
class Crumb:
    href: str
    text: str
    data: bool  # a name from the data (a store, a person), not a word to translate
    current: bool = False


def _trail(
    visitor: User, q: audit.AuditQuery, link: Callable[..., str], page: str | None
) -> list[Crumb]:
    """The breadcrumb: the levels above and at this scope that the visitor may open, then
    the page itself when it is a list below the scope's report."""
    s, _ = q.scope, gettext_for(visitor.language)
    crumbs = []
    if visitor.actor.chain_wide:
        crumbs.append(Crumb(link(), _("Whole chain"), data=False))
        if s.region:
            crumbs.append(Crumb(link(region=s.region), s.region, data=True))
    if s.store_id:
        crumbs.append(Crumb(link(store_id=s.store_id), f"{s.store_code} {s.store_name}", True))
    if s.staff_id:
        crumbs.append(Crumb(link(staff_id=s.staff_id), s.staff_name, data=True))
    if page is not None:
        crumbs.append(Crumb("", page, data=False))
    if crumbs:
        crumbs[-1] = replace(crumbs[-1], current=True)
    return crumbs


def _scope_args(s: audit.Scope) -> dict[str, Any]:
    if s.staff_id is not None:
        return {"staff_id": s.staff_id}
    if s.store_id is not None:
        return {"store_id": s.store_id}
    return {"region": s.region} if s.region else {}


def _row_args(row: audit.Row) -> dict[str, Any]:
    return {{"region": "region", "store": "store_id"}.get(row.level, "staff_id"): row.key}


def _context(
    session: DbSession, visitor: User, q: audit.AuditQuery, page: str | None = None
) -> dict[str, Any]:
    link = _linker(q)
    return {
        "nav": "audit",
        "q": q,
        "s": q.scope,
        "buckets": audit.BUCKETS,
        "age_buckets": audit.AGE_BUCKETS,
        "link": link,
        "trail": _trail(visitor, q, link, page),
        "here": _scope_args(q.scope),
        "row_args": _row_args,
        "protocols": protocol_choices(session),
        "titles": audit.names(session),
        "pct": lambda value: "—" if value is None else f"{value * 100:.1f}%",
    }


FILTERS = ("as_of", "period_from", "period_to", "protocol_id")  # the form's own fields


def _query(
    session: DbSession, visitor: User, p: shared_csv.AuditParams, today: date
) -> tuple[audit.AuditQuery, InvalidInput | None]:
    """The audit asked for; a refused filter (a day after today, a period the wrong way
    round) instead answers the same place with the default filters and the refusal, so
    the supervisor corrects the box on the page rather than meeting an error page."""
    try:
        return p.query(session, visitor.actor, today), None
    except InvalidInput as refused:
        if refused.field not in FILTERS:
            raise
        plain = replace(p, as_of=None, period_from=None, period_to=None, protocol_id=None)
        return plain.query(session, visitor.actor, today), refused


def _complaint_figures(session: DbSession, visitor: User, q: audit.AuditQuery) -> dict[str, Any]:
    """Complaints received in the period: by store above a store, by the person they
    are about in a store, a person's own at theirs."""
    s, _ = q.scope, gettext_for(visitor.language)
    span = (q.period_from, q.until)
    if s.store_id is None:
        stores = [st.id for st in visible_stores(session, visitor.actor)
                  if not s.region or st.region == s.region]  # fmt: skip
        return {"cf_rows": store_rows(session, visitor, stores, *span), "cf_first": _("Store")}
    rows = staff_rows(session, visitor, s.store_id, *span, only=s.staff_id)
    return {"cf_rows": rows, "cf_first": _("Staff member it is about")}


@pages.get("/audit")
def audit_page(
    request: Request, p: Audit, visitor: User, session: DbSession, clock: Now
) -> Response:
    q, refused = _query(session, visitor, p, clock.today)
    report = audit.report(session, visitor.actor, q)
    context = _context(session, visitor, q) | {"report": report, "today": clock.today}
    context |= {"filter_error": refused, "asked": p}
    context |= _complaint_figures(session, visitor, q)
    if q.scope.level == "staff":  # the last level: the person's own overdue steps
        f = audit.StepFilter()
        context["steps"] = audit.list_steps(session, visitor.actor, q, f, limit=PAGE_SIZE, offset=0)
        context["steps_total"] = report.total.overdue_total
    return render(request, visitor, "audit/report.html", context, status=422 if refused else 200)


@pages.get("/audit/steps")
def steps_page(
    request: Request, p: Audit, sp: Steps, visitor: User, session: DbSession, clock: Now
) -> Response:
    q, refused = _query(session, visitor, p, clock.today)
    f = sp.filter
    total = audit.count_steps(session, visitor.actor, q, f)
    offset = (sp.page - 1) * PAGE_SIZE
    rows = audit.list_steps(session, visitor.actor, q, f, limit=PAGE_SIZE, offset=offset)
    pages_count = max(1, -(-total // PAGE_SIZE))
    _ = gettext_for(visitor.language)
    title = {"missed": _("Missed steps"), "due": _("Steps due in the period")}.get(
        sp.status, _("Overdue steps")
    )
    context = _context(session, visitor, q, title) | {
        "title": title,
        "steps": rows,
        "total": total,
        "sp": sp,
        "page": sp.page,
        "pages_count": pages_count,
        "filter_args": {"status": sp.status, "bucket": sp.bucket, "step_key": sp.step_key},
        "filter_error": refused,
        "asked": p,
    }
    context["steps_args"] = context["filter_args"] | context["here"]
    return render(request, visitor, "audit/steps.html", context, status=422 if refused else 200)


def _header(visitor: User, names: list[str]) -> list[str]:
    _ = gettext_for(visitor.language)
    return [_(AUDIT_COLUMNS.get(n, n)) for n in names]


@pages.get("/audit/report.csv")
def report_csv(p: Audit, visitor: User, session: DbSession, clock: Now) -> Response:
    r = audit.report(session, visitor.actor, p.query(session, visitor.actor, clock.today))
    return shared_csv.report_csv(r, _header(visitor, audit.ROW_FIELDS))


@pages.get("/audit/by-step.csv")
def by_step_csv(p: Audit, visitor: User, session: DbSession, clock: Now) -> Response:
    q = p.query(session, visitor.actor, clock.today)
    header = _header(visitor, shared_csv.READABLE_BY_STEP_FIELDS)
    return shared_csv.readable_by_step_csv(session, q, header, visitor.language)


@pages.get("/audit/steps.csv")
def steps_csv(
    request: Request, p: Audit, sp: Steps, visitor: User, session: DbSession, clock: Now
) -> Response:
    q = p.query(session, visitor.actor, clock.today)
    factory = request.app.state.session_factory
    header = _header(visitor, shared_csv.READABLE_STEP_FIELDS)
    readable = shared_csv.readable_steps(
        audit.names(session), visitor.language, gettext_for(visitor.language)
    )
    return csv_response(
        filename(q, sp.status),
        streamed_steps(factory, visitor.actor, q, sp.filter, header, readable),
    )


def _adherence(
    session: DbSession, visitor: User, today: date, days: int, store_id: int | None
) -> tuple[date, dict[tuple[int, str], Share], list[Lapsed]]:
    require_manager(visitor.actor)
    if not 30 <= days <= 730:
        raise InvalidInput(N_("a period of 30 to 730 days"), field="days")
    start = today - timedelta(days=days - 1)
    shares, lapsed = chain_adherence(
        session, visitor.actor, start=start, end=today, store_id=store_id
    )
    return start, shares, lapsed


@pages.get("/audit/adherence")
def adherence_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    days: int = 180,
    store_id: int | None = None,
) -> Response:
    """Measured adherence across stores: per store and protocol the share of tracked
    members below 80% PDC over the last `days`, and the members whose supply ran out."""
    start, shares, lapsed = _adherence(session, visitor, clock.today, days, store_id)
    stores = {s.id: s for s in visible_stores(session, visitor.actor)}
    context = {
        "nav": "audit",
        "days": days,
        "start": start,
        "rows": sorted(shares.items(), key=lambda kv: (stores[kv[0][0]].code, kv[0][1])),
        "lapsed": lapsed[:500],
        "lapsed_total": len(lapsed),
        "stores": stores,
        "store_choices": sorted(
            (s for s in stores.values() if visitor.actor.may_see_store(s.id)), key=lambda s: s.code
        ),
        "store_id": store_id,
        "names": names_of(session, {x.owner_id for x in lapsed[:500]}),
        "today": clock.today,
        "protocols": dict(protocol_choices(session)),
    }
    return render(request, visitor, "audit/adherence.html", context)


LAPSED_FIELDS = [
    "runs_out_on", "member_id", "member_name", "card_number", "mobile", "store_code",
    "store", "owner", "last_contact_on", "protocol_id", "protocol", "drug_class_key",
    "drug_class",
]  # fmt: skip


@pages.get("/audit/adherence/lapsed.csv")
def lapsed_csv(
    visitor: User, session: DbSession, clock: Now, days: int = 180, store_id: int | None = None
) -> Response:
    """The lapsed members to call, for a spreadsheet: ids and codes in their own columns,
    names in the reader's language beside them."""
    _start, _shares, lapsed = _adherence(session, visitor, clock.today, days, store_id)
    stores = {s.id: s for s in visible_stores(session, visitor.actor)}
    owners = names_of(session, {x.owner_id for x in lapsed})
    titles = audit.names(session)
    lang = visitor.language
    rows = (
        [x.runs_out_on, x.member_id, x.name, x.card_number, x.mobile or "",
         stores[x.store_id].code, stores[x.store_id].name, owners.get(x.owner_id, ""),
         x.last_contact_on or "", x.protocol_id,
         (t.get(lang) if (t := titles.protocol(x.protocol_id)) else ""),
         x.drug_class, drug_class_label(x.drug_class, lang)]
        for x in lapsed
    )  # fmt: skip
    where = stores[store_id].code if store_id in stores else "chain"
    name = f"lapsed-{where}-{clock.today.isoformat()}.csv"
    return csv_response(name, csv_export.csv_lines(_header(visitor, LAPSED_FIELDS), rows))
