"""Spend tiers and quadrants (/value/spend): the tables, the scatter, a quadrant's members,
their CSVs, and the button that queues a fresh snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import Response

from careplan import csv_export
from careplan.access import (
    may_refresh_value_snapshot,
    may_see_phones_in_member_lists,
    require_manager,
)
from careplan.errors import N_, InvalidInput
from careplan.jobs import tasks
from careplan.stores import visible_stores
from careplan.value import tiers
from careplan.value.snapshot import current
from careplan.vocab import ValuePeriod
from web.audit_params import csv_response
from web.deps import DbSession
from web.i18n import gettext_for
from web.pages.common import Form, pages_router, redirect
from web.routing import reads_first
from web.session import User, Visitor
from web.spend_chart import scatter
from web.templating import render

pages = pages_router()

QUADRANT_NAMES = {
    "hh": N_("High frequency, high spend"),
    "hl": N_("High frequency, low spend"),
    "lh": N_("Low frequency, high spend"),
    "ll": N_("Low frequency, low spend"),
}
PERIOD_NAMES = {
    ValuePeriod.last_12_months: N_("Last 12 months"),
    ValuePeriod.last_6_months: N_("Last 6 months"),
    ValuePeriod.last_3_months: N_("Last 3 months"),
    ValuePeriod.year_to_date: N_("This year so far"),
    ValuePeriod.last_year: N_("Last calendar year"),
}


@dataclass(frozen=True)
class Asked:
    """The page's query: scope ("chain", "region:华东", "store:12"), period, thresholds."""

    scope: str | None = None
    period: str | None = None
    visits: str | None = None
    spend: str | None = None

    def parsed_scope(self) -> tuple[str | None, int | None, str | None]:
        if not self.scope:
            return None, None, None
        kind, _, rest = self.scope.partition(":")
        if kind == "store":
            try:
                return "store", int(rest), None
            except ValueError:
                raise InvalidInput(N_("choose a store, a region or the chain"),
                                   field="scope") from None  # fmt: skip
        return kind, None, rest or None

    def parsed_period(self) -> ValuePeriod:
        try:
            return ValuePeriod(self.period or ValuePeriod.last_12_months)
        except ValueError:
            raise InvalidInput(N_("choose a period"), field="period") from None

    def thresholds(self) -> tuple[int | None, Decimal | None]:
        visits = spend = None
        if self.visits and self.visits.strip():
            try:
                visits = int(self.visits)
            except ValueError:
                raise InvalidInput(N_("visits must be 1 to 10000"), field="visits") from None
        if self.spend and self.spend.strip():
            try:
                spend = Decimal(self.spend.strip())
            except InvalidOperation:
                raise InvalidInput(N_("spend must be 0 to 100000000"), field="spend") from None
            if not spend.is_finite():
                raise InvalidInput(N_("spend must be 0 to 100000000"), field="spend")
        return tiers.threshold_of(visits, spend)

    def query(self, **more: Any) -> str:
        kept = {"scope": self.scope, "period": self.period, "visits": self.visits,
                "spend": self.spend, **more}  # fmt: skip
        return urlencode({k: v for k, v in kept.items() if v not in (None, "")})


Query = Annotated[Asked, Depends()]


def _scope(session: DbSession, visitor: Visitor, asked: Asked) -> tiers.Scope:
    kind, store_id, region = asked.parsed_scope()
    return tiers.resolve_scope(session, visitor.actor, kind, store_id, region)


def _thresholds(asked: Asked) -> tuple[int | None, Decimal | None, InvalidInput | None]:
    """A refused threshold answers on the page, its box marked, the medians used."""
    try:
        visits, spend = asked.thresholds()
    except InvalidInput as refused:
        return None, None, refused
    return visits, spend, None


def _choices(session: DbSession, visitor: Visitor) -> list[tuple[str, str, bool]]:
    """(value, text, text is data) for the scope box: what this person may open."""
    actor = visitor.actor
    stores = visible_stores(session, actor)
    if not actor.chain_wide:
        return [(f"store:{s.id}", s.name, True) for s in stores]
    out: list[tuple[str, str, bool]] = [("chain", N_("Whole chain"), False)]
    out += [(f"region:{r}", r, True) for r in tiers.regions_of(session)]
    return out + [(f"store:{s.id}", f"{s.code} {s.name}", True) for s in stores]


def _money(value: float) -> str:
    return f"¥{value:,.0f}"


def _chart(visitor: Visitor, view: tiers.SpendView) -> Any:
    _ = gettext_for(visitor.language)
    words = {"x": _("Visits (days with a purchase)"), "y": _("Spend (yuan)"),
             **{k: _(v) for k, v in QUADRANT_NAMES.items()}}  # fmt: skip
    return scatter(
        view.chart, view.cuts, title=_("Visits and spend of each member"), words=words,
        money=_money, members=lambda n: _("%(n)s members") % {"n": n},
    )  # fmt: skip


