"""The `careplan` command: database, protocols, enrolment, demo data, the server and the
job consumer (`careplan jobs consume`, which `careplan serve` starts beside itself on one
machine).

Each command is one transaction: it commits only if everything in it succeeded, and a
bad input prints `error: <field>: <message>` and exits with status 2, writing nothing.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock, csv_export, logs, migrate
from careplan.access import Actor, scope_members
from careplan.audit import audit
from careplan.config import Settings, get_settings, proxy_list
from careplan.db import make_engine, make_session_factory, transaction
from careplan.demo import chain, synthetic
from careplan.errors import N_, CareplanError
from careplan.members import archive as members_rules
from careplan.models import Member, Store, ValueSnapshot
from careplan.plans import lifecycle, protocols
from careplan.plans.protocols import ProtocolFileError
from careplan.sheets import sheets
from careplan.staff import StaffIn, by_username, create_staff
from careplan.validation import describe
from careplan.vocab import Paper, Role
from web.embedded_consumer import EmbeddedConsumer

if TYPE_CHECKING:
    from careplan.trust.ledger import Head

app = typer.Typer(
    help="careplan: chronic-disease care plans for pharmacy chains.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
protocols_app = typer.Typer(help="Care protocols (YAML).", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
sheets_app = typer.Typer(help="Patient guidance sheets (PDF).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(protocols_app, name="protocols")
app.add_typer(demo_app, name="demo")
app.add_typer(staff_app, name="staff")
app.add_typer(sheets_app, name="sheets")
purchases_app = typer.Typer(help="Purchases from the till (CSV).", no_args_is_help=True)
app.add_typer(purchases_app, name="purchases")
audit_app = typer.Typer(
    help="Supervisor audit of overdue steps (table or CSV).", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
audit_log_app = typer.Typer(
    help="The change log and the access log (append-only, hash-chained).", no_args_is_help=True
)
app.add_typer(audit_log_app, name="audit-log")

T = TypeVar("T")


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def guarded(fn: Callable[[], T]) -> T:
    """Run one command body; turn every expected error into a plain message."""
    try:
        return fn()
    except ProtocolFileError as exc:
        for issue in exc.issues:
            typer.echo(f"error: {issue}", err=True)
        raise typer.Exit(2) from None
    except CareplanError as exc:
        fail(exc.text)
    except ValidationError as exc:
        fail(describe(dict(exc.errors()[0]))[1])
    raise AssertionError("unreachable")


def checked_settings() -> Settings:
    """The settings, or each wrong one named with pydantic's own words: the operator who
    sets environment variables reads the terminal in English, not the catalogues."""
    try:
        return get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            cause = (err.get("ctx") or {}).get("error")
            where = ".".join(str(p) for p in err.get("loc", ())) or "settings"
            typer.echo(f"error: {where}: {cause or err['msg']}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def progress_to(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A bar at a terminal; in a log (cron, a pipe) one line per report, so whoever
    watches sees how far a long operation got."""
    if sys.stderr.isatty():
        with typer.progressbar(length=total, label=label, file=sys.stderr) as bar:
            yield lambda n: bar.update(n - bar.pos)
        return
    yield lambda n: typer.echo(f"{label}: {n} / {total}", err=True)


@contextmanager
def unit_of_work(actor: Actor, *, writing: bool = False) -> Iterator[Session]:
    """One transaction. `writing`: a command that reads before it writes takes SQLite's
    write lock at BEGIN, as web writes do (careplan/db.py), so a commit in between cannot
    fail it with "database is locked"."""
    engine = make_engine()
    try:
        with transaction(make_session_factory(engine), actor=actor, writing=writing) as session:
            yield session
    finally:
        engine.dispose()


def require_file(file: Path) -> None:
    if not file.is_file():
        raise CareplanError(N_("no such file: %(file)s"), field="file", file=file)


