"""Importing the till's sales and dispensing lines (CSV or JSON rows).

All or nothing: a file with any bad line writes nothing, and the report names every bad
line and field. Re-importing adds nothing: each line has a key (a hash of what it says,
and which occurrence of identical lines it is), unique in the purchases table. After the
lines are in, refill steps of the members who bought move (careplan/adherence.py).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from typing import Any, BinaryIO

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from careplan.access import Actor, require_manager
from careplan.adherence import move_refill_steps
from careplan.csv_records import BadRecord, records
from careplan.errors import InvalidInput
from careplan.models import Member, Purchase, PurchaseImport, Store
from careplan.validation import is_whole_number

# Column names as careplan writes them, and as Chinese till exports commonly head them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "card_number": ("会员卡号", "卡号"),
    "product_code": ("商品编码", "商品编号", "药品编码"),
    "product_name": ("商品名称", "药品名称", "品名"),
    "drug_class": ("药品类别", "类别"),
    "quantity": ("数量",),
    "days_supply": ("用药天数", "可用天数", "天数"),
    "purchased_on": ("日期", "销售日期", "购买日期"),
    "store_code": ("门店编码", "门店"),
    "amount": ("金额", "实收金额"),
}
REQUIRED = ("card_number", "product_code", "product_name", "quantity", "purchased_on",
            "store_code", "amount")  # fmt: skip
CHUNK = 20000
Numbered = tuple[int, dict[str, str]]  # a file's line number and its row
MAX_PROBLEMS = 500  # a report longer than this helps nobody; the count is still given


@dataclass(frozen=True)
class Problem:
    line: int  # the file's line number, the header being line 1
    field: str
    message: str


class ImportRefused(InvalidInput):
    """The file is refused whole; `problems` lists each bad line and field."""

    def __init__(self, problems: list[Problem], total: int) -> None:
        super().__init__(
            "the file has bad lines; nothing was imported",
            field="file",  # each line's own field is in `problems`
        )
        self.problems, self.total = problems, total

    def report(self) -> list[dict[str, object]]:
        return [{"line": p.line, "field": p.field, "message": p.message} for p in self.problems]


@dataclass
class ImportResult:
    import_id: int
    lines: int
    added: int
    already_there: int
    encoding: str


BLOCK = 1 << 20
# The encoding a file is reported in → the codec that reads it: UTF-8 with or without
# BOM; GB18030, a superset of GBK and GB2312, what Chinese tills and spreadsheets save.
_CODECS = {"utf-8": "utf-8-sig", "gbk": "gb18030"}


def count_lines(stream: BinaryIO) -> int:
    """Newlines in a binary file, read in blocks; the stream is left at its start."""
    lines = sum(block.count(b"\n") for block in iter(lambda: stream.read(BLOCK), b""))
    stream.seek(0)
    return lines


def sniff(stream: BinaryIO) -> tuple[str, str]:
    """The file's encoding and SHA-256, read once in blocks (the file is never held
    whole): UTF-8 if it reads as UTF-8, else GBK. The stream is left at its start."""
    digest = hashlib.sha256()
    decoders = {name: codecs.getincrementaldecoder(codec)() for name, codec in _CODECS.items()}
    while block := stream.read(BLOCK):
        digest.update(block)
        for name, decoder in list(decoders.items()):
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                del decoders[name]
    for name, decoder in list(decoders.items()):
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            del decoders[name]
    stream.seek(0)
    if not decoders:
        raise InvalidInput(
            "the file is neither UTF-8 nor GBK text: save it from the till as CSV in UTF-8 or GBK",
            field="file",
        )
    return next(iter(decoders)), digest.hexdigest()


def _header_map(header: Sequence[str]) -> dict[str, int]:
    names = {alias: key for key, aliases in COLUMNS.items() for alias in (key, *aliases)}
    found: dict[str, int] = {}
    for i, raw in enumerate(header):
        key = names.get(raw.strip().lower()) or names.get(raw.strip())
        if key is not None and key not in found:
            found[key] = i
    missing = [k for k in REQUIRED if k not in found]
    if missing:
        raise ImportRefused(
            [Problem(1, k, "this column is missing from the header") for k in missing],
            len(missing),
        )
    return found


def csv_rows(text: Iterable[str]) -> Iterator[Numbered]:
    """(line number, row by careplan's column names) for each non-empty line of a text
    or of a stream of lines. The row's "" entry is the line as the till wrote it, which
    its key is made from. A record the csv module cannot read (a field past its limit)
    or with a NUL in it refuses the file, naming its line and column."""
    reader = records(io.StringIO(text) if isinstance(text, str) else text)
    column_names: dict[int, str] = {}
    header: list[str] | None = None
    try:
        _, header = next(reader, (0, None))
        if header is None:
            raise InvalidInput("the file is empty", field="file")
        found = _header_map(header)
        column_names = {i: key for key, i in found.items()}
        names, pick = (*found, ""), itemgetter(*found.values())
        width = max(found.values()) + 1
        for line, row in reader:
            said = "\x1f".join(row)
            if not said.replace("\x1f", "").strip():
                continue
            if len(row) < width:
                row += [""] * (width - len(row))
            yield line, dict(zip(names, (*map(str.strip, pick(row)), said), strict=True))
    except BadRecord as bad:
        # A column careplan does not read is named as the header names it.
        field = column_names.get(bad.column) or _cell(header, bad.column) or "file"
        raise ImportRefused([Problem(bad.line, field, bad.message)], 1) from None


def _cell(row: Sequence[str] | None, column: int) -> str:
    return row[column].strip() if row is not None and column < len(row) else ""


# --- Checking a line -------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _text(row: dict[str, str], name: str, longest: int, *, required: bool = True) -> str:
    value = row.get(name, "")
    if required and not value:
        raise _Bad(name, "empty")
    if len(value) > longest:
        raise _Bad(name, "too long for this field")
    return value


WHOLE = {
    "quantity": (1, 10_000, "a whole number from 1 to 10000"),
    "days_supply": (1, 366, "a whole number of days from 1 to 366"),
}

# A till file repeats few distinct dates, quantities and amounts over a million lines:
# parsing each distinct text once was a quarter of the checking time.


@lru_cache(maxsize=4096)
def _whole_of(name: str, value: str) -> int:
    low, high, message = WHOLE[name]
    if not is_whole_number(value) or not low <= int(value) <= high:
        raise _Bad(name, message)
    return int(value)


@lru_cache(maxsize=4096)
def _date_of(value: str) -> date:
    value = value.replace("/", "-")
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 8 else _no_date()
    except ValueError:
        return _no_date()


def _no_date() -> date:
    raise _Bad("purchased_on", "a date like 2026-11-20")


@lru_cache(maxsize=65536)
def _money_of(text: str) -> Decimal:
    try:
        value = Decimal(text.replace("¥", "").replace(",", ""))
    except InvalidOperation:
        raise _Bad("amount", "an amount like 58.00") from None
    if (
        not value.is_finite()
        or value < 0
        or value > 1_000_000
        or value != value.quantize(Decimal("0.01"))
    ):
        raise _Bad("amount", "an amount from 0 to 1000000 with at most 2 decimals")
    return value


def _day(row: dict[str, str], today: date) -> date:
    day = _date_of(row.get("purchased_on", ""))
    if day > today:
        raise _Bad("purchased_on", "in the future")
    return day


@dataclass
class _Known:
    """Cards and stores the file names, looked up as they first appear."""

    members: dict[str, int]
    stores: dict[str, int]
    asked: set[str] = field(default_factory=set)  # cards looked up (found or not)


# The columns of a line as checking returns it and the writers insert it, in this order.
_VARYING = ("member_id", "store_id", "product_code", "product_name", "drug_class",
            "quantity", "days_supply", "purchased_on", "amount", "line_key")  # fmt: skip
# The same on every line; recorded_by_id stays empty: the import's record says who.
_STAMP = ("import_id", "recorded_at")
Line = tuple[Any, ...]  # values in _VARYING order


def _line(row: dict[str, str], known: _Known, today: date) -> Line:
    """The line's values in _VARYING order, but for its key."""
    card = _text(row, "card_number", 32)
    member_id = known.members.get(card)
    if member_id is None:
        raise _Bad("card_number", "no member has this card number")
    store_id = known.stores.get(_text(row, "store_code", 32))
    if store_id is None:
        raise _Bad("store_code", "no store you may import for has this code")
    days = row.get("days_supply", "")
    return (
        member_id,
        store_id,
        _text(row, "product_code", 64),
        _text(row, "product_name", 160),
        _text(row, "drug_class", 64, required=False) or None,
        _whole_of("quantity", row.get("quantity", "")),
        _whole_of("days_supply", days) if days else None,
        _day(row, today),
        _money_of(row.get("amount", "")),
    )


def _key(row: dict[str, str], seen: Counter[str]) -> str:
    """The line's key, 32 hex digits (128 bits, a uuid's): a hash of what it says and
    which of identical lines in the file it is (two identical lines in one file are two
    purchases). Lines are counted by their first key, not by their text, so a million
    lines do not stay in memory."""
    said = (row.get("") or "\x1f".join([row.get(k, "") for k in COLUMNS])).encode()
    first = hashlib.sha256(said + b"\x1e1").hexdigest()[:32]
    seen[first] += 1
    if seen[first] == 1:
        return first
    return hashlib.sha256(said + b"\x1e" + str(seen[first]).encode()).hexdigest()[:32]


# --- Importing ---------------------------------------------------------------------------


def _stores(session: Session, actor: Actor) -> dict[str, int]:
    return {
        code: store_id
        for code, store_id in session.execute(select(Store.code, Store.id))
        if actor.may_see_store(store_id)
    }


@dataclass
class _Checked:
    """What checking has found so far, chunk by chunk."""

    problems: list[Problem] = field(default_factory=list)
    total: int = 0
    lines: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    members: set[int] = field(default_factory=set)
    known: _Known | None = None

    def look_up(self, session: Session, actor: Actor, batch: Sequence[Numbered]) -> None:
        """Learn the members of the cards not asked about yet (those the actor may see):
        the only reads checking needs, made before the chunk is checked."""
        if self.known is None:
            self.known = _Known(members={}, stores=_stores(session, actor))
        known = self.known
        cards = sorted({r.get("card_number", "") for _, r in batch} - known.asked)
        known.asked.update(cards)
        for i in range(0, len(cards), 1000):
            stmt = select(Member.card_number, Member.id, Member.home_store_id).where(
                Member.card_number.in_(cards[i : i + 1000])
            )
            for card, member_id, store_id in session.execute(stmt):
                if actor.may_see_store(store_id):
                    known.members[card] = member_id

    def check(self, batch: list[Numbered], today: date) -> list[Line]:
        assert self.known is not None, "look_up first"
        known, good = self.known, []
        for number, row in batch:
            try:
                values = _line(row, known, today)
            except _Bad as bad:
                self.total += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append(Problem(number, bad.field, bad.message))
                continue
            self.members.add(values[0])
            good.append((*values, _key(row, self.seen)))
        self.lines += len(batch)
        return good


def _bound(process: Any, value: Any) -> Any:
    return value if process is None or value is None else process(value)


def _sqlite_params(connection: Connection, rows: list[Line], stamp: Line) -> list[Line]:
    """The chunk bound for sqlite3. Core's per-row type processing was half the import's
    time: each column is bound with SQLAlchemy's own processor for it (so values are
    stored exactly as the ORM stores them), the stamp once per chunk. The key is already
    the 32 hex digits SQLite keeps a uuid as."""
    dialect, table = connection.dialect, Purchase.__table__

    def processor(name: str) -> Any:
        if name == "line_key":
            return None
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    bound_stamp = tuple(_bound(processor(n), v) for n, v in zip(_STAMP, stamp, strict=True))
    processors = [processor(name) for name in _VARYING]
    return [
        (*(_bound(p, v) for p, v in zip(processors, row, strict=True)), *bound_stamp)
        for row in rows
    ]


_SQLITE_INSERT = (
    f"INSERT INTO purchases ({', '.join((*_VARYING, *_STAMP))}) "
    f"VALUES ({', '.join('?' * (len(_VARYING) + len(_STAMP)))}) ON CONFLICT (line_key) DO NOTHING"
)


def _sqlite_insert_ignoring_known(connection: Connection, params: list[Line]) -> int:
    """SQLite: one executemany that skips known keys; how many were added."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(_SQLITE_INSERT, params)
        return int(cursor.rowcount)
    finally:
        cursor.close()


_STAGE = ", ".join(
    f"{name} {kind}"
    for name, kind in zip(
        _VARYING,
        ("bigint", "bigint", "varchar(64)", "varchar(160)", "varchar(64)", "integer", "integer",
         "date", "numeric(12, 2)", "uuid"),
        strict=True,
    )
)  # fmt: skip


def _copy_payload(rows: list[Line]) -> bytes:
    """The chunk as COPY's CSV format (an empty unquoted field is NULL: only the
    optional drug class and days' supply are ever empty). Built on the checking thread
    by the csv module's C writer, at a fifth of psycopg's write_row per line."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _copy_ignoring_known(connection: Connection, payload: bytes, stamp: Line) -> int:
    """PostgreSQL: COPY the chunk into a temporary table, then one INSERT … SELECT that
    skips known keys (a multi-row INSERT per chunk ran at half the speed); how many
    were added."""
    raw = connection.connection.driver_connection
    columns = ", ".join(_VARYING)
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS purchase_lines ({_STAGE}) ON COMMIT DROP")
        with cur.copy(f"COPY purchase_lines ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(payload)
        cur.execute(
            f"INSERT INTO purchases ({columns}, {', '.join(_STAMP)}) "
            f"SELECT {columns}, %s, %s FROM purchase_lines "
            "ON CONFLICT (line_key) DO NOTHING",
            stamp,
        )
        added = cur.rowcount
        cur.execute("TRUNCATE purchase_lines")
    return added


class _Writer:
    """Inserts checked chunks in order. On PostgreSQL each insert runs on a worker
    thread while the caller reads and checks the next chunk: the server's share of the
    work (foreign-key and index checks, about half the time) overlaps Python's, as the
    driver lets go of the GIL while it waits. The connection is never used by both at
    once: `idle()` waits for the insert in flight, and the caller calls it before each
    read of its own. SQLite inserts on the caller's thread: sqlite3 takes the GIL back
    for every row it binds, and a worker made the import a tenth slower."""

    def __init__(self, connection: Connection, stamp: Line) -> None:
        self.connection, self.stamp = connection, stamp
        self.postgresql = connection.dialect.name == "postgresql"
        self.pool = ThreadPoolExecutor(1, "purchase-import")
        self.pending: Future[int] | None = None
        self.added = 0  # lines inserted (not already there)

    def write(self, rows: list[Line]) -> None:
        self.idle()
        if not rows:
            return
        if self.postgresql:
            payload = _copy_payload(rows)
            self.pending = self.pool.submit(
                _copy_ignoring_known, self.connection, payload, self.stamp
            )
        else:
            params = _sqlite_params(self.connection, rows, self.stamp)
            self.added += _sqlite_insert_ignoring_known(self.connection, params)

    def idle(self) -> None:
        """Wait for the insert in flight; its error, if any, is raised here."""
        pending, self.pending = self.pending, None
        if pending is not None:
            self.added += pending.result()

    def close(self) -> None:
        if self.pending is not None:
            wait([self.pending])  # whatever happens next uses the connection
        self.pool.shutdown()


def _chunks(
    lines: Iterable[Numbered],
) -> Iterator[list[Numbered]]:
    batch: list[Numbered] = []
    for item in lines:
        batch.append(item)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_and_write(
    session: Session,
    actor: Actor,
    lines: Iterable[Numbered],
    writer: _Writer,
    today: date,
    progress: Callable[[int], None] | None,
) -> _Checked:
    """Each chunk's cards are looked up, then the chunk before it is handed to the
    writer, then the chunk is checked while that insert runs. After the first bad line
    nothing more is written; every line is still checked, for the report."""
    checked, held = _Checked(), list[Line]()
    for batch in _chunks(lines):
        writer.idle()
        checked.look_up(session, actor, batch)
        if not checked.total:
            writer.write(held)
        held = checked.check(batch, today)
        if progress is not None:
            progress(checked.lines)
    if not checked.total:
        writer.write(held)
    writer.idle()
    return checked


def import_lines(
    session: Session,
    actor: Actor,
    lines: Iterable[Numbered],
    *,
    file_name: str,
    sha256: str,
    encoding: str,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check and insert chunk by chunk (memory stays a few chunks, whatever the file).
    All or nothing: a savepoint undoes a refused file's writes even when the caller's
    transaction goes on."""
    require_manager(actor)
    if actor.staff_id is None:
        raise InvalidInput("imports are made by a member of staff (--as)", field="actor")
    with session.begin_nested():  # a refusal undoes this import's writes, whoever calls
        record = PurchaseImport(
            file_name=file_name[:255], sha256=sha256, encoding=encoding, lines=0,
            added=0, already_there=0, imported_by_id=actor.staff_id, imported_at=now,
        )  # fmt: skip
        session.add(record)
        session.flush()
        writer = _Writer(session.connection(), (record.id, now))
        try:
            checked = _check_and_write(session, actor, lines, writer, today, progress)
        finally:
            writer.close()
        if checked.problems:
            raise ImportRefused(checked.problems, checked.total)
        if not checked.lines:
            raise InvalidInput("the file has no purchase lines", field="file")
        record.lines, record.added = checked.lines, writer.added
        record.already_there = checked.lines - record.added
        session.flush()
    if record.added:  # lines already there changed no supply
        move_refill_steps(session, checked.members)
    return ImportResult(
        import_id=record.id,
        lines=record.lines,
        added=record.added,
        already_there=record.already_there,
        encoding=encoding,
    )


def import_csv(
    session: Session,
    actor: Actor,
    data: bytes | BinaryIO,
    *,
    file_name: str,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """A till's CSV export, UTF-8 or GBK, header named in English or Chinese: the bytes,
    or a binary file, read as a stream (a file is never held whole in memory)."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    encoding, sha256 = sniff(stream)
    text = io.TextIOWrapper(stream, encoding=_CODECS[encoding], newline="")
    try:
        return import_lines(
            session, actor, csv_rows(text), file_name=file_name, sha256=sha256,
            encoding=encoding, today=today, now=now, progress=progress,
        )  # fmt: skip
    finally:
        text.detach()  # the caller's stream stays open
