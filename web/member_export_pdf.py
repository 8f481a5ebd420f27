"""The member's data export as a readable PDF: the same sections and values as the JSON,
with headings and field names in the reader's language."""

from __future__ import annotations

from typing import Any

from web.i18n import N_, gettext_for
from web.labels import FIELDS
from web.sheet_pdf import FONT_FAMILY, layout
from web.templating import env

SECTIONS: dict[str, str] = {
    "member": N_("Member archive"),
    "ownerships": N_("Who looked after the member"),
    "plans": N_("Care plans"),
    "checkpoints": N_("Plan steps"),
    "checkpoint_results": N_("Step results"),
    "contact_attempts": N_("Contact attempts"),
    "health_checks": N_("Health checks"),
    "effect_records": N_("Effect records"),
    "purchases": N_("Purchases"),
    "lecture_seats": N_("Lectures"),
    "lecture_invitations": N_("Lecture invitations"),
    "sheet_prints": N_("Printed guidance sheets"),
    "escalations": N_("Referrals to a pharmacist or manager"),
    "complaints": N_("Complaints"),
    "grade_changes": N_("Relationship grade changes"),
    "message_consents": N_("Consent to messages"),
    "messages": N_("Messages sent to the member"),
    "access_log": N_("Who looked at the health data"),
}


def _shown(value: Any) -> str:
    if value is None or value == [] or value == {} or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {_shown(v)}" for k, v in value.items())
    return str(value)


def export_pdf(export: dict[str, Any], language: str) -> bytes:
    _ = gettext_for(language)
    sections = []
    for key, title in SECTIONS.items():
        rows = export[key] if isinstance(export[key], list) else [export[key]]
        shown = [[(_(FIELDS.get(k, k)), _shown(v)) for k, v in row.items()] for row in rows]
        sections.append({"title": _(title), "rows": shown})
    html = env.get_template("members/export.html").render(
        export=export, sections=sections, lang=language, _=_, font_family=FONT_FAMILY,
        staff=export["staff"],
    )  # fmt: skip
    pdf = layout(html).write_pdf()
    assert pdf is not None
    return pdf