def actor_for(session: Session, username: str) -> Actor:
    actor = Actor.of(by_username(session, username), via="cli")
    session.info["actor"] = actor
    return actor


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Bring the database schema up to date (creates the SQLite file if needed)."""
    url = get_settings().database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(revision=revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target, e.g. base")]) -> None:
    """Step the schema back (destroys data in dropped tables)."""
    migrate.downgrade(revision=revision)
    typer.echo(f"database at {revision}")


def _targets(path: Path | None) -> list[Path]:
    target = path or get_settings().protocols_dir
    if not target.exists():
        fail(f"path: {target} does not exist")
    return protocols.protocol_files(target)


@protocols_app.command("check")
def protocols_check(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Validate protocol files (and that published versions did not change); loads nothing."""

    def body() -> None:
        loaded = protocols.read_files(_targets(path))
        with unit_of_work(Actor.system("cli")) as session:
            issues = protocols.check_published(session, loaded)
            session.rollback()
        if issues:
            raise ProtocolFileError(issues)
        for item in loaded:
            typer.echo(f"ok  {item.ref}  {item.path}")

    guarded(body)


@protocols_app.command("load")
def protocols_load(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Publish new protocol versions; all files or none."""

    def body() -> None:
        loaded = protocols.read_files(_targets(path))
        with unit_of_work(Actor.system("cli")) as session:
            for item, new in protocols.publish(session, loaded):
                typer.echo(f"{'published' if new else 'unchanged'}  {item.ref}")

    guarded(body)


@protocols_app.command("list")
def protocols_list() -> None:
    """Published protocol versions."""
    with unit_of_work(Actor.system("cli")) as session:
        for row in protocols.list_versions(session):
            d = protocols.definition_of(row)
            typer.echo(
                f"{row.protocol_id}\tv{row.version}\t{len(d.checkpoints)} steps\t"
                f"{d.title.zh} / {d.title.en}"
            )


@app.command("enroll")
def enroll(
    member: Annotated[str, typer.Option(help="member card number")],
    protocol: Annotated[str, typer.Option(help="protocol id")],
    start: Annotated[str, typer.Option(help="start date, YYYY-MM-DD")],
    as_user: Annotated[str, typer.Option("--as", help="username of the staff member")],
    version: Annotated[int | None, typer.Option(help="protocol version (default latest)")] = None,
    preview: Annotated[bool, typer.Option(help="show the dates and save nothing")] = False,
) -> None:
    """Enrol a member in a protocol (shows the dates; --preview saves nothing)."""

    def body() -> None:
        start_date = _parse_date(start, "start")
        with unit_of_work(Actor.system("cli")) as session:
            actor = actor_for(session, as_user)
            member_id = _member_id(session, actor, member)
            _, steps = lifecycle.preview(
                session, protocol, version, start_date, today=clock.today()
            )
            for s in steps:
                typer.echo(
                    f"{s.key:24} open {s.dates.open_on}  due {s.dates.due_on}  "
                    f"overdue from {s.dates.overdue_on}  {s.title.zh}"
                )
            if preview:
                session.rollback()
                typer.echo("preview only: nothing saved")
                return
            plan = lifecycle.enroll(
                session,
                actor,
                member_id=member_id,
                protocol_id=protocol,
                version=version,
                start=start_date,
                today=clock.today(),
                now=clock.now(),
            )
            typer.echo(f"enrolled: plan {plan.id}")

    guarded(body)


@app.command("enroll-file")
def enroll_file(
    file: Annotated[Path, typer.Argument(help="CSV: card_number,protocol,start")],
    as_user: Annotated[str, typer.Option("--as", help="username of the staff member")],
) -> None:
    """Enrol many members from a CSV file: all lines or none."""
    from careplan.plans import enrolment_file

    def body() -> None:
        require_file(file)
        lines = enrolment_file.read_lines(file.read_text(encoding="utf-8-sig"))
        with unit_of_work(Actor.system("cli"), writing=True) as session:
            actor = actor_for(session, as_user)
            with progress_to(len(lines), "enrolling") as progress:
                ids = enrolment_file.enroll_lines(session, actor, lines, today=clock.today(),
                                                  now=clock.now(), progress=progress)  # fmt: skip
        typer.echo(f"enrolled {len(ids)} members")

    guarded(body)


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CareplanError(N_("'%(value)s' is not a date (YYYY-MM-DD)"), field=field,
                            value=value) from None  # fmt: skip


def _member_id(session: Session, actor: Actor, card: str) -> int:
    found = session.scalar(
        scope_members(select(Member.id), actor).where(Member.card_number == card)
    )
    if found is None:
        raise CareplanError(N_("no member with card number '%(card)s'"), field="member", card=card)
    return found


@staff_app.command("add")
def staff_add(
    username: str,
    name: str,
    role: Role,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    store: Annotated[str | None, typer.Option(help="home store code")] = None,
) -> None:
    """Create a staff account (password at least 12 characters)."""

    def body() -> None:
        with unit_of_work(Actor.system("cli")) as session:
            staff = create_staff(
                session,
                StaffIn(
                    username=username, name=name, role=role, store_code=store, password=password
                ),
            )
            typer.echo(f"created staff {staff.id} ({staff.username})")

    guarded(body)


def _store_id(session: Session, code: str) -> int:
    found = session.scalar(select(Store.id).where(Store.code == code))
    if found is None:
        raise CareplanError(N_("no store with code %(code)s"), field="store", code=code)
    return found


@sheets_app.command("print")
def sheets_print(
    store: Annotated[str, typer.Option(help="store code")],
    as_user: Annotated[str, typer.Option("--as", help="username of who prints (recorded)")],
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default today)")] = None,
    staff: Annotated[
        str | None, typer.Option(help="username: only their contacts (default: whole store)")
    ] = None,
    paper: Annotated[Paper, typer.Option(help="paper size")] = Paper.a4,
    language: Annotated[
        str | None, typer.Option(help="zh or en for every sheet (default: each member's)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="PDF file to write")] = None,
) -> None:
    """Print a day's contacts of a store (or of one person) as one PDF, with progress."""
    from web.sheet_pdf import render_pdf  # the PDF layer: loaded only by this command

    def body() -> None:
        day = _parse_date(on, "date") if on else clock.today()
        with unit_of_work(Actor.system("cli")) as session:
            actor = actor_for(session, as_user)
            store_id = _store_id(session, store)
            staff_id = by_username(session, staff).id if staff else None
            ids = sheets.todays_contacts(
                session, actor, store_id=store_id, on=day, staff_id=staff_id
            )
            if not ids:
                raise CareplanError(N_("no contacts on %(day)s"), field="date", day=day)
            found = sheets.build_sheets(session, actor, ids, now=clock.now(), language=language)
            target = out or Path(f"sheets-{store}-{day}.pdf")
            with typer.progressbar(length=len(found), label="laying out sheets") as bar:
                pdf = render_pdf(found, paper, lambda n: bar.update(n - bar.pos))
            target.write_bytes(pdf)
            sheets.record_prints(session, actor, found, paper=paper, now=clock.now())
        typer.echo(f"{len(found)} sheets written to {target}")

    guarded(body)


@sheets_app.command("run-batch")
def sheets_run_batch(batch_id: int) -> None:
    """Render a queued batch now, in this process (as a consumer would: once)."""
    from careplan.jobs import runs
    from web.sheet_pdf import render_pdf

    with _job_factory() as (factory, token, lease):
        done = runs.run_sheet_batch(factory, batch_id, render_pdf, token=token,
                                    clock=clock.now, lease=lease)  # fmt: skip
    typer.echo(f"batch {batch_id} rendered" if done else f"batch {batch_id} is not waiting")


@contextmanager
def _job_factory() -> Iterator[tuple[sessionmaker[Session], str, timedelta]]:
    """A session factory on the settings' database, a claim token of this command's own
    and the lease: an operator's run claims the row as a consumer's task does."""
    settings = checked_settings()
    engine = make_engine()
    try:
        token = f"cli-{uuid.uuid4()}"
        yield make_session_factory(engine), token, timedelta(seconds=settings.jobs_lease_seconds)
    finally:
        engine.dispose()


@demo_app.command("seed")
def demo_seed(
    if_empty: Annotated[bool, typer.Option(help="do nothing if the database has data")] = False,
) -> None:
    """Seed a small demo chain (2 stores, 10 staff, 60 members, 48 of them with plans)."""
    with unit_of_work(Actor.system("demo")) as session:
        if not chain.is_empty(session):
            if if_empty:
                typer.echo("database has data: demo seed skipped")
                return
            fail("database: not empty; the demo seeds an empty database only")
        counts = chain.seed(session, today=clock.today(), now=clock.now())
    from careplan.jobs import tasks

    tasks.refresh_value_now()  # the spend page has figures at once, not after tonight's run
    typer.echo("demo chain: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    typer.echo(f"demo accounts (password {chain.DEMO_PASSWORD}):")
    for username, name, role, store_code in chain.STAFF:
        typer.echo(f"  {username:<14} {role.value:<14} {store_code or 'head office':<12} {name}")


@demo_app.command("generate")
def demo_generate(
    stores: Annotated[int, typer.Option(help="how many stores")],
    members: Annotated[int, typer.Option(help="how many members in all")],
    seed: Annotated[int, typer.Option(help="0-999: the same seed gives the same chain")] = 1,
    today: Annotated[str | None, typer.Option(help="YYYY-MM-DD the history leads up to")] = None,
) -> None:
    """Generate a synthetic chain (benchmarks, rehearsals): bulk-inserted, one transaction."""

    def body() -> None:
        day = _parse_date(today, "today") if today else clock.today()
        spec = synthetic.ChainSpec(stores=stores, members=members, seed=seed, today=day)
        spec.check()
        started = time.perf_counter()
        with unit_of_work(Actor.system("demo")) as session:
            expected = 2 * synthetic.estimate_checkpoints(session, spec)  # made, then written
            with typer.progressbar(length=expected, label="generating steps", width=30) as bar:
                counts = synthetic.generate(session, spec, bar.update)
            typer.echo("committing…")
        seconds = time.perf_counter() - started
        typer.echo(", ".join(f"{v} {k}" for k, v in vars(counts).items()))
        rate = counts.checkpoints / seconds if seconds else 0
        typer.echo(f"{seconds:.1f} s, {rate:,.0f} steps/s")

    guarded(body)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"


AuditFormat = Annotated[OutputFormat, typer.Option("--format", help="table or csv")]
# The scope and period options both audit commands take.
Auditor = Annotated[str, typer.Option("--as", help="username of who audits")]
Region = Annotated[str | None, typer.Option(help="a region (supervisors)")]
StoreCode = Annotated[str | None, typer.Option(help="a store code")]
Username = Annotated[str | None, typer.Option(help="a username")]
AsOf = Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")]
PeriodFrom = Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")]
PeriodTo = Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")]
ProtocolId = Annotated[str | None, typer.Option(help="one protocol id")]


def _audit_query(
    session: Session,
    actor: Actor,
    region: str | None,
    store: str | None,
    staff: str | None,
    as_of: str | None,
    period_from: str | None,
    period_to: str | None,
    protocol: str | None,
) -> audit.AuditQuery:
    scope = audit.resolve_scope(
        session,
        actor,
        region=region,
        store_id=_store_id(session, store) if store else None,
        staff_id=by_username(session, staff).id if staff else None,
    )
    return audit.make_query(
        scope,
        today=clock.today(),
        as_of=_parse_date(as_of, "as_of") if as_of else None,
        period_from=_parse_date(period_from, "period_from") if period_from else None,
        period_to=_parse_date(period_to, "period_to") if period_to else None,
        protocol_id=protocol,
    )


def _emit(fmt: OutputFormat, header: list[str], rows: Iterator[list[object]]) -> None:
    if fmt is OutputFormat.csv:
        for chunk in csv_export.csv_lines(header, rows):
            typer.echo(chunk.removeprefix("\ufeff"), nl=False)
        return
    table = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@audit_app.command("report")
def audit_report(
    as_user: Auditor,
    region: Region = None,
    store: StoreCode = None,
    staff: Username = None,
    as_of: AsOf = None,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    protocol: ProtocolId = None,
    fmt: AuditFormat = OutputFormat.table,
) -> None:
    """Overdue by aging bucket, missed, rates and escalations, one level down."""

    def body() -> None:
        with unit_of_work(Actor.system("cli")) as session:
            actor = actor_for(session, as_user)
            q = _audit_query(
                session, actor, region, store, staff, as_of, period_from, period_to, protocol
            )
            r = audit.report(session, actor, q)
            _emit(fmt, audit.ROW_FIELDS, (audit.row_values(x) for x in r.rows))

    guarded(body)


@audit_app.command("steps")
def audit_steps(
    as_user: Auditor,
    region: Region = None,
    store: StoreCode = None,
    staff: Username = None,
    as_of: AsOf = None,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    protocol: ProtocolId = None,
    status: Annotated[str, typer.Option(help="overdue, missed or due")] = "overdue",
    bucket: Annotated[str | None, typer.Option(help="1-3, 4-7, 8-14, 15-30 or >30")] = None,
    fmt: AuditFormat = OutputFormat.table,
) -> None:
    """The steps themselves, oldest first (every one: pipe the CSV to a file)."""

    def body() -> None:
        if status not in ("overdue", "missed", "due"):
            raise CareplanError(N_("must be overdue, missed or due"), field="status")
        if bucket:
            audit.bucket_of(bucket)
        with unit_of_work(Actor.system("cli")) as session:
            actor = actor_for(session, as_user)
            q = _audit_query(
                session, actor, region, store, staff, as_of, period_from, period_to, protocol
            )
            f = audit.StepFilter(status=status, bucket=bucket)  # type: ignore[arg-type]
            rows = audit.step_rows(session, actor, q, f)
            _emit(fmt, audit.STEP_FIELDS, rows)

    guarded(body)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="app processes (default CAREPLAN_WORKERS, 1)")
    ] = None,
    consumer: Annotated[
        bool | None,
        typer.Option(
            help="run a job consumer beside the server (default: when "
            "CAREPLAN_JOBS_URL is unset, i.e. the queue is this machine's file)"
        ),
    ] = None,
) -> None:
    """Serve the web app and API (behind nginx in a chain: docs/deploy.md), and, by
    default on one machine, a job consumer beside it."""
    import uvicorn

    settings = checked_settings()  # a production server will not start on a placeholder
    options = server_options(settings, host, port, workers)
    # The processes read it at start (the sign-in's share of the cores: careplan/sign_in.py).
    os.environ["CAREPLAN_WORKERS"] = str(options["workers"])
    embedded = settings.jobs_embedded if consumer is None else consumer
    jobs = EmbeddedConsumer().start() if embedded else None
    try:
        uvicorn.run("web.app:create_app", **options)
    finally:
        if jobs is not None:
            jobs.stop()


