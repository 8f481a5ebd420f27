"""The member analysis pages (会员分析): the overview, one dimension a tab (htmx loads a
tab alone; without JavaScript each tab is the whole page), the long-inactive list, and
every table as CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from careplan import csv_export
from careplan.access import may_see_phones_in_member_lists
from careplan.errors import InvalidInput
from careplan.staff import names_of
from careplan.stores import visible_stores
from careplan.validation import whole_number
from careplan.value import activity, analysis
from careplan.value.analysis import Breakdown, Dimension, Scope
from careplan.vocab import ValuePeriod
from web.audit_params import csv_response
from web.charts import bar_chart
from web.deps import DbSession, Now
from web.i18n import N_, gettext_for
from web.labels import FIELDS, label_of
from web.pages.common import pages_router
from web.session import User, Visitor
from web.templating import render

pages = pages_router()

DIMENSIONS: dict[Dimension, str] = {
    Dimension.sex: FIELDS["sex"],
    Dimension.age: N_("Age band"),
    Dimension.area: FIELDS["residential_area"],
    Dimension.education: FIELDS["education"],
    Dimension.income: FIELDS["income_band"],
    Dimension.marital: FIELDS["marital_status"],
    Dimension.conditions: FIELDS["chronic_conditions"],
    Dimension.allergies: FIELDS["drug_allergies"],
    Dimension.medicines: FIELDS["regular_medicines"],
}
PERIODS: dict[ValuePeriod, str] = {
    ValuePeriod.last_12_months: N_("Last 12 months"),
    ValuePeriod.last_6_months: N_("Last 6 months"),
    ValuePeriod.last_3_months: N_("Last 3 months"),
    ValuePeriod.year_to_date: N_("This year so far"),
    ValuePeriod.last_year: N_("Last year"),
}
AGE_LABELS = {"<30": "<30", "30-44": "30–44", "45-59": "45–59", "60-74": "60–74", ">=75": "≥75"}
CHOOSE = N_("choose a value from the list")


@dataclass(frozen=True)
class Params:
    region: str | None
    store_id: int | None
    period: ValuePeriod
    dimension: Dimension
    days: int
    page: int
    # A refused number of days: the list answers with the default and says why beside
    # the box, which keeps what was typed (`days_typed`); a CSV is refused outright.
    days_refused: InvalidInput | None = None
    days_typed: str = ""

    def scope(self, session: DbSession, visitor: Visitor) -> Scope:
        return analysis.resolve_scope(
            session, visitor.actor, region=self.region, store_id=self.store_id
        )

    def query(self, scope: Scope, **changed: Any) -> str:
        """The query string keeping the scope and period (and what is changed)."""
        kept: dict[str, Any] = {"region": scope.region, "store_id": scope.store_id,
                                "period": self.period.value, **changed}  # fmt: skip
        return urlencode({k: v for k, v in kept.items() if v not in (None, "")})


def _choice(value: str | None, choices: Any, default: Any, field: str) -> Any:
    value = (value or "").strip()
    if not value:
        return default
    try:
        return choices(value)
    except ValueError:
        raise InvalidInput(CHOOSE, field=field) from None


Param = Annotated[str | None, Query(max_length=64)]


def params(
    region: Param = None,
    store_id: Param = None,
    period: Param = None,
    dim: Param = None,
    days: Param = None,
    page: Param = None,
) -> Params:
    store, number, wanted_days = ((v or "").strip() for v in (store_id, page, days))
    counted, refused = activity.DEFAULT_DAYS, None
    if wanted_days:
        try:
            counted = analysis.checked_days(whole_number(wanted_days, "inactive_days"))
        except InvalidInput as error:
            refused = error
    return Params(
        region=(region or "").strip() or None,
        store_id=whole_number(store, "store_id") if store else None,
        period=_choice(period, ValuePeriod, ValuePeriod.last_12_months, "period"),
        dimension=_choice(dim, Dimension, Dimension.sex, "dim"),
        days=counted,
        page=max(1, whole_number(number, "page")) if number else 1,
        days_refused=refused,
        days_typed=wanted_days[:12],
    )


Analysis = Annotated[Params, Depends(params)]


def _value_label(visitor: Visitor, dimension: Dimension, row: analysis.Share) -> str:
    _ = gettext_for(visitor.language)
    if row.kind == "empty":
        return _("Not filled in")
    if row.kind == "other":
        return _("Other")
    if dimension is Dimension.age:
        return AGE_LABELS.get(row.value, row.value)
    if dimension is Dimension.sex and (key := label_of(row.value, "Sex")):
        return _(key)
    return row.value


def _dimension_context(visitor: Visitor, p: Params, b: Breakdown | None) -> dict[str, Any]:
    _ = gettext_for(visitor.language)
    title = _(DIMENSIONS[p.dimension])
    if b is None:
        return {"breakdown": None, "dimension": p.dimension, "dimension_title": title}
    labelled = [(_value_label(visitor, b.dimension, r), r) for r in b.rows]
    return {
        "dimension": p.dimension,
        "breakdown": b,
        "labelled": labelled,
        "dimension_title": title,
        "chart": bar_chart([(label, r.members) for label, r in labelled], title=title),
    }


def _scope_choices(session: DbSession, visitor: Visitor) -> dict[str, Any]:
    if not visitor.actor.chain_wide:
        return {"stores": [], "regions": []}
    stores = visible_stores(session, visitor.actor)
    return {"stores": stores, "regions": sorted({s.region for s in stores})}


def _scope_name(session: DbSession, visitor: Visitor, scope: Scope) -> str:
    if scope.store_id is not None:
        store = next(s for s in visible_stores(session, visitor.actor) if s.id == scope.store_id)
        return f"{store.code} {store.name}"
    return scope.region or gettext_for(visitor.language)("Whole chain")


@pages.get("/value/analysis")
def analysis_page(
    request: Request, p: Analysis, visitor: User, session: DbSession, clock: Now
) -> Response:
    """The overview of the scope and period, and one dimension's tab."""
    scope = p.scope(session, visitor)
    o = analysis.overview(session, scope, p.period)
    b = analysis.breakdown(session, scope, p.dimension)
    _ = gettext_for(visitor.language)
    months = [(f"{m:%Y-%m}", n) for m, n in o.new_per_month or []]
    context = {
        "nav": "analysis",
        "p": p,
        "scope": scope,
        "scope_name": _scope_name(session, visitor, scope),
        "o": o,
        "months": months,
        "months_chart": bar_chart(months, title=_("New members per month")),
        "dimensions": {d: _(t) for d, t in DIMENSIONS.items()},
        "periods": {v: _(t) for v, t in PERIODS.items()},
        **_scope_choices(session, visitor),
        **_dimension_context(visitor, p, b),
    }
    return render(request, visitor, "value/analysis.html", context)


