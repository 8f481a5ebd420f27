"""The clerk's month (店员月度考核): the monthly table, its CSV, and each person's trend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from careplan import csv_export
from careplan.errors import N_
from careplan.stores import regions, visible_stores
from careplan.value import staff_month
from careplan.value.staff_month import Figures, Month, MonthTable
from web.audit_params import csv_response
from web.charts import Series, line_chart
from web.deps import DbSession, Now
from web.i18n import gettext_for
from web.pages.common import pages_router
from web.session import User
from web.templating import render

pages = pages_router()

# The CSV's headings, in the reader's language (ids and codes keep their own columns).
CSV_HEADINGS: dict[str, str] = {
    "staff_id": N_("Staff id"),
    "staff_name": N_("Staff member"),
    "store_id": N_("Store id"),
    "month": N_("Month"),
    "owned": N_("Members owned"),
    "registered": N_("New members registered"),
    "steps_due": N_("Steps due"),
    "steps_on_time": N_("Steps done on time"),
    "on_time_rate": N_("On-time rate"),
    "bought": N_("Members who bought"),
    "bought_again_90d": N_("Bought again within 90 days"),
    "return_rate": N_("Return rate"),
    "lost": N_("Members lost"),
    "complaints": N_("Complaints"),
    "lecture_attendance": N_("Lecture attendance"),
    "sales_credited": N_("Sales credited"),
    "store_sales": N_("Store's credited sales"),
    "sales_share": N_("Share of the store's sales"),
}


def _table(
    session: DbSession,
    visitor: User,
    today: Any,
    month: str | None,
    store: int | None,
    region: str | None,
) -> MonthTable:
    m = staff_month.parse_month(month, today=today)
    return staff_month.month_table(
        session, visitor.actor, m, today=today, store_id=store, region=region or None
    )


def _query(table: MonthTable) -> str:
    """The month and the place, for the CSV link and the trend pages."""
    args = {"month": table.month.key}
    if table.store is not None:
        args["store"] = str(table.store.id)
    elif table.region:
        args["region"] = table.region
    return urlencode(args)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


@pages.get("/value/staff")
def month_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    month: str | None = None,
    store: int | None = None,
    region: str | None = None,
) -> Response:
    """Per staff member the month's figures, with a total; a clerk sees their own row."""
    table = _table(session, visitor, clock.today, month, store, region)
    chain_wide = visitor.actor.chain_wide
    context = {
        "nav": "staff_month",
        "table": table,
        "query": _query(table),
        "stores": visible_stores(session, visitor.actor) if chain_wide else [],
        "regions": regions(session) if chain_wide else [],
        "store_names": {s.id: s.name for s in visible_stores(session, visitor.actor)},
        "pct": pct,
        "money": money,
        "owner_percent": round(float(staff_month.owner_share()) * 100),
    }
    return render(request, visitor, "value/staff_month.html", context)


@pages.get("/value/staff.csv")
def month_csv(
    visitor: User,
    session: DbSession,
    clock: Now,
    month: str | None = None,
    store: int | None = None,
    region: str | None = None,
) -> Response:
    """The table for a spreadsheet: one line per staff member, then the total."""
    table = _table(session, visitor, clock.today, month, store, region)
    _ = gettext_for(visitor.language)
    header = [_(CSV_HEADINGS[f]) for f in staff_month.CSV_FIELDS]
    lines = [
        staff_month.csv_values(r.staff_id, r.name, r.store_id, table.month, r.figures)
        for r in table.rows
    ]
    lines.append(staff_month.csv_values(None, _("Total"), None, table.month, table.total))
    where = table.store.code if table.store else (table.region or "chain")
    name = f"staff-month-{where}-{table.month.key}.csv"
    return csv_response(name, csv_export.csv_lines(header, lines))


def _chart(
    visitor: User,
    months: list[tuple[Month, Figures]],
    title: str,
    unit: str,
    value: Callable[[Figures], float | None],
) -> Any:
    points = [
        (datetime(m.first.year, m.first.month, 1, tzinfo=UTC), v)
        for m, f in months
        if (v := value(f)) is not None
    ]
    return line_chart(
        [Series(title, points)], title=title, unit=unit, date_fmt="%Y-%m",
        language=visitor.language,
    )  # fmt: skip


@pages.get("/value/staff/{staff_id}")
def trend_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    staff_id: int,
    month: str | None = None,
) -> Response:
    """One person's last twelve months: the main figures as charts and as a table."""
    last = staff_month.parse_month(month, today=clock.today)
    person = staff_month.visible_staff(session, visitor.actor, staff_id)
    months = staff_month.trend(session, visitor.actor, staff_id, last, today=clock.today)
    _ = gettext_for(visitor.language)
    charts = [
        _chart(visitor, months, _("Members owned"), _("unit.people"), lambda f: f.owned),
        _chart(visitor, months, _("On-time rate"), "%",
               lambda f: None if f.on_time_rate is None else f.on_time_rate * 100),
        _chart(visitor, months, _("Sales credited"), _("unit.yuan"), lambda f: float(f.sales)),
        _chart(visitor, months, _("Members lost"), _("unit.people"), lambda f: f.lost),
    ]  # fmt: skip
    context = {
        "nav": "staff_month",
        "person": person,
        "last": last,
        "months": months,
        "charts": charts,
        "pct": pct,
        "money": money,
    }
    return render(request, visitor, "value/staff_trend.html", context)