KEEP_ALIVE_S = 65


def server_options(
    settings: Settings, host: str | None, port: int | None, workers: int | None
) -> dict[str, object]:
    """uvicorn's own workers: a supervisor that starts N processes on one socket, each
    building the app from the factory, and starts a new one when one dies. The app keeps
    nothing between requests that another process would need (sessions, CSRF seeds and
    sign-in limits are in the database or derived from the secret key)."""
    trusted = ",".join(proxy_list(settings.trusted_proxies))
    return {
        "factory": True,
        "host": host or settings.host,
        "port": port or settings.port,
        "workers": workers or settings.workers,
        # The client's address comes from X-Forwarded-For only when the peer is one of
        # these proxies; otherwise it is the peer's own, whatever the header says.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "log_config": logs.dict_config(settings.logs_as),
        # Longer than a proxy keeps an idle upstream connection (nginx: 60 s), so the app
        # never closes one the proxy is about to reuse (a POST on it would be a 502).
        "timeout_keep_alive": KEEP_ALIVE_S,
        "access_log": False,  # web/request_log.py writes one line per request instead
    }


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="the backup file to write (must not exist)")],
) -> None:
    """Back up the database while it runs (SQLite online backup, or pg_dump)."""
    from careplan.trust import backup

    def body() -> None:
        backup.backup(get_settings().database_url, file)
        typer.echo(f"backed up to {file} ({file.stat().st_size:,} bytes)")

    guarded(body)


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="a file written by `careplan backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="replace the database's contents")] = False,
) -> None:
    """Replace the database with a backup (stop the app first), then check it."""
    from careplan.trust import backup

    def body() -> None:
        if not yes:
            raise CareplanError(N_("restore replaces everything in the database: add --yes"),
                                field="yes")  # fmt: skip
        checked = backup.restore(get_settings().database_url, file)
        rows, tables = sum(checked.counts.values()), len(checked.counts)
        typer.echo(
            f"restored {file}: integrity {checked.integrity}, {rows:,} rows in {tables} "
            f"tables, migrations at head: {checked.at_head}"
        )
        if checked.integrity != "ok" or not checked.at_head:
            fail("the restored database needs attention (see above)")

    guarded(body)