@pages.get("/value/analysis/tab")
def dimension_tab(
    request: Request, p: Analysis, visitor: User, session: DbSession, clock: Now
) -> Response:
    """One dimension alone: what a tab swaps in (one scan of the members, not ten)."""
    scope = p.scope(session, visitor)
    b = analysis.breakdown(session, scope, p.dimension)
    context = {"p": p, "scope": scope, **_dimension_context(visitor, p, b)}
    return render(request, visitor, "value/_dimension.html", context, fragment=True)


def _where(session: DbSession, scope: Scope) -> str:
    if scope.store_id is not None:
        return f"store{scope.store_id}"
    return "region" if scope.region else "chain"


@pages.get("/value/analysis/dimension.csv")
def dimension_csv(p: Analysis, visitor: User, session: DbSession, clock: Now) -> Response:
    scope = p.scope(session, visitor)
    b = analysis.breakdown(session, scope, p.dimension)
    _ = gettext_for(visitor.language)
    header = [_(DIMENSIONS[p.dimension]), _("Members"), _("Share of members (%)")]
    rows = ([_value_label(visitor, p.dimension, r), r.members, f"{r.share * 100:.1f}"]
            for r in (b.rows if b else []))  # fmt: skip
    name = f"members-{p.dimension.value}-{_where(session, scope)}-{clock.today.isoformat()}.csv"
    return csv_response(name, csv_export.csv_lines(header, rows))


@pages.get("/value/analysis/new-members.csv")
def new_members_csv(p: Analysis, visitor: User, session: DbSession, clock: Now) -> Response:
    scope = p.scope(session, visitor)
    o = analysis.overview(session, scope, p.period)
    _ = gettext_for(visitor.language)
    rows = ([f"{m:%Y-%m}", n] for m, n in o.new_per_month or [])
    name = f"new-members-{_where(session, scope)}-{clock.today.isoformat()}.csv"
    return csv_response(name, csv_export.csv_lines([_("Month"), _("New members")], rows))


def _inactive(
    session: DbSession, visitor: Visitor, p: Params, today: date, *, whole: bool = False
) -> tuple[Scope, analysis.InactivePage]:
    if whole and p.days_refused is not None:
        raise p.days_refused
    scope = p.scope(session, visitor)
    found = analysis.inactive_members(
        session, scope, as_of=today, days=p.days, page=p.page,
        phones=may_see_phones_in_member_lists(visitor.actor),
        page_size=None if whole else analysis.PAGE_SIZE,
    )  # fmt: skip
    return scope, found


@pages.get("/value/analysis/inactive")
def inactive_page(
    request: Request, p: Analysis, visitor: User, session: DbSession, clock: Now
) -> Response:
    """Members with no purchase and no contact in N days, longest inactive first."""
    scope, found = _inactive(session, visitor, p, clock.today)
    choices = _scope_choices(session, visitor)
    context = {
        "nav": "analysis",
        "p": p,
        "scope": scope,
        "scope_name": _scope_name(session, visitor, scope),
        "found": found,
        "phones": may_see_phones_in_member_lists(visitor.actor),
        "stores": {s.id: s for s in visible_stores(session, visitor.actor)},
        "owners": names_of(session, {r.owner_id for r in found.rows}),
        "regions": choices["regions"],
        "store_choices": choices["stores"],
        "filter_error": p.days_refused,
    }
    status = 422 if p.days_refused else 200
    return render(request, visitor, "value/inactive.html", context, status=status)


@pages.get("/value/analysis/inactive.csv")
def inactive_csv(p: Analysis, visitor: User, session: DbSession, clock: Now) -> Response:
    scope, found = _inactive(session, visitor, p, clock.today, whole=True)
    _ = gettext_for(visitor.language)
    stores = {s.id: s for s in visible_stores(session, visitor.actor)}
    owners = names_of(session, {r.owner_id for r in found.rows})
    phones = may_see_phones_in_member_lists(visitor.actor)
    header = [_("Member"), _("Card number"), *([_("Mobile")] if phones else []), _("Store"),
              _("Owner"), _("Last purchase or contact")]  # fmt: skip
    rows = (
        [r.name, r.card_number, *([r.mobile or ""] if phones else []),
         stores[r.store_id].name, owners.get(r.owner_id, ""), r.last_seen_on or ""]
        for r in found.rows
    )  # fmt: skip
    name = f"inactive-{p.days}d-{_where(session, scope)}-{clock.today.isoformat()}.csv"
    return csv_response(name, csv_export.csv_lines(header, rows))
