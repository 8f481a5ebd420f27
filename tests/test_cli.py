"""The careplan command: each run is one transaction; bad input says what and writes nothing."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, make_url, select, text
from typer.testing import CliRunner

from careplan import migrate
from careplan.config import get_settings
from careplan.db import make_engine, make_session_factory
from careplan.models import CarePlan, Checkpoint, Member, ProtocolVersion, SheetPrint
from tests import pdf
from tests.careplan.test_protocols import GOOD
from tests.databases import migrated_database
from web.cli import app

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated SQLite database for the command to work on."""
    with migrated_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("CAREPLAN_DATABASE_URL", url)
        get_settings.cache_clear()
        yield url
    get_settings.cache_clear()


_SEEDED: list[Path] = []


@pytest.fixture
def seeded_db(cli_db: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """cli_db after `careplan protocols load` and `careplan demo seed` (the first test
    runs them; the others start from a copy of what they wrote)."""
    target = Path(make_url(cli_db).database or "")
    if not _SEEDED:
        assert run("protocols", "load")[0] == 0 and run("demo", "seed")[0] == 0
        _SEEDED.append(tmp_path_factory.mktemp("seeded") / "seeded.db")
        shutil.copyfile(target, _SEEDED[0])
    else:
        shutil.copyfile(_SEEDED[0], target)
    return cli_db


def run(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.output


def count(url: str, model: type) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        n = s.scalar(select(func.count()).select_from(model)) or 0
    engine.dispose()
    return n


def test_load_seed_and_enroll_with_preview(cli_db: str):
    assert run("protocols", "load")[0] == 0
    code, out = run("demo", "seed")
    assert code == 0 and "60 members" in out  # 48 with a plan, 6 long inactive, 6 new
    # Every demo account is printed, so a new user can sign in as each persona.
    for username in ("admin", "duzhi", "xh.manager", "xh.pharmacist", "xh.clerk1", "pd.clerk2"):
        assert f"  {username} " in out, out
    assert "careplan-demo" in out
    plans_before = count(cli_db, CarePlan)
    code, out = run(
        "enroll",
        "--member",
        "M880001",
        "--protocol",
        "follow_up_333",
        "--start",
        "2026-11-20",
        "--as",
        "xh.clerk1",
        "--preview",
    )
    assert code == 0, out
    assert "day3_call" in out and "preview only: nothing saved" in out
    assert count(cli_db, CarePlan) == plans_before
    code, out = run("demo", "seed", "--if-empty")
    assert code == 0 and "skipped" in out


def test_a_bad_protocol_file_is_named_and_nothing_loaded(cli_db: str, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD.replace("    week: 2\n", "    week: 2\n    colour: red\n"), encoding="utf-8"
    )
    code, out = run("protocols", "load", str(tmp_path))
    assert code == 2
    assert f"error: {bad}:19: checkpoints[second]: unknown field 'colour'" in out
    assert count(cli_db, ProtocolVersion) == 0
    assert run("protocols", "check", str(bad))[0] == 2


def test_a_changed_published_protocol_is_refused_by_check(cli_db: str, tmp_path: Path):
    f = tmp_path / "tiny.yaml"
    f.write_text(GOOD, encoding="utf-8")
    assert run("protocols", "load", str(f))[0] == 0
    f.write_text(GOOD.replace("按时服药", "每天服药"), encoding="utf-8")
    code, out = run("protocols", "check", str(f))
    assert code == 2 and "already published with different content" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "--member",
                "M880001",
                "--protocol",
                "osteoporosis",
                "--start",
                "31/01/2024",
                "--as",
                "xh.clerk1",
            ),
            "start: '31/01/2024' is not a date",
        ),
        (
            (
                "--member",
                "NOPE",
                "--protocol",
                "osteoporosis",
                "--start",
                "2026-11-20",
                "--as",
                "xh.clerk1",
            ),
            "member: no member with card number 'NOPE'",
        ),
        (
            (
                "--member",
                "M880001",
                "--protocol",
                "gout",
                "--start",
                "2026-11-20",
                "--as",
                "xh.clerk1",
            ),
            "protocol_id: protocol gout is not published",
        ),
        (
            (
                "--member",
                "M880001",
                "--protocol",
                "osteoporosis",
                "--start",
                "2026-11-20",
                "--as",
                "ghost",
            ),
            "username: no staff member with username 'ghost'",
        ),
    ],
)
def test_bad_enrol_arguments_say_what_is_wrong_and_write_nothing(seeded_db: str, args, message):
    before = count(seeded_db, CarePlan), count(seeded_db, Member)
    code, out = run("enroll", *args)
    assert code == 2 and f"error: {message}" in out, out
    assert (count(seeded_db, CarePlan), count(seeded_db, Member)) == before