@audit_log_app.command("verify")
def audit_log_verify(
    heads: Annotated[
        Path | None, typer.Option(help="write every chain's head to this CSV, to keep elsewhere")
    ] = None,
    against: Annotated[
        Path | None, typer.Option(help="heads kept from an earlier run: each must still hold")
    ] = None,
) -> None:
    """Walk both logs' hash chains (one per person); name the first entry that was edited
    or deleted, and with --against a chain cut short or resealed since its head was kept."""
    from careplan.trust.ledger import heads_csv, verify_all

    kept = guarded(lambda: _kept_heads(against)) if against else None
    engine = make_engine()
    try:
        with make_session_factory(engine)() as session:
            reports = verify_all(session, kept)
    finally:
        engine.dispose()
    for r in reports:
        if r.broken is None:
            erased = f", {r.erased} erased" if r.erased else ""
            typer.echo(f"{r.table}: {r.entries} entries intact in {r.chains} chains{erased}")
        else:
            b = r.broken
            entry = "" if b.entry_id is None else f" (id {b.entry_id})"
            typer.echo(f"{r.table}: BROKEN at seq {b.seq} in chain {b.chain}{entry}: {b.reason}")
    if any(r.broken for r in reports):
        # No heads written: a broken log's heads would overwrite the ones that show it.
        raise typer.Exit(1)
    if heads is not None:
        heads.write_text(heads_csv(reports), encoding="utf-8")
        typer.echo(f"heads written to {heads}: keep it where the database's writers cannot reach")


