"""The sheet's layout, rendered from a Sheet directly (no database): page breaks, type
size, the trend chart, mixed languages in one batch."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from careplan.sheets.sheets import NextContact, Reading, Sheet, Trend
from careplan.vocab import Channel, Paper, Role
from tests import pdf
from web.sheet_pdf import render_pdf, sheet_html

# Noto Sans CJK's ascent + descent: a word's box is this many times its font size.
FONT_EM_HEIGHT = 1.448
A4_HEIGHT = 841.89
BOTTOM_MARGIN = 57  # 20 mm: the footer lives there
HEADINGS = ["本次指导", "您的常用药", "您的检测结果", "下次联系", "有疑问请联系我们"]

SHEET = Sheet(
    code="ABCD-1234",
    language="zh",
    checkpoint_id=1,
    member_id=1,
    member_name="王秀英",
    card_number="M0001",
    allergies=("青霉素",),
    medicines=(),
    protocol_title="骨质疏松慢病追踪",
    step_title="饮食指导与服药提醒",
    guidance="每天喝300毫升牛奶或相当的奶制品，多吃豆腐和绿叶菜；少喝浓茶和咖啡，饭菜少放盐。",
    step_number=3,
    steps_total=6,
    trends=(),
    next_contact=NextContact(date(2024, 3, 13), Channel.phone, "提醒复诊，运动指导"),
    store_name="徐汇店",
    store_address="漕溪北路88号",
    store_phone="021-64001234",
    staff_name="李药师",
    staff_phone="13800000000",
    staff_role=Role.pharmacist,
    printed_at=datetime(2024, 3, 1, 10, tzinfo=UTC),
)


def with_medicines(n: int, base: Sheet = SHEET, schedule: str = "每日三次，饭后服用") -> Sheet:
    medicines = tuple({"name": f"药品{i}", "dose": "1片", "schedule": schedule} for i in range(n))
    return dataclasses.replace(base, medicines=medicines)


def body_lines(sheet: bytes, page: int) -> list[str]:
    lines = [ln.strip() for ln in pdf.text(sheet, page).splitlines() if ln.strip()]
    return [ln for ln in lines if "打印于" not in ln]


def test_a_heading_that_would_end_a_page_moves_to_the_next_with_its_text():
    # With this guidance, 11 and 14 medicines leave room at the foot of page 1 for a
    # heading but not for its text (found by trying every length with the rule removed).
    longer = dataclasses.replace(SHEET, guidance="每天喝300毫升牛奶。" * 3)
    for n, heading in ((11, "有疑问请联系我们"), (14, "下次联系")):
        sheet = render_pdf([with_medicines(n, longer, "每日三次")], Paper.a4)
        assert body_lines(sheet, 1)[-1] not in HEADINGS, f"{n}: page 1 ends with a heading"
        assert body_lines(sheet, 2)[0] == heading, f"{n}: not a page-boundary case any more"


def test_body_type_is_at_least_14_points_and_only_the_footer_is_smaller():
    words = pdf.words(render_pdf([with_medicines(30)], Paper.a4))
    body = [w for w in words if w.top < A4_HEIGHT - BOTTOM_MARGIN]
    footer = [w for w in words if w.top >= A4_HEIGHT - BOTTOM_MARGIN]
    assert min(w.height / FONT_EM_HEIGHT for w in body) >= 13.95
    assert footer and {w.page for w in footer} == {1, 2}  # date and code on every page


def test_readings_show_as_a_table_and_a_chart_with_this_visits_marked():
    readings = tuple(
        Reading(day, f"{s}/{d}", day == date(2024, 3, 1), {"systolic": s, "diastolic": d})
        for day, s, d in (
            (date(2024, 2, 1), 162, 95),
            (date(2024, 2, 15), 150, 90),
            (date(2024, 3, 1), 138, 86),
        )
    )
    parts = (("systolic", "收缩压"), ("diastolic", "舒张压"))
    trend = Trend("blood_pressure", "血压", "mmHg", parts, readings)
    sheet = dataclasses.replace(SHEET, trends=(trend,))

    html = sheet_html(sheet, Paper.a4)
    text = pdf.text(render_pdf([sheet], Paper.a4))

    assert "<svg" in html and "<polyline" in html
    assert "162/95" in text and "138/86（本次）" in text
    assert "收缩压（mmHg）" in text  # the chart's legend, in the Chinese font


def test_a_batch_keeps_each_members_language_and_page_count():
    english = dataclasses.replace(SHEET, language="en", member_name="Mary Smith")
    both = render_pdf([with_medicines(30), english], Paper.a4)
    first, second = pdf.text(both, 1), pdf.text(both, pdf.pages(both))
    assert "页码 1 / 2" in first
    assert "Mary Smith" in second and "Page 1 / 1" in second and "Next contact" in second


def test_the_medicine_supply_prints_with_its_days_and_a_refill_prompt():
    from careplan.sheets.sheets import Supply

    supply = (
        Supply("双膦酸盐类", 54, 61, 89, date(2024, 3, 3), refill_soon=True),
        Supply("钙剂与维生素D", 60, 60, 100, date(2024, 4, 30), refill_soon=False),
    )
    text = pdf.text(render_pdf([dataclasses.replace(SHEET, supply=supply)], Paper.a4))
    assert "您的药品供应" in text
    assert "近 61 天中有 54 天（89%）" in text
    assert "2024年3月3日\n" in text and "请提前续购\n" in text  # whole, on its own line
    assert text.count("请提前续购") == 1  # only the supply about to run out
    assert "您的药品供应" not in pdf.text(render_pdf([SHEET], Paper.a4))  # none bought