@pages.get("/value/spend")
def spend_page(
    request: Request, asked: Query, visitor: User, session: DbSession, queued: int | None = None
) -> Response:
    scope = _scope(session, visitor, asked)
    period = asked.parsed_period()
    visits, spend, refused = _thresholds(asked)
    view = tiers.spend_view(session, visitor.actor, scope, period, visits=visits, spend=spend)
    context = {
        "nav": "value", "asked": asked, "scope": scope, "period": period, "view": view,
        "snapshot": current(session), "choices": _choices(session, visitor),
        "periods": PERIOD_NAMES, "quadrant_names": QUADRANT_NAMES, "filter_error": refused,
        "chart": _chart(visitor, view) if view and view.cuts.buyers else None,
        "may_refresh": may_refresh_value_snapshot(visitor.actor), "queued": queued,
        "scope_value": scope.key,
        "tier_percent": (tiers.TIER_A_PERCENT, tiers.TIER_B_PERCENT),
    }  # fmt: skip
    return render(request, visitor, "value/spend.html", context)


@pages.post("/value/spend/refresh")
@reads_first  # it writes nothing itself: the job computes, in transactions of its own
def refresh(request: Request, form: Form, visitor: User) -> Response:
    """Queue a fresh snapshot (seconds at a chain's scale: never inside the request)."""
    if not may_refresh_value_snapshot(visitor.actor):
        require_manager(visitor.actor)  # refuses, in the page's words
    queued = tasks.queue_value_refresh(visitor.actor.staff_id)
    back = str(form.get("back") or "")
    back = back if back.startswith("scope=") or back.startswith("period=") else ""
    return redirect(request, f"/value/spend?{back + '&' if back else ''}queued={int(queued)}")


@pages.get("/value/spend/tiers.csv")
def tiers_csv(asked: Query, visitor: User, session: DbSession) -> Response:
    _ = gettext_for(visitor.language)
    scope, period = _scope(session, visitor, asked), asked.parsed_period()
    visits, spend = asked.thresholds()
    view = tiers.spend_view(session, visitor.actor, scope, period, visits=visits, spend=spend)
    header = [_("Tier"), _("Members"), _("Share of members"), _("Spend"), _("Share of spend"),
              _("Spend at the cut")]  # fmt: skip
    rows: list[list[object]] = []
    if view is not None:
        rows = [[g.key, g.members, f"{g.member_share:.4f}", g.spend, f"{g.spend_share:.4f}",
                 g.threshold if g.threshold is not None else ""] for g in view.tiers]  # fmt: skip
        rows.append([_("No purchase"), view.no_purchase, "", "", "", ""])
    name = f"spend-tiers-{scope.key.replace(':', '-')}-{period.value}.csv"
    return csv_response(name, csv_export.csv_lines(header, rows))


@pages.get("/value/spend/quadrant/{quadrant}.csv")
def quadrant_csv(quadrant: str, asked: Query, visitor: User, session: DbSession) -> Response:
    _ = gettext_for(visitor.language)
    scope, period = _scope(session, visitor, asked), asked.parsed_period()
    visits, spend = asked.thresholds()
    found = tiers.quadrant_rows(session, visitor.actor, scope, period, quadrant,
                                visits=visits, spend=spend)  # fmt: skip
    header = [_("Member id"), _("Name"), _("Owner"), _("Mobile"), _("Spend"), _("Visits"),
              _("Tier"), _("Last purchase")]  # fmt: skip
    rows = ([m.member_id, m.name, m.owner, m.phone or "", m.spend, m.visits, m.tier,
             m.last_on.isoformat()] for m in found)  # fmt: skip
    name = f"quadrant-{quadrant}-{scope.key.replace(':', '-')}-{period.value}.csv"
    return csv_response(name, csv_export.csv_lines(header, rows))


@pages.get("/value/spend/quadrant/{quadrant}")
def quadrant_list(
    request: Request, quadrant: str, asked: Query, visitor: User, session: DbSession,
    page: int = 1,
) -> Response:  # fmt: skip
    scope, period = _scope(session, visitor, asked), asked.parsed_period()
    visits, spend = asked.thresholds()
    found = tiers.quadrant_page(session, visitor.actor, scope, period, quadrant, page=page,
                                visits=visits, spend=spend)  # fmt: skip
    context = {
        "nav": "value", "asked": asked, "scope": scope, "period": period, "found": found,
        "quadrant": quadrant, "quadrant_names": QUADRANT_NAMES, "periods": PERIOD_NAMES,
        "show_phone": may_see_phones_in_member_lists(visitor.actor),
    }  # fmt: skip
    return render(request, visitor, "value/quadrant.html", context)
