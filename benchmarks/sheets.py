"""Guidance-sheet speed: one zh sheet end to end, a 100-sheet batch, and the floor.

    .venv/bin/python benchmarks/sheets.py [--runs 15] [--batch-runs 3] [--smoke]

- single_ms: median ms for one Chinese sheet the way the print button makes it: load the
  step, member, readings and next step from the database, render the template, lay out
  and write the PDF with WeasyPrint, record the print.
- floor_ms: median ms for WeasyPrint alone (`HTML(string=...).write_pdf()`) on the same,
  already-rendered HTML; floor_ratio = single_ms / floor_ms (target <= 1.3).
- batch_ms_per_sheet: median over runs of (ms for a 100-sheet batch) / 100 (target <= 150).

It builds its own chain in a temporary SQLite database (migrated, protocols loaded): one
store, 100 members in the osteoporosis plan with allergies, medicines and readings. The
last line printed is a JSON object of the figures (JSON_KEYS). --smoke runs the same code
on 5 members, 2 runs and a 5-sheet batch, in seconds (the suite runs it so it never rots).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from weasyprint import HTML

from careplan import migrate
from careplan.access import Actor
from careplan.config import ROOT
from careplan.db import make_engine, make_session_factory
from careplan.members.archive import Medicine, MemberCreate, create_member
from careplan.members.health_records import HealthCheckIn
from careplan.models import Checkpoint, Staff, Store
from careplan.plans import lifecycle, protocols
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.sheets import sheets
from careplan.vocab import Paper, Role
from web.sheet_pdf import render_pdf, sheet_html

TODAY = date(2024, 3, 1)
NOW = datetime(2024, 3, 1, 2, tzinfo=UTC)
MEMBERS = 100
SMOKE_MEMBERS = 5
JSON_KEYS = ("single_ms", "floor_ms", "floor_ratio", "batch_ms_per_sheet", "batch_sheets",
             "runs", "batch_runs")  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("秀英", "建国", "玉梅", "德华", "桂兰", "志强", "淑珍", "国平", "丽华", "海燕")


def build_chain(factory: sessionmaker[Session], members: int) -> tuple[Actor, list[int]]:
    """`members` (100) members whose week-4 step (fall prevention) is due today, each with a
    bone-density reading from week 1: a sheet with a trend, allergies and medicines."""
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        protocols.publish(s, protocols.read_files(protocols.protocol_files(ROOT / "protocols")))
        store = Store(code="B001", name="益康大药房·徐汇店", region="华东",
                      address="上海市徐汇区漕溪北路88号", phone="021-64001234")  # fmt: skip
        s.add(store)
        s.flush()
        pharmacist = Staff(username="bench", name="李药师", role=Role.pharmacist,
                           store_id=store.id, phone="13800000000")  # fmt: skip
        s.add(pharmacist)
        s.flush()
        actor = Actor.of(pharmacist, via="benchmark")
        s.info["actor"] = actor
        start = TODAY - timedelta(days=27)
        ids = []
        for i in range(members):
            member = create_member(
                s,
                actor,
                MemberCreate(
                    card_number=f"B{100000 + i}",
                    name=SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)],
                    drug_allergies=["青霉素", "磺胺类"],
                    regular_medicines=[
                        Medicine(name="阿仑膦酸钠片", dose="70mg", schedule="每周一次，早晨空腹"),
                        Medicine(name="碳酸钙D3片", dose="600mg", schedule="每日一次，饭后"),
                    ],
                    health_consent=True,
                ),
                now=NOW,
            )
            plan = lifecycle.enroll(s, actor, member_id=member.id, protocol_id="osteoporosis",
                                start=start, today=start, now=NOW - timedelta(days=27))  # fmt: skip
            steps = {
                cp.key: cp
                for cp in s.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan.id))
            }
            first = steps["medication_guidance"]
            day = start + timedelta(days=6)
            record_result(
                s, actor, first.id,
                ResultIn(version=first.version, channel="phone", adherence="as_directed",
                         measurements=[HealthCheckIn(kind="bone_density",
                                                     values={"t_score": -2.8 + i % 5 / 10})]),
                today=day, now=datetime(day.year, day.month, day.day, 2, tzinfo=UTC),
            )  # fmt: skip
            ids.append(steps["fall_prevention"].id)
        s.commit()
        return actor, ids


def one_sheet(factory: sessionmaker[Session], actor: Actor, cp_id: int) -> bytes:
    with factory() as s:
        s.info["actor"] = actor
        found = sheets.build_sheets(s, actor, [cp_id], now=NOW)
        pdf = render_pdf(found, Paper.a4)
        sheets.record_prints(s, actor, found, paper=Paper.a4, now=NOW)
        s.commit()
    return pdf


def batch(factory: sessionmaker[Session], actor: Actor, ids: list[int]) -> bytes:
    with factory() as s:
        s.info["actor"] = actor
        found = sheets.build_sheets(s, actor, ids, now=NOW)
        pdf = render_pdf(found, Paper.a4)
        sheets.record_prints(s, actor, found, paper=Paper.a4, now=NOW)
        s.commit()
    return pdf


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--batch-runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny and quick: does it run?")
    args = parser.parse_args()
    members = SMOKE_MEMBERS if args.smoke else MEMBERS
    if args.smoke:
        args.runs, args.batch_runs = 2, 1
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        actor, ids = build_chain(factory, members)
        with factory() as s:
            s.info["actor"] = actor
            html = sheet_html(sheets.build_sheets(s, actor, [ids[0]], now=NOW)[0], Paper.a4)

        one_sheet(factory, actor, ids[0])  # warm-up: fonts, templates, caches
        HTML(string=html).write_pdf()
        single, floor = [], []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            single += timed(lambda: one_sheet(factory, actor, ids[0]), 1)
            floor += timed(lambda: HTML(string=html).write_pdf(), 1)
        batches = timed(lambda: batch(factory, actor, ids), args.batch_runs)
        engine.dispose()

    figures = {
        "single_ms": round(statistics.median(single), 1),
        "floor_ms": round(statistics.median(floor), 1),
        "floor_ratio": round(statistics.median(single) / statistics.median(floor), 3),
        "batch_ms_per_sheet": round(statistics.median(batches) / members, 1),
        "batch_sheets": members,
        "runs": args.runs,
        "batch_runs": args.batch_runs,
    }
    print(f"one zh sheet, end to end: median {figures['single_ms']} ms over {args.runs} runs")
    print(f"WeasyPrint alone, same HTML: median {figures['floor_ms']} ms")
    print(f"{members}-sheet batch: median {figures['batch_ms_per_sheet']} ms per sheet")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