def test_staff_add_refuses_a_short_password(cli_db: str):
    code, out = run("staff", "add", "newbie", "新人", "clerk", "--password", "short")
    assert code == 2 and "password" in out


def test_sheets_print_writes_one_pdf_of_the_days_contacts_and_records_each(
    seeded_db: str, tmp_path: Path
):
    out_file = tmp_path / "day.pdf"

    code, out = run(
        "sheets", "print", "--store", "SH001", "--as", "xh.manager", "--out", str(out_file)
    )

    assert code == 0, out
    n = int(out.split("\n")[-2].split()[0])  # "<n> sheets written to ..."
    assert n > 3 and count(seeded_db, SheetPrint) == n
    assert pdf.pages(out_file.read_bytes()) >= n
    assert "laying out sheets" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "NOPE", "--as", "xh.manager"], "store"),
        (["--store", "SH001", "--as", "xh.manager", "--date", "2026-13-01"], "date"),
        (["--store", "SH001", "--as", "xh.clerk1"], "only a manager"),
        (["--store", "SH001", "--as", "xh.manager", "--date", "2030-01-01"], "no contacts"),
        (["--store", "SH001", "--as", "xh.manager", "--language", "fr"], "language"),
    ],
)
def test_bad_sheet_arguments_say_what_is_wrong_and_print_nothing(
    seeded_db: str, tmp_path: Path, args: list[str], message: str
):
    out_file = tmp_path / "x.pdf"

    code, out = run("sheets", "print", *args, "--out", str(out_file))

    assert code == 2 and message in out, out
    assert not out_file.exists() and count(seeded_db, SheetPrint) == 0


def _generate(seed: str = "5") -> tuple[int, str]:
    run("protocols", "load")
    return run(
        "demo", "generate", "--stores", "3", "--members", "300", "--seed", seed,
        "--today", "2024-03-20",
    )  # fmt: skip


def test_demo_generate_builds_a_deterministic_chain_the_audit_reads(cli_db: str):
    code, out = _generate()
    assert code == 0, out
    assert "3 stores" in out and "300 members" in out
    first = count(cli_db, Checkpoint)
    assert first >= 300 * 3  # every stage of several plans per member, on average
    code, report = run(
        "audit", "report", "--as", "g005.supervisor.1", "--as-of", "2024-03-20", "--format", "csv"
    )
    assert code == 0, report
    rows = list(csv.reader(io.StringIO(report)))
    assert rows[0][:2] == ["key", "name"] and {r[0] for r in rows[1:]} == {"华东", "华北", "华南"}
    overdue = sum(int(r[7]) for r in rows[1:])
    code, steps = run(
        "audit", "steps", "--as", "g005.supervisor.1", "--as-of", "2024-03-20", "--format", "csv"
    )
    listed = list(csv.reader(io.StringIO(steps)))[1:]
    assert code == 0 and overdue > 0 and len(listed) == overdue
    assert [r[10] for r in listed] == sorted(r[10] for r in listed)  # oldest first
    code, out = _generate()
    assert code == 2 and "seed" in out  # the same chain twice is refused, nothing added
    assert count(cli_db, Checkpoint) == first


def test_the_same_seed_gives_the_same_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    totals = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name}.db"
        monkeypatch.setenv("CAREPLAN_DATABASE_URL", url)
        get_settings.cache_clear()
        migrate.upgrade(url)
        assert _generate("9")[0] == 0
        totals.append(run("audit", "report", "--as", "g009.supervisor.1", "--as-of", "2024-03-20"))
    get_settings.cache_clear()
    assert totals[0] == totals[1] and totals[0][0] == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (("--as", "g005.supervisor.1", "--format", "xml"), "format"),
        (("--as", "g005.supervisor.1", "--as-of", "tomorrow"), "as_of"),
        (("--as", "g005.supervisor.1", "--store", "NOPE"), "store"),
        (("--as", "nobody"), "nobody"),
    ],
)
def test_bad_audit_arguments_name_the_field(cli_db: str, args, message):
    _generate()
    code, out = run("audit", "report", *args)
    assert code == 2 and message in out


