"""Importing till files: all or nothing with every bad line named, idempotent re-imports,
GBK exports, and refill steps and PDC following what was bought."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.adherence import drug_classes, import_history, measured, till_import
from careplan.adherence.drug_classes import MappingIn
from careplan.adherence.purchases import PurchaseIn, record_purchase
from careplan.adherence.till_import import ImportRefused, import_csv, import_csv_committed
from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.members import erasure
from careplan.models import Member, Purchase, PurchaseImport
from careplan.vocab import ImportOutcome, Role
from tests.factories import NOW, World, enrolled_steps, make_member, make_staff

TODAY = NOW.date()  # 2024-03-01
HEADER = (
    "card_number,product_code,product_name,drug_class,quantity,days_supply,purchased_on,"
    "store_code,amount"
)


def line(member: Member, world: World, day: date, *, code: str = "A70", days: int = 28) -> str:
    store = world.store_a.code
    name = "阿仑膦酸钠片 70mg×4"
    return f"{member.card_number},{code},{name},bisphosphonates,1,{days},{day},{store},58.00"


def count(world: World, model: type) -> int:
    return world.session.scalar(select(func.count()).select_from(model)) or 0


def run(world: World, text: str, *, encoding: str = "utf-8", name: str = "till.csv"):  # type: ignore[no-untyped-def]
    return import_csv(
        world.session, world.actor(world.manager_a), text.encode(encoding),
        file_name=name, today=TODAY, now=NOW,
    )  # fmt: skip


def thousand_lines(world: World) -> list[str]:
    members = [make_member(world, name=f"会员{i}") for i in range(10)]
    world.session.flush()
    start = date(2023, 6, 1)
    return [line(members[i % 10], world, start + timedelta(days=i // 10)) for i in range(1000)]


def test_reimporting_the_same_file_adds_nothing(world: World) -> None:
    text = "\n".join([HEADER, *thousand_lines(world)]) + "\n"
    first = run(world, text)
    assert (first.lines, first.added, first.already_there) == (1000, 1000, 0)
    again = run(world, text)
    assert (again.added, again.already_there) == (0, 1000)
    assert count(world, Purchase) == 1000
    record = world.session.get(PurchaseImport, first.import_id)
    assert record is not None and record.imported_by_id == world.manager_a.id  # who, when


def test_identical_lines_in_one_file_are_two_purchases(world: World) -> None:
    member = make_member(world)
    same = line(member, world, date(2024, 2, 1))
    assert run(world, "\n".join([HEADER, same, same])).added == 2
    assert run(world, "\n".join([HEADER, same, same])).added == 0


def test_a_file_with_three_bad_lines_among_a_thousand_writes_nothing_and_names_them(
    world: World,
) -> None:
    lines = thousand_lines(world)
    lines[41] = lines[41].replace(",1,28,", ",zero,28,")  # quantity — file line 43
    lines[500] = lines[500].replace("2023-", "2023/13/")  # purchased_on — line 502
    lines[998] = "T0000," + lines[998].split(",", 1)[1]  # unknown card — line 1000
    with pytest.raises(ImportRefused) as refused:
        run(world, "\n".join([HEADER, *lines]))
    found = [(p.line, p.field) for p in refused.value.problems]
    assert found == [(43, "quantity"), (502, "purchased_on"), (1000, "card_number")]
    assert refused.value.total == 3
    assert count(world, Purchase) == 0 and count(world, PurchaseImport) == 0


def test_a_bad_line_lists_every_problem_on_it_with_the_value_it_has(world: World) -> None:
    member = make_member(world)
    good = line(member, world, date(2024, 2, 1))
    bad = (
        good.replace(member.card_number, "T999", 1)
        .replace(",1,28,", ",0,28,")
        .replace("2024-02-01", "2024-02-30")
        .replace("58.00", "五十八")
    )
    with pytest.raises(ImportRefused) as refused:
        run(world, "\n".join([HEADER, good, bad]))
    problems = [(p.line, p.field, p.value) for p in refused.value.problems]
    assert problems == [
        (3, "card_number", "T999"),
        (3, "quantity", "0"),
        (3, "purchased_on", "2024-02-30"),
        (3, "amount", "五十八"),
    ]
    assert refused.value.total == 4 and refused.value.lines == 2
    said = {p.field: p.message for p in refused.value.problems}
    assert said["purchased_on"] == "there is no such day in the calendar"  # not "write it so"


@pytest.mark.parametrize(
    ("written", "amount"),
    [("¥58.00", "58.00"), ("￥1,234.50", "1234.50"), ("1,234.50", "1234.50"),
     ("1,234,567", None), ("12,34", None), ("-5", None), ("58.001", None), ("1e3", None)],
)  # fmt: skip
def test_amounts_may_carry_a_yuan_sign_and_thousands_separators(
    world: World, written: str, amount: str | None
) -> None:
    member = make_member(world)
    text = line(member, world, date(2024, 2, 1)).replace(",58.00", f',"{written}"')
    if amount is None:
        with pytest.raises(ImportRefused) as refused:
            run(world, "\n".join([HEADER, text]))
        assert [(p.field, p.value) for p in refused.value.problems] == [("amount", written)]
        return
    run(world, "\n".join([HEADER, text]))
    assert str(world.session.scalars(select(Purchase.amount)).one()) == amount


def test_the_template_has_chinese_headings_and_reads_back_as_the_import_expects(
    world: World,
) -> None:
    template = till_import.template_csv()
    assert template.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets show the Chinese
    heading, example = template.decode("utf-8-sig").splitlines()
    assert heading == "会员卡号,商品编码,商品名称,药品类别,数量,用药天数,日期,门店编码,金额"
    rows = list(till_import.csv_rows(template.decode("utf-8-sig")))
    assert rows[0][1]["amount"] == "¥1,158.00" and "¥1,158.00" in example


def test_a_refused_file_is_kept_in_the_history_with_its_report(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    member = make_member(world)
    world.session.commit()
    bad = line(member, world, date(2024, 2, 1)).replace("58.00", "abc")
    manager = world.actor(world.manager_a)
    with pytest.raises(ImportRefused):
        import_csv_committed(
            session_factory, manager, "\n".join([HEADER, bad]).encode(),
            file_name="坏文件.csv", today=TODAY, now=NOW,
        )  # fmt: skip
    with pytest.raises(InvalidInput):  # not text at all: kept too, with why
        import_csv_committed(
            session_factory, manager, b"\xff\xfe\x00\x81", file_name="x.csv",
            today=TODAY, now=NOW,
        )  # fmt: skip
    world.session.expire_all()
    history = import_history.recent_imports(world.session, manager)
    assert [(r.file_name, r.outcome) for r in history] == [
        ("x.csv", ImportOutcome.refused), ("坏文件.csv", ImportOutcome.refused),
    ]  # fmt: skip
    report = history[1].report
    assert report is not None and report["problems"] == [
        {"line": 2, "field": "amount", "message": "an amount like 58.00, ¥58.00 or 1,234.50",
         "value": "abc"},
    ]  # fmt: skip
    assert history[0].report is not None and history[0].report["field"] == "file"
    assert count(world, Purchase) == 0
    other = make_staff(world.session, username="manager.b", role=Role.store_manager,
                       store=world.store_b)  # fmt: skip
    assert import_history.recent_imports(world.session, world.actor(other)) == []
    with pytest.raises(NotFound):  # another store's history is not theirs
        import_history.get_import(world.session, world.actor(other), history[0].id)


def test_a_gbk_export_with_chinese_headings_is_read_correctly(world: World) -> None:
    member = make_member(world)
    text = (
        "会员卡号,商品编码,商品名称,药品类别,数量,用药天数,日期,门店编码,金额\n"
        f"{member.card_number},A70,阿仑膦酸钠片,bisphosphonates,1,28,2024-02-01,{world.store_a.code},58.00\n"
    )
    result = run(world, text, encoding="gbk")
    assert result.encoding == "gbk" and result.added == 1
    assert world.session.scalar(select(Purchase.product_name)) == "阿仑膦酸钠片"


def test_bytes_that_are_neither_utf8_nor_gbk_are_refused_clearly(world: World) -> None:
    with pytest.raises(InvalidInput) as err:
        import_csv(
            world.session, world.actor(world.manager_a), b"card_number\n\xff\xfe\x80",
            file_name="x.csv", today=TODAY, now=NOW,
        )  # fmt: skip
    assert err.value.field == "file" and "neither UTF-8 nor GBK" in str(err.value)


def test_a_missing_column_and_a_clerk_importing_are_refused(world: World) -> None:
    with pytest.raises(ImportRefused) as refused:
        run(world, "card_number,product_code\nT1,A70\n")
    assert refused.value.problems[0].line == 1 and refused.value.problems[0].field == "product_name"
    with pytest.raises(Forbidden):
        import_csv(
            world.session, world.actor(world.clerk_a), HEADER.encode(),
            file_name="x.csv", today=TODAY, now=NOW,
        )  # fmt: skip


def test_another_stores_member_is_a_bad_line_for_a_store_manager(world: World) -> None:
    other = make_member(world, owner=world.clerk_b)
    with pytest.raises(ImportRefused) as refused:
        run(world, "\n".join([HEADER, line(other, world, date(2024, 2, 1))]))
    assert [(p.line, p.field) for p in refused.value.problems] == [(2, "card_number")]


# --- PDC and refill steps from purchases ------------------------------------------------


def test_two_classes_for_one_member_each_get_their_own_pdc(world: World) -> None:
    member = make_member(world)
    enrolled_steps(world, member, start=date(2024, 1, 1))  # osteoporosis tracks both
    drug_classes.set_class(
        world.session, world.actor(world.supervisor),
        MappingIn("CA600", "碳酸钙D3片", "calcium_vitamin_d"), now=NOW,
    )  # fmt: skip
    text = "\n".join(
        [
            HEADER,
            line(member, world, date(2024, 1, 1), days=28),
            line(member, world, date(2024, 1, 29), days=28),  # back to back: no gap
            f"{member.card_number},CA600,碳酸钙D3片,,1,30,2024-01-01,{world.store_a.code},35.00",
        ]
    )  # fmt: skip  (the till left the class empty: the mapping gives it)
    run(world, text)
    found = measured.member_adherence(
        world.session, world.actor(world.clerk_a), member.id,
        start=date(2024, 1, 1), end=date(2024, 2, 29),
    )  # fmt: skip
    by_class = {a.drug_class: a for a in found}
    assert set(by_class) == {"bisphosphonates", "calcium_vitamin_d"}
    bis, cal = by_class["bisphosphonates"].coverage, by_class["calcium_vitamin_d"].coverage
    assert (bis.covered_days, bis.days_in_period) == (56, 60)
    assert [(g.start, g.end) for g in bis.gaps] == [(date(2024, 2, 26), date(2024, 2, 29))]
    assert (cal.covered_days, cal.runs_out_on) == (30, date(2024, 1, 31))
    assert by_class["calcium_vitamin_d"].lapsed(TODAY)


def test_a_refill_step_falls_due_before_the_supply_runs_out_and_moves_with_a_purchase(
    world: World,
) -> None:
    member = make_member(world)
    steps = enrolled_steps(world, member, start=date(2024, 2, 1), protocol_id="hypertension")
    refill = steps["refill_reminder"]
    assert refill.due_on == date(2024, 2, 28)  # week 4: nothing bought yet
    window = (refill.due_on - refill.open_on, refill.overdue_on - refill.due_on)
    actor = world.actor(world.clerk_a)

    def buy(day: date, days: int) -> None:
        record_purchase(
            world.session, actor, member.id,
            PurchaseIn(product_code="AML5", product_name="氨氯地平片", quantity=1,
                       drug_class="calcium_channel_blockers", days_supply=days,
                       purchased_on=day, amount=30),
            today=TODAY, now=NOW,
        )  # fmt: skip
        world.session.refresh(refill)

    buy(date(2024, 2, 1), 20)  # tablets Feb 1 – Feb 20; none on Feb 21
    assert refill.due_on == date(2024, 2, 18)  # three days before
    buy(date(2024, 2, 10), 30)  # an early refill, shifted: Feb 21 – Mar 21
    assert refill.due_on == date(2024, 3, 19)  # runs out Mar 22, three days before
    assert (refill.due_on - refill.open_on, refill.overdue_on - refill.due_on) == window


def test_a_member_erased_while_the_file_is_checked_refuses_it_whole(
    world: World, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lines are checked before the final step writes them (on SQLite with no write
    lock held): a member erased in between must not get the lines checked against
    their old card."""
    gone, kept = make_member(world), make_member(world)
    day = date(2024, 2, 1)
    lines = [line(gone, world, day), line(kept, world, day), line(kept, world, day, code="B")]
    manager = world.actor(world.manager_a)
    erased: list[int] = []

    def meanwhile(_done: int) -> None:  # the first chunk is checked: someone erases
        if not erased:
            erasure.erase_member(world.session, manager, gone.id, "request", now=NOW)
            world.session.flush()
            erased.append(gone.id)

    monkeypatch.setattr(till_import, "CHUNK", 2)  # the erased card is in chunk one
    with pytest.raises(InvalidInput) as refused:
        import_csv_committed(
            session_factory, manager, "\n".join([HEADER, *lines]).encode(),
            file_name="till.csv", today=TODAY, now=NOW, progress=meanwhile,
        )  # fmt: skip
    assert erased and refused.value.field == "card_number" and "erased" in str(refused.value)
    assert count(world, Purchase) == 0
    kept_refused = world.session.scalars(select(PurchaseImport)).one()  # in the history
    assert kept_refused.outcome is ImportOutcome.refused and kept_refused.added == 0
    assert kept_refused.report is not None and kept_refused.report["field"] == "card_number"


def test_a_field_past_the_csv_limit_or_a_nul_refuses_the_file_naming_line_and_field(
    world: World,
) -> None:
    """Each was a server error (csv.Error; PostgreSQL refusing NUL), or on SQLite the NUL
    was stored."""
    member = make_member(world)
    good = line(member, world, date(2024, 2, 1)) + ",备注"
    name = "阿仑膦酸钠片 70mg×4"
    for bad, field in [
        (good.replace(name, "药" * 140_000), "product_name"),  # the limit is 131,072
        (good.replace(name, '"' + "药" * 140_000 + '"'), "product_name"),
        (good.replace("bisphosphonates", "bisphos\x00phonates"), "drug_class"),
        (good.replace("备注", "备\x00注"), "note"),  # a column careplan does not read
    ]:
        with pytest.raises(ImportRefused) as refused:
            run(world, "\n".join([HEADER + ",note", good, good, bad, good]))
        assert [(p.line, p.field) for p in refused.value.problems] == [(4, field)]
        assert count(world, Purchase) == 0 and count(world, PurchaseImport) == 0