def _kept_heads(file: Path) -> dict[str, list[Head]]:
    from careplan.trust.ledger import read_heads

    require_file(file)
    try:
        return read_heads(file.read_text(encoding="utf-8"))
    except ValueError as exc:  # not the heads verify wrote, or not text
        fail(f"{file}: {exc}")
        raise


@purchases_app.command("run-job")
def purchases_run_job(job_id: int) -> None:
    """Import a queued upload now, in this process (as a consumer would: once)."""
    from careplan.jobs import runs

    with _job_factory() as (factory, token, lease):
        done = runs.run_import(factory, get_settings().work_dir, job_id, token=token,
                               clock=clock.now, lease=lease)  # fmt: skip
    typer.echo(f"import job {job_id} finished" if done else f"import job {job_id} is not waiting")


@purchases_app.command("import")
def purchases_import(
    file: Annotated[Path, typer.Argument(help="the till's CSV export (UTF-8 or GBK)")],
    as_user: Annotated[str, typer.Option("--as", help="username of who imports (recorded)")],
) -> None:
    """Import a till file: all lines or none; importing the same lines again adds nothing."""
    from careplan.adherence.till_import import (
        ImportRefused,
        count_lines,
        import_csv_committed,
    )

    def body() -> None:
        require_file(file)
        engine = make_engine()
        try:
            factory = make_session_factory(engine)
            with factory() as session:
                actor = actor_for(session, as_user)
            # Its own transactions: on SQLite the write lock is held for the final step
            # only, so the web app's writes go on meanwhile (purchase_import.py).
            with file.open("rb") as data:
                total = max(count_lines(data), 1)
                with progress_to(total, "importing") as progress:
                    result = import_csv_committed(
                        factory, actor, data, file_name=file.name, today=clock.today(),
                        now=clock.now(), progress=progress,
                    )  # fmt: skip
        except ImportRefused as exc:
            for problem in exc.problems:
                typer.echo(f"line {problem.line}: {problem.field}: {problem.message}", err=True)
            if exc.total > len(exc.problems):
                typer.echo(f"... {exc.total - len(exc.problems)} more problems", err=True)
            fail(f"{exc.total} bad line(s): nothing was imported")
        finally:
            engine.dispose()
        typer.echo(
            f"{result.lines} lines ({result.encoding}): {result.added} added, "
            f"{result.already_there} already imported"
        )

    guarded(body)


