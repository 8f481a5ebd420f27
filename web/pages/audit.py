"""The audit pages: chain → region → store → staff → the steps, with CSV of every view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from careplan import audit
from careplan.access import require_manager
from careplan.adherence import chain_adherence
from careplan.errors import N_, InvalidInput
from careplan.models import Store
from careplan.staff import names_of
from web import audit_params as shared_csv
from web.audit_params import PAGE_SIZE, Audit, Steps, csv_response, filename, streamed_steps
from web.deps import DbSession, Now
from web.i18n import gettext_for
from web.labels import AUDIT_COLUMNS
from web.pages.common import pages_router
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


def _trail(v: User, q: audit.AuditQuery, link: Callable[..., str], page: str | None) -> list[Crumb]:
    """The breadcrumb: the levels above and at this scope that the visitor may open, then
    the page itself when it is a list below the scope's report."""
    s, _ = q.scope, gettext_for(v.language)
    crumbs = []
    if v.actor.chain_wide:
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
    session: DbSession, v: User, q: audit.AuditQuery, page: str | None = None
) -> dict[str, Any]:
    link = _linker(q)
    return {
        "nav": "audit",
        "q": q,
        "s": q.scope,
        "buckets": audit.BUCKETS,
        "age_buckets": audit.AGE_BUCKETS,
        "link": link,
        "trail": _trail(v, q, link, page),
        "here": _scope_args(q.scope),
        "row_args": _row_args,
        "protocols": protocol_choices(session),
        "titles": audit.names(session),
        "pct": lambda value: "—" if value is None else f"{value * 100:.1f}%",
    }


@pages.get("/audit")
def audit_page(request: Request, p: Audit, v: User, session: DbSession, now: Now) -> Response:
    q = p.query(session, v.actor, now.today)
    report = audit.report(session, v.actor, q)
    context = _context(session, v, q) | {"report": report, "today": now.today}
    if q.scope.level == "staff":  # the last level: the person's own overdue steps
        f = audit.StepFilter()
        context["steps"] = audit.list_steps(session, v.actor, q, f, limit=PAGE_SIZE, offset=0)
        context["steps_total"] = report.total.overdue_total
    return render(request, v, "audit/report.html", context)


@pages.get("/audit/steps")
def steps_page(
    request: Request, p: Audit, sp: Steps, v: User, session: DbSession, now: Now
) -> Response:
    q = p.query(session, v.actor, now.today)
    f = sp.filter
    total = audit.count_steps(session, v.actor, q, f)
    offset = (sp.page - 1) * PAGE_SIZE
    rows = audit.list_steps(session, v.actor, q, f, limit=PAGE_SIZE, offset=offset)
    pages_count = max(1, -(-total // PAGE_SIZE))
    _ = gettext_for(v.language)
    title = {"missed": _("Missed steps"), "due": _("Steps due in the period")}.get(
        sp.status, _("Overdue steps")
    )
    context = _context(session, v, q, title) | {
        "title": title,
        "steps": rows,
        "total": total,
        "sp": sp,
        "page": sp.page,
        "pages_count": pages_count,
        "filter_args": {"status": sp.status, "bucket": sp.bucket, "step_key": sp.step_key},
    }
    context["steps_args"] = context["filter_args"] | context["here"]
    return render(request, v, "audit/steps.html", context)


def _header(v: User, names: list[str]) -> list[str]:
    _ = gettext_for(v.language)
    return [_(AUDIT_COLUMNS.get(n, n)) for n in names]


@pages.get("/audit/report.csv")
def report_csv(p: Audit, v: User, session: DbSession, now: Now) -> Response:
    r = audit.report(session, v.actor, p.query(session, v.actor, now.today))
    return shared_csv.report_csv(r, _header(v, audit.ROW_FIELDS))


@pages.get("/audit/by-step.csv")
def by_step_csv(p: Audit, v: User, session: DbSession, now: Now) -> Response:
    q = p.query(session, v.actor, now.today)
    header = _header(v, shared_csv.READABLE_BY_STEP_FIELDS)
    return shared_csv.readable_by_step_csv(session, q, header, v.language)


@pages.get("/audit/steps.csv")
def steps_csv(
    request: Request, p: Audit, sp: Steps, v: User, session: DbSession, now: Now
) -> Response:
    q = p.query(session, v.actor, now.today)
    factory = request.app.state.session_factory
    header = _header(v, shared_csv.READABLE_STEP_FIELDS)
    readable = shared_csv.readable_steps(audit.names(session), v.language, gettext_for(v.language))
    return csv_response(
        filename(q, sp.status), streamed_steps(factory, v.actor, q, sp.filter, header, readable)
    )


@pages.get("/audit/adherence")
def adherence_page(
    request: Request,
    v: User,
    session: DbSession,
    now: Now,
    days: int = 180,
    store_id: int | None = None,
) -> Response:
    """Measured adherence across stores: per store and protocol the share of tracked
    members below 80% PDC over the last `days`, and the members whose supply ran out."""
    require_manager(v.actor)
    if not 30 <= days <= 730:
        raise InvalidInput(N_("a period of 30 to 730 days"), field="days")
    start = now.today - timedelta(days=days - 1)
    shares, lapsed = chain_adherence(
        session, v.actor, start=start, end=now.today, store_id=store_id
    )
    stores = {s.id: s for s in session.scalars(select(Store))}
    context = {
        "nav": "audit",
        "days": days,
        "start": start,
        "rows": sorted(shares.items(), key=lambda kv: (stores[kv[0][0]].code, kv[0][1])),
        "lapsed": lapsed[:500],
        "lapsed_total": len(lapsed),
        "stores": stores,
        "names": names_of(session, {x.owner_id for x in lapsed[:500]}),
        "today": now.today,
        "protocols": dict(protocol_choices(session)),
    }
    return render(request, v, "audit/adherence.html", context)
