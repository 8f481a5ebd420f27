"""A member's rights from the member page: the data export (JSON and a readable PDF) and
erasure on request. Each export is recorded in the access log as an "export"."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from careplan.members.erasure import erase_member
from careplan.members.export import export_member
from web.access_log import looked
from web.deps import DbSession, Now
from web.member_export_pdf import export_pdf
from web.pages.common import pages_router, redirect
from web.pages.sheets import pdf_response
from web.session import User

pages = pages_router()


def _exported(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Any:
    """The export, recorded as one (after the member was found visible: else a 404)."""
    data = export_member(session, visitor.actor, member_id, now=clock.now)
    looked(request, visitor.actor, [member_id], "export", clock.now)
    return data


@pages.get("/members/{member_id}/export.json")
def export_json(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    data = _exported(request, member_id, visitor, session, clock)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="member-{member_id}-export.json"',
            "Cache-Control": "no-store",
        },
    )


@pages.get("/members/{member_id}/export.pdf")
def export_as_pdf(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    data = _exported(request, member_id, visitor, session, clock)
    language = data["member"]["language"] if data["member"]["language"] in ("zh", "en") else "zh"
    return pdf_response(export_pdf(data, language), f"member-{member_id}-export.pdf")


@pages.post("/members/{member_id}/erase")
def erase(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    """Erasure at the member's request (a store manager or above; refused while a plan
    is live). The button asks for confirmation first: it cannot be undone."""
    erase_member(session, visitor.actor, member_id, "request", now=clock.now)
    return redirect(request, f"/members/{member_id}")