jobs_app = typer.Typer(
    help="Background jobs (sheet batches, large till imports) on the job engine.",
    no_args_is_help=True,
)
app.add_typer(jobs_app, name="jobs")


class WorkerType(StrEnum):
    process = "process"
    thread = "thread"


@jobs_app.command("consume")
def jobs_consume(
    workers: Annotated[int, typer.Option(min=1, max=32, help="jobs run at once")] = 1,
    worker_type: Annotated[
        WorkerType, typer.Option(help="process: each job its own CPU (the jobs are CPU-bound)")
    ] = WorkerType.process,
) -> None:
    """Run a consumer: it takes queued jobs (sheet batches, large till imports) and runs
    each once, and sweeps every minute. A chain runs one or more on several machines,
    all on one Redis queue (CAREPLAN_JOBS_URL=redis://…)."""
    import logging
    import logging.config

    from careplan.jobs import engine, tasks
    from web.sheet_pdf import render_pdf

    settings = checked_settings()
    # The server's format (JSON lines in production): `careplan serve` runs its consumer
    # on the same stderr, and one log reader reads both.
    logging.config.dictConfig(logs.dict_config(settings.logs_as))
    tasks.provide(render=render_pdf)
    logging.getLogger("careplan.jobs").info(
        "consuming %s (%s), %s %s worker(s)",
        settings.jobs_queue_url, settings.jobs_queue, workers, worker_type.value,
    )  # fmt: skip
    engine.consumer(workers=workers, worker_type=worker_type.value).run()