def test_run_job_imports_a_queued_upload_once(
    seeded_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """What a consumer does with an upload's job, run by an operator:
    `careplan purchases run-job ID`."""
    import sqlite3

    from careplan.access import Actor
    from careplan.adherence import import_jobs
    from careplan.jobs import lease
    from careplan.models import ImportJob, Purchase, Staff, Store

    work = tmp_path / "work"
    monkeypatch.setenv("CAREPLAN_WORK_DIR", str(work))
    get_settings.cache_clear()
    engine = make_engine(seeded_db)
    with make_session_factory(engine)() as s:
        manager = s.scalars(select(Staff).where(Staff.username == "xh.manager")).one()
        card, store = s.execute(
            select(Member.card_number, Store.code)
            .join(Store, Member.home_store_id == Store.id)
            .where(Store.id == manager.store_id)
        ).first()  # type: ignore[misc]
        actor = Actor.of(manager, via="test")
        lines = "card_number,product_code,product_name,quantity,days_supply,purchased_on,"
        lines += "store_code,amount\n"
        lines += f"{card},A70,阿仑膦酸钠片,1,28,2026-11-01,{store},58.00\n"
        job = import_jobs.queue(
            s, work, io.BytesIO(lines.encode()), file_name="till.csv", actor=actor,
            today=date(2026, 11, 20), now=datetime.now(UTC),
        ).id  # fmt: skip
        s.commit()
    before = count(seeded_db, Purchase)
    renew, others = lease.Claim.renew, []

    def reported(self, factory, now, **values):  # type: ignore[no-untyped-def]
        renew(self, factory, now, **values)  # the job has checked lines, not written them
        other = sqlite3.connect(seeded_db.removeprefix("sqlite:///"), timeout=0)
        other.execute("BEGIN IMMEDIATE")  # at once, or "database is locked"
        other.rollback()
        other.close()
        others.append("wrote")

    monkeypatch.setattr(lease.Claim, "renew", reported)
    code, out = run("purchases", "run-job", str(job))
    assert code == 0 and f"import job {job} finished" in out, out
    assert others == ["wrote"]  # checking the file holds no write lock
    assert count(seeded_db, Purchase) == before + 1
    assert not import_jobs.upload_path(work, job).exists()
    code, out = run("purchases", "run-job", str(job))  # again: a second delivery
    assert code == 0 and f"import job {job} is not waiting" in out
    assert count(seeded_db, Purchase) == before + 1
    with make_session_factory(engine)() as s:
        assert s.get_one(ImportJob, job).result == {
            "import_id": s.get_one(ImportJob, job).import_id, "lines": 1, "added": 1,
            "already_there": 0, "encoding": "utf-8",
        }  # fmt: skip
    engine.dispose()


def test_jobs_sweep_deletes_uploads_no_job_will_read(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import os

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("CAREPLAN_WORK_DIR", str(work))
    get_settings.cache_clear()
    left = work / "import-41.csv"  # no job was ever committed for it
    left.write_bytes(b"card_number\n")
    os.utime(left, (0, 0))
    fresh = work / "import-42.csv"  # perhaps its job is being committed
    fresh.write_bytes(b"card_number\n")
    code, out = run("jobs", "sweep")
    assert code == 0 and "0 job(s) queued again, 0 failed, 1 uploaded till file(s) deleted" in out
    assert not left.exists() and fresh.exists()
    assert (tmp_path / "jobs.db").exists()  # the queue: a file beside the database


def test_audit_log_verify_names_the_entry_that_was_edited(seeded_db: str):
    import sqlite3

    code, out = run("audit-log", "verify")
    assert code == 0 and "change_log:" in out and "entries intact" in out
    db = sqlite3.connect(seeded_db.removeprefix("sqlite:///"))
    db.execute("DROP TRIGGER change_log_no_update")  # someone with the file's rights
    db.execute("DROP TRIGGER change_log_erase_only")
    db.execute("UPDATE change_log SET via = 'web' WHERE seq = 42")
    db.commit()
    db.close()
    code, out = run("audit-log", "verify")
    assert code == 1
    assert "change_log: BROKEN at seq 42" in out and "edited after it was written" in out


def test_audit_log_verify_finds_a_chain_cut_short_against_the_heads_it_kept(
    seeded_db: str, tmp_path: Path
):
    import sqlite3

    heads = tmp_path / "heads.csv"
    code, out = run("audit-log", "verify", "--heads", str(heads))
    assert code == 0 and f"heads written to {heads}" in out
    assert run("audit-log", "verify", "--against", str(heads))[0] == 0
    db = sqlite3.connect(seeded_db.removeprefix("sqlite:///"))
    db.execute("DROP TRIGGER change_log_no_delete")  # someone with the file's rights
    chain, newest = db.execute(
        "SELECT chain, max(seq) FROM change_log WHERE chain > 0 GROUP BY chain LIMIT 1"
    ).fetchone()
    db.execute("DELETE FROM change_log WHERE chain = ? AND seq = ?", (chain, newest))
    db.commit()
    db.close()
    assert run("audit-log", "verify")[0] == 0  # the log alone cannot tell
    kept = heads.read_text(encoding="utf-8")
    code, out = run("audit-log", "verify", "--against", str(heads), "--heads", str(heads))
    assert code == 1
    assert (
        f"change_log: BROKEN at seq {newest} in chain {chain}: entries up to its kept head" in out
    )
    # The nightly run that found it leaves the kept heads as they were: it shows again.
    assert heads.read_text(encoding="utf-8") == kept and "heads written" not in out
    not_heads = tmp_path / "other.csv"
    not_heads.write_text("card_number\nM1\n", encoding="utf-8")
    code, out = run("audit-log", "verify", "--against", str(not_heads))
    assert code == 2 and "not a file of kept heads" in out


def test_erasure_run_anonymises_members_past_retention_and_needs_yes(seeded_db: str):
    engine = make_engine(seeded_db)
    long_ago = datetime(2020, 1, 5, tzinfo=UTC)
    with engine.begin() as db:  # one member untouched since 2020, nothing live
        member_id = db.scalar(select(Member.id).order_by(Member.id).limit(1))
        mine = {"member_id": member_id}
        db.execute(text("UPDATE care_plans SET status = 'completed', completed_on = '2020-01-05' "
                        "WHERE member_id = :member_id"), mine)  # fmt: skip
        old = {"measured_at": long_ago, "recorded_at": long_ago, "updated_at": long_ago,
               "purchased_on": long_ago.date()}  # fmt: skip
        for table, column, key in (
            ("health_checks", "measured_at", "member_id"),
            ("effect_records", "recorded_at", "member_id"),
            ("purchases", "purchased_on", "member_id"),
            ("members", "updated_at", "id"),
        ):
            stmt = text(f"UPDATE {table} SET {column} = :t WHERE {key} = :member_id")
            db.execute(stmt, mine | {"t": old[column]})
    code, out = run("erasure", "due")
    assert code == 0 and f"1 members due for erasure: [{member_id}]" in out
    code, out = run("erasure", "run")
    assert code == 2 and "--yes" in out
    code, out = run("erasure", "run", "--yes")
    assert code == 0 and "erased 1 members" in out, out
    with make_session_factory(engine)() as s:
        member = s.get(Member, member_id)
        assert member is not None and member.name == "已删除" and member.mobile is None
    engine.dispose()
    assert run("erasure", "due")[1].startswith("0 members")
    assert run("audit-log", "verify")[0] == 0


def test_enroll_file_names_the_bad_line_and_enrols_nobody(seeded_db: str, tmp_path: Path):
    today = date.today()
    file = tmp_path / "enrol.csv"
    file.write_text(
        "card_number,protocol,start\n"
        f"M880001,osteoporosis,{today}\n"
        f"M880002,osteoporosis,{today.replace(year=today.year - 3)}\n",
        encoding="utf-8",
    )
    plans_before = count(seeded_db, CarePlan)
    code, out = run("enroll-file", str(file), "--as", "xh.clerk1")
    assert code == 2 and "start_date (line 3): must be within a year" in out, out
    assert count(seeded_db, CarePlan) == plans_before
    file.write_text("card_number,protocol\nM880001,osteoporosis\n", encoding="utf-8")
    code, out = run("enroll-file", str(file), "--as", "xh.clerk1")
    assert code == 2 and "start (line 1): the header lacks start" in out


def test_enroll_file_names_the_line_and_field_of_a_nul_or_an_overlong_field(
    cli_db: str, tmp_path: Path
):
    file = tmp_path / "enrol.csv"
    for bad in ("M88\x000001", "x" * 140_000):  # NUL, and past the csv module's limit
        file.write_text(f"card_number,protocol,start\nM880001,osteoporosis,2024-03-01\n"
                        f"{bad},osteoporosis,2024-03-01\n", encoding="utf-8")  # fmt: skip
        code, out = run("enroll-file", str(file), "--as", "xh.clerk1")
        assert code == 2 and "card_number (line 3)" in out, out[:300]
    assert count(cli_db, CarePlan) == 0


def test_end_covers_gives_members_back_once_the_last_day_has_passed(seeded_db: str):
    from datetime import timedelta

    from careplan import clock
    from careplan.access import Actor
    from careplan.members import archive
    from careplan.models import Ownership, Staff

    engine = make_engine(seeded_db)
    with make_session_factory(engine)() as s:
        manager = s.scalar(select(Staff).where(Staff.username == "xh.manager"))
        clerk1 = s.scalar(select(Staff).where(Staff.username == "xh.clerk1"))
        clerk2 = s.scalar(select(Staff).where(Staff.username == "xh.clerk2"))
        assert manager and clerk1 and clerk2
        s.info["actor"] = Actor.of(manager, via="test")
        moved = archive.reassign_all(s, s.info["actor"], clerk1.id, clerk2.id, staff_left=False,
                                     now=clock.now(), until=clock.today())  # fmt: skip
        s.commit()
        clerk1_id = clerk1.id
    assert moved > 0
    assert run("staff", "end-covers") == (0, "0 members back with their owners\n")  # last day
    with engine.begin() as conn:  # the last day is now yesterday
        conn.execute(Ownership.__table__.update().where(Ownership.reason == "cover").values(
            cover_until=clock.today() - timedelta(days=1)))  # fmt: skip
    assert run("staff", "end-covers") == (0, f"{moved} members back with their owners\n")
    with make_session_factory(engine)() as s:
        mine = select(func.count()).select_from(Member).where(Member.owner_id == clerk1_id)
        owned = s.scalar(mine)
    assert owned == moved
    engine.dispose()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    """What `careplan serve` hands to uvicorn, with no server started."""
    import uvicorn

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"app": target} | kw))
    # `serve` sets CAREPLAN_WORKERS for its processes: set here first, so that the
    # monkeypatch puts back what was there before (nothing) after the test.
    monkeypatch.setenv("CAREPLAN_WORKERS", "1")
    monkeypatch.delenv("CAREPLAN_WORKERS")
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def test_serve_starts_n_worker_processes_from_the_app_factory_with_our_logs(
    served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
):
    import os

    monkeypatch.setenv("CAREPLAN_LOG_FORMAT", "json")
    assert run("serve", "--workers", "3", "--port", "8399")[0] == 0
    (options,) = served
    assert options["app"] == "web.app:create_app" and options["factory"] is True
    assert options["workers"] == 3 and options["port"] == 8399
    assert options["host"] == "127.0.0.1"
    assert options["access_log"] is False  # ours replaces uvicorn's (web/request_log.py)
    config = options["log_config"]
    assert isinstance(config, dict)
    assert config["formatters"]["default"]["()"] == "careplan.logs.JsonFormatter"
    # Each process reads how many share the machine (the sign-in's share of the cores).
    assert os.environ["CAREPLAN_WORKERS"] == "3"


