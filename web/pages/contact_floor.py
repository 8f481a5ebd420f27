"""The three-contacts-a-year floor: managers (their store) and supervisors (any store)
see who was reached fewer than three times in the last 365 days, a count per store,
and a CSV of the list."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from careplan import csv_export
from careplan.stores import visible_stores
from careplan.value import floor
from web.audit_params import csv_response
from web.deps import DbSession, Now
from web.i18n import gettext_for
from web.labels import AUDIT_COLUMNS
from web.pages.common import pages_router
from web.session import User
from web.templating import render

pages = pages_router()
FIELDS = [
    "member_id", "member_name", "card_number", "mobile", "store_code", "store", "owner",
    "contacts_365", "last_contact_on",
]  # fmt: skip


@pages.get("/audit/contact-floor")
def contact_floor_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    store_id: int | None = None,
    page: int = 1,
) -> Response:
    counts = floor.below_by_store(session, visitor.actor, clock.today)
    rows, total = floor.below_floor(
        session, visitor.actor, clock.today, store_id=store_id, page=page
    )
    stores = sorted(visible_stores(session, visitor.actor), key=lambda s: s.code)
    context = {
        "nav": "audit",
        "rows": rows,
        "total": total,
        "page": max(page, 1),
        "pages_count": max(1, -(-total // floor.PAGE)),
        "counts": counts,
        "stores": stores,
        "store_names": {s.id: s.name for s in stores},
        "store_id": store_id,
        "floor": floor.FLOOR,
        "days": floor.DAYS,
        "today": clock.today,
    }
    return render(request, visitor, "audit/contact_floor.html", context)


@pages.get("/audit/contact-floor.csv")
def contact_floor_csv(
    visitor: User, session: DbSession, clock: Now, store_id: int | None = None
) -> Response:
    """Every member below the floor, for a spreadsheet: ids and codes in their own columns."""
    rows, _total = floor.below_floor(
        session, visitor.actor, clock.today, store_id=store_id, per_page=None
    )
    stores = {s.id: s for s in visible_stores(session, visitor.actor)}
    _ = gettext_for(visitor.language)
    header = [_(AUDIT_COLUMNS.get(n, n)) for n in FIELDS]
    lines = (
        [r.member_id, r.name, r.card_number, r.mobile or "", stores[r.store_id].code,
         stores[r.store_id].name, r.owner, r.contacts, r.last_contact_on or ""]
        for r in rows
    )  # fmt: skip
    where = stores[store_id].code if store_id in stores else "chain"
    name = f"contact-floor-{where}-{clock.today.isoformat()}.csv"
    return csv_response(name, csv_export.csv_lines(header, lines))