@jobs_app.command("sweep")
def jobs_sweep() -> None:
    """Sweep now (consumers do every minute): queue again the jobs a crash left, fail
    those given up, delete uploads no job will read."""
    from careplan.jobs import tasks

    def body() -> None:
        checked_settings()
        swept = tasks.sweep_now()
        typer.echo(f"{len(swept.requeue)} job(s) queued again, {swept.failed} failed, "
                   f"{swept.uploads_deleted} uploaded till file(s) deleted")  # fmt: skip

    guarded(body)


messages_app = typer.Typer(
    help="Messages to members (SMS, WeChat): templates, the day's build, the outbox.",
    no_args_is_help=True,
)
app.add_typer(messages_app, name="messages")


@messages_app.command("check")
def messages_check(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Validate the message templates (protocols/messages/templates.yaml by default) and
    that every template a published protocol's step names exists; loads nothing."""
    from careplan.outreach import templates as message_templates

    def body() -> None:
        settings = checked_settings()
        target = path or message_templates.templates_path(settings.protocols_dir)
        if not target.is_file():
            fail(f"path: {target} does not exist")
        found = message_templates.read_templates(target)
        with unit_of_work(Actor.system("cli")) as session:
            issues = message_templates.unknown_step_templates(session, found)
            session.rollback()
        if issues:
            raise ProtocolFileError(issues)
        typer.echo(f"ok  {len(found.by_key)} templates  {target}")

    guarded(body)


@messages_app.command("build")
def messages_build() -> None:
    """Build today's messages now (the consumers do it hourly; building again adds
    nothing) and queue their sending."""
    from careplan.jobs import tasks

    def body() -> None:
        checked_settings()
        built = tasks.build_now()
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(built.by_reason.items())) or "none"
        typer.echo(f"{built.added} message(s) added ({reasons}); "
                   f"{built.held_by_cap} held by the weekly cap")  # fmt: skip

    guarded(body)