def test_serve_takes_the_workers_and_proxies_from_the_settings(
    served: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CAREPLAN_WORKERS", "2")
    monkeypatch.setenv("CAREPLAN_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16")
    assert run("serve")[0] == 0
    monkeypatch.setenv("CAREPLAN_TRUSTED_PROXIES", "")
    get_settings.cache_clear()
    assert run("serve")[0] == 0
    trusting, trusting_none = served
    assert trusting["workers"] == 2 and trusting["port"] == 8000
    assert trusting["proxy_headers"] is True
    assert trusting["forwarded_allow_ips"] == "10.0.0.5,10.1.0.0/16"
    # No proxy named: X-Forwarded-For is never believed, the peer is the client.
    assert trusting_none["proxy_headers"] is False
    config = trusting["log_config"]
    assert isinstance(config, dict)  # development: text for a person at a terminal
    assert config["formatters"]["default"]["()"] == "careplan.logs.TextFormatter"


@pytest.mark.parametrize("workers", ["0", "65"])
def test_serve_refuses_a_worker_count_out_of_range(served: list[dict[str, object]], workers: str):
    code, output = run("serve", "--workers", workers)
    assert code == 2 and "--workers" in output and not served


def test_value_refresh_computes_the_snapshot_in_process(seeded_db: str):
    from careplan.models import MemberTallyRun, ValueSnapshot

    code, out = run("value", "refresh")
    assert code == 0 and "value snapshot" in out and "members bought" in out, out
    engine = make_engine(seeded_db)
    with make_session_factory(engine)() as s:
        fresh = s.scalars(select(ValueSnapshot).order_by(ValueSnapshot.id.desc())).first()
        run_ = s.scalars(select(MemberTallyRun).order_by(MemberTallyRun.id.desc())).first()
        assert fresh is not None and fresh.ready_at is not None
        assert f"value snapshot {fresh.id}:" in out
        # The analysis counts follow it: complete, and made of this snapshot.
        assert run_ is not None and run_.ready_at is not None and run_.snapshot_id == fresh.id
    engine.dispose()