@messages_app.command("preview")
def messages_preview(
    card: Annotated[str, typer.Argument(help="the member's card number")],
    template: Annotated[str, typer.Option(help="template key")] = "welcome",
) -> None:
    """Show a template as this member would read it (nothing is sent)."""
    from careplan.outreach import preview

    def body() -> None:
        settings = checked_settings()
        with unit_of_work(Actor.system("cli")) as session:
            member = session.scalar(select(Member).where(Member.card_number == card))
            if member is None:
                raise CareplanError(
                    N_("no member with card number '%(card)s'"), field="member", card=card
                )
            typer.echo(preview.render_for(session, member, template, settings=settings))
            session.rollback()

    guarded(body)


erasure_app = typer.Typer(
    help="Erasure when retention ends (members untouched for 3 years).", no_args_is_help=True
)
app.add_typer(erasure_app, name="erasure")


@erasure_app.command("due")
def erasure_due() -> None:
    """List the members whose retention has ended (nothing is changed)."""
    from careplan.members import erasure

    with unit_of_work(Actor.system("cli")) as session:
        due = erasure.due_for_erasure(session, today=clock.today())
    typer.echo(f"{len(due)} members due for erasure" + (f": {due}" if due else ""))


@erasure_app.command("run")
def erasure_run(
    yes: Annotated[bool, typer.Option("--yes", help="confirm: this cannot be undone")] = False,
) -> None:
    """Anonymise every member whose retention has ended, in one transaction."""
    from careplan.members import erasure

    if not yes:
        fail("erasure cannot be undone: add --yes to go ahead (see `careplan erasure due`)")

    def body() -> None:
        with unit_of_work(Actor.system("retention")) as session:
            done = erasure.erase_due(session, Actor.system("retention"), now=clock.now(),
                                     today=clock.today())  # fmt: skip
        entries = sum(d.log_entries for d in done)
        typer.echo(f"erased {len(done)} members; {entries} change-log entries blanked")

    guarded(body)


@staff_app.command("end-covers")
def staff_end_covers() -> None:
    """Give members back to their owners once a holiday cover's last day has passed (run
    daily from cron, e.g. at 00:10; running it again the same day changes nothing)."""

    def body() -> None:
        actor = Actor.system("cli")
        with unit_of_work(actor, writing=True) as session:
            back = members_rules.end_covers(session, actor, now=clock.now())
        typer.echo(f"{back} members back with their owners")

    guarded(body)


@staff_app.command("hand-over")
def staff_hand_over(
    from_user: Annotated[str, typer.Option("--from", help="username whose members move")],
    to_user: Annotated[str, typer.Option("--to", help="username who takes them over")],
    as_user: Annotated[str, typer.Option("--as", help="username of the manager doing it")],
    left: Annotated[bool, typer.Option(help="the first person has left the chain")] = False,
) -> None:
    """Hand every member of one staff member to another, with their open steps."""

    def body() -> None:
        with unit_of_work(Actor.system("cli"), writing=True) as session:
            actor = actor_for(session, as_user)
            leaving, taking = by_username(session, from_user), by_username(session, to_user)
            total = session.scalar(
                select(func.count()).select_from(Member).where(Member.owner_id == leaving.id)
            )
            with progress_to(total or 1, "handing over") as progress:
                moved = members_rules.reassign_all(
                    session, actor, leaving.id, taking.id, staff_left=left, now=clock.now(),
                    progress=progress,
                )  # fmt: skip
        typer.echo(f"handed over {moved} members from {from_user} to {to_user}")

    guarded(body)


value_app = typer.Typer(help="Member value: the spend and visits snapshot.", no_args_is_help=True)
app.add_typer(value_app, name="value")


@value_app.command("refresh")
def value_refresh() -> None:
    """Compute the value snapshot as of today now, in this process (the consumers do it
    nightly at 02:30 and after each till import)."""
    from careplan.jobs import tasks

    def body() -> None:
        checked_settings()
        snapshot_id = tasks.refresh_value_now()
        with unit_of_work(Actor.system("cli")) as session:
            snap = session.get(ValueSnapshot, snapshot_id)
            members = snap.members if snap else 0
        typer.echo(f"value snapshot {snapshot_id}: {members} members bought in the last 12 months")

    guarded(body)
