"""Importing the till's sales and dispensing lines (CSV or JSON rows).

All or nothing: a file with any bad line writes nothing, and the report names every bad
line and field. Re-importing adds nothing: each line has a key (a hash of what it says,
and which occurrence of identical lines it is), unique in the purchases table. After the
lines are in, refill steps of the members who bought move (careplan/adherence/measured.py).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any, BinaryIO, Protocol

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor, require_manager
from careplan.adherence.measured import move_refill_steps
from careplan.csv_export import csv_lines
from careplan.csv_records import BadRecord, records
from careplan.db import begin_for_writing
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.members import last_seen
from careplan.models import Member, Purchase, PurchaseImport, Store
from careplan.trust.change_log import log_action, log_actions, plain_value
from careplan.validation import is_whole_number
from careplan.value.grades import refresh_grades
from careplan.vocab import ImportOutcome

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
# Columns a till may or may not export; a JSON line's key leaves them out (a CSV line's
# is the line as written, as ever). The points balance is the till's own figure, never computed
# here: the newest line carrying one sets the member's (careplan shows it as of its day).
OPTIONAL: dict[str, tuple[str, ...]] = {
    "points_balance": ("积分余额", "会员积分", "积分", "points"),
}
# The template a manager fills in when the till cannot export these columns: the first
# Chinese heading of each, and a line showing how each value is written.
TEMPLATE_EXAMPLE = ("10000001", "A001", "钙尔奇D 600mg×60片", "钙剂", "2", "30", "2026-11-20",
                    "SH001", "¥1,158.00")  # fmt: skip
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
    # What the line says there, cut to SHOWN_VALUE characters; None where it cannot be
    # shown (a record the csv module could not read, a NUL).
    value: str | None = None


SHOWN_VALUE = 40  # a report shows the start of an overlong value, not all of it


def shown(value: str) -> str:
    return value if len(value) <= SHOWN_VALUE else value[:SHOWN_VALUE] + "…"


class ImportRefused(InvalidInput):
    """The file is refused whole; `problems` lists each bad line and field."""

    def __init__(self, problems: list[Problem], total: int, lines: int = 0) -> None:
        super().__init__(
            N_("the file has bad lines; nothing was imported"),
            field="file",  # each line's own field is in `problems`
        )
        self.problems, self.total, self.lines = problems, total, lines

    def report(self) -> list[dict[str, object]]:
        return [
            {"line": p.line, "field": p.field, "message": p.message, "value": p.value}
            for p in self.problems
        ]


@dataclass
class ImportResult:
    import_id: int
    lines: int
    added: int
    already_there: int
    encoding: str


# Run in the transaction that commits an import's outcome, just before the commit, with
# the import history's record and the outcome: a job marks itself finished there, so the
# outcome and the mark are one commit (careplan/jobs), and may refuse by raising.
Finish = Callable[[Session, int, "ImportResult | InvalidInput"], None]

BLOCK = 1 << 20
# The encoding a file is reported in → the codec that reads it: UTF-8 with or without
# BOM; GB18030, a superset of GBK and GB2312, what Chinese tills and spreadsheets save.
_CODECS = {"utf-8": "utf-8-sig", "gbk": "gb18030"}


def template_csv() -> bytes:
    """The import's template: UTF-8 with a BOM, which spreadsheets need to show the
    Chinese headings (the import reads it, BOM and all)."""
    header = [aliases[0] for aliases in COLUMNS.values()]
    return "".join(csv_lines(header, [TEMPLATE_EXAMPLE])).encode("utf-8")


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
            N_(
                "the file is neither UTF-8 nor GBK text: save it from the till as CSV in UTF-8 "
                "or GBK"
            ),
            field="file",
        )
    return next(iter(decoders)), digest.hexdigest()


def _header_map(header: Sequence[str]) -> dict[str, int]:
    every = COLUMNS | OPTIONAL
    names = {alias: key for key, aliases in every.items() for alias in (key, *aliases)}
    found: dict[str, int] = {}
    for i, raw in enumerate(header):
        key = names.get(raw.strip().lower()) or names.get(raw.strip())
        if key is not None and key not in found:
            found[key] = i
    missing = [k for k in REQUIRED if k not in found]
    if missing:
        raise ImportRefused(
            [Problem(1, k, N_("this column is missing from the header")) for k in missing],
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
            raise InvalidInput(N_("the file is empty"), field="file")
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
    def __init__(self, field: str, message: str, value: str = "") -> None:
        self.field, self.message, self.value = field, message, value


def _text(row: dict[str, str], name: str, longest: int, *, required: bool = True) -> str:
    value = row.get(name, "")
    if required and not value:
        raise _Bad(name, N_("empty"))
    if len(value) > longest:
        raise _Bad(name, N_("too long for this field"), value)
    return value


WHOLE = {
    "quantity": (1, 10_000, N_("a whole number from 1 to 10000")),
    "days_supply": (1, 366, N_("a whole number of days from 1 to 366")),
}

# A till file repeats few distinct dates, quantities and amounts over a million lines:
# parsing each distinct text once was a quarter of the checking time.


@lru_cache(maxsize=4096)
def _whole_of(name: str, value: str) -> int:
    low, high, message = WHOLE[name]
    if not is_whole_number(value) or not low <= int(value) <= high:
        raise _Bad(name, message, value)
    return int(value)


@lru_cache(maxsize=4096)
def _date_of(value: str) -> date:
    text = value.replace("/", "-")
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 8 else _no_date(value)
    except ValueError:
        return _no_date(value)


def _no_date(value: str) -> date:
    # "2026-02-30" is written right and is no day: say that, not how to write a date.
    if DATE_SHAPE.fullmatch(value.replace("/", "-")[:10]):
        raise _Bad("purchased_on", N_("there is no such day in the calendar"), value)
    raise _Bad("purchased_on", N_("a date like 2026-11-20"), value)


DATE_SHAPE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


# Tills and spreadsheets write amounts as "58", "58.00", "¥1,234.50" or "￥1,234.50":
# a yuan sign (half or full width) first, commas between groups of three digits.
_AMOUNT = re.compile(r"[¥￥]?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?", re.ASCII)


@lru_cache(maxsize=65536)
def _money_of(text: str) -> Decimal:
    found = _AMOUNT.fullmatch(text)
    if found is None:
        raise _Bad("amount", N_("an amount like 58.00, ¥58.00 or 1,234.50"), text)
    value = Decimal(found.group(1).replace(",", "") + (found.group(2) or ""))
    if value > 1_000_000 or value != value.quantize(Decimal("0.01")):
        raise _Bad("amount", N_("an amount from 0 to 1000000 with at most 2 decimals"), text)
    return value


_POINTS = re.compile(r"\d{1,3}(?:,\d{3})+|\d+", re.ASCII)


@lru_cache(maxsize=4096)
def _points_of(text: str) -> int | None:
    """A points balance as the till writes it ("1240", "1,240"); None: the line has none."""
    if not text:
        return None
    if not _POINTS.fullmatch(text) or int(text.replace(",", "")) > 999_999_999:
        raise _Bad("points_balance", N_("a whole number of points, like 1240"), text)
    return int(text.replace(",", ""))


def _day(row: dict[str, str], today: date) -> date:
    value = row.get("purchased_on", "")
    day = _date_of(value)
    if day > today:
        raise _Bad("purchased_on", N_("in the future"), value)
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


def _member(row: dict[str, str], known: _Known) -> int:
    card = _text(row, "card_number", 32)
    member_id = known.members.get(card)
    if member_id is None:
        raise _Bad("card_number", N_("no member has this card number"), card)
    return member_id


def _store(row: dict[str, str], known: _Known) -> int:
    code = _text(row, "store_code", 32)
    store_id = known.stores.get(code)
    if store_id is None:
        raise _Bad("store_code", N_("no store you may import for has this code"), code)
    return store_id


def _days(row: dict[str, str]) -> int | None:
    days = row.get("days_supply", "")
    return _whole_of("days_supply", days) if days else None


def _checks(row: dict[str, str], known: _Known, today: date) -> tuple[Callable[[], Any], ...]:
    """Each value of a line, read by its own check, in _VARYING order."""
    return (
        lambda: _member(row, known),
        lambda: _store(row, known),
        lambda: _text(row, "product_code", 64),
        lambda: _text(row, "product_name", 160),
        lambda: _text(row, "drug_class", 64, required=False) or None,
        lambda: _whole_of("quantity", row.get("quantity", "")),
        lambda: _days(row),
        lambda: _day(row, today),
        lambda: _money_of(row.get("amount", "")),
        lambda: _points_of(row.get("points_balance", "")),
    )


class _BadLine(Exception):
    def __init__(self, problems: list[_Bad]) -> None:
        self.problems = problems


def _line(row: dict[str, str], known: _Known, today: date) -> Line:
    """The line's values in _VARYING order, but for its key. A bad line is refused
    with every problem on it (each check run again on its own: only bad lines pay)."""
    try:
        return (
            _member(row, known),
            _store(row, known),
            _text(row, "product_code", 64),
            _text(row, "product_name", 160),
            _text(row, "drug_class", 64, required=False) or None,
            _whole_of("quantity", row.get("quantity", "")),
            _days(row),
            _day(row, today),
            _money_of(row.get("amount", "")),
        ) + ((_points_of(row.get("points_balance", "")),) if "points_balance" in row else ())
    except _Bad:
        pass
    problems = []
    for check in _checks(row, known, today):
        try:
            check()
        except _Bad as bad:
            problems.append(bad)
    raise _BadLine(problems)


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


# --- What checking needs from the database, and what it found ---------------------------


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
    newest: dict[int, date] = field(default_factory=dict)  # each member's last day in the file
    known: _Known | None = None
    # Each member's newest points balance in the file: (day, line, balance).
    points: dict[int, tuple[date, int, int]] = field(default_factory=dict)

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

    def _points(self, number: int, values: Line) -> Line:
        """Keep the line's points balance if it is the member's newest; the line
        without it."""
        *line, balance = values
        if balance is not None:
            member_id, day = line[0], line[7]
            if (day, number) >= self.points.get(member_id, (day, 0, 0))[:2]:
                self.points[member_id] = (day, number, balance)
        return tuple(line)

    def check(self, batch: list[Numbered], today: date) -> list[Line]:
        assert self.known is not None, "look_up first"
        known, good = self.known, []
        for number, row in batch:
            try:
                values = _line(row, known, today)
            except _BadLine as bad:
                self.total += len(bad.problems)
                for p in bad.problems[: MAX_PROBLEMS - len(self.problems)]:
                    self.problems.append(Problem(number, p.field, p.message, shown(p.value)))
                continue
            if len(values) > len(_VARYING) - 1:  # the line carries a points balance
                values = self._points(number, values)
            member_id, day = values[0], values[7]
            self.members.add(member_id)
            if member_id not in self.newest or day > self.newest[member_id]:
                self.newest[member_id] = day
            good.append((*values, _key(row, self.seen)))
        self.lines += len(batch)
        return good


def _bound(process: Any, value: Any) -> Any:
    return value if process is None or value is None else process(value)


def _processors(connection: Connection, names: Sequence[str]) -> list[Any]:
    """SQLAlchemy's own bind processor for each column (None where there is none), so
    values bound straight to sqlite3 are stored exactly as the ORM stores them. Core's
    per-row type processing was half the import's time. The key is already the 32 hex
    digits SQLite keeps a uuid as."""
    dialect, table = connection.dialect, Purchase.__table__

    def processor(name: str) -> Any:
        if name == "line_key":
            return None
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    return [processor(name) for name in names]


# --- SQLite: staged, then one short write -------------------------------------------------

_STAGED = "temp.purchase_import_lines"  # the checked lines, in file order
_SORTED = "temp.purchase_import_new"  # of them, those not imported yet, in the copy's order
_CARDS = "temp.purchase_import_cards"  # the members the file's cards named when checked
_COLUMNS = ", ".join(_VARYING)
# The copy's order. Each new line goes into two indexes, the unique key's and the
# member-and-date one; in either's order the other is written all over, and that
# random half was most of the final step. In sixteen parts by the key's first hex
# digit, and by member and date within each part, both stay close to where they last
# wrote (one part's keys are a sixteenth of the key index; within a part the member
# index is walked forward): a quarter less time under the lock than in key order.
_ORDER = "part, member_id, purchased_on, line_key"


class _Stage:
    """SQLite: the checked lines wait in temporary tables of the import's connection.

    SQLite keeps a connection's temporary tables in a database of their own (a file
    deleted when the connection closes, and never left behind by a kill), so filling
    them takes none of the main database's locks: checking a million lines holds no
    write lock. The final step copies them with one INSERT … SELECT, no line crossing
    back into Python while the lock is held."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.processors = _processors(connection, _VARYING)
        self.drop()
        # Untyped columns keep each value as bound; the copy into purchases then stores
        # it as a direct insert would.
        self.cursor.execute(f"CREATE TABLE {_STAGED} ({_COLUMNS})")

    def write(self, rows: list[Line]) -> None:
        if rows:
            processors = self.processors
            params = [tuple(map(_bound, processors, row)) for row in rows]
            marks = ", ".join("?" * len(_VARYING))
            self.cursor.executemany(f"INSERT INTO {_STAGED} VALUES ({marks})", params)

    def idle(self) -> None:
        """Nothing in flight: staging runs on the caller's thread (see _Writer)."""

    def sort(self, checked: _Checked) -> None:
        """Keep the lines not imported yet, in the copy's order, still outside the
        write lock (the known keys are a read), and the cards' members. A line
        imported meanwhile by someone else is still skipped by the copy's ON
        CONFLICT."""
        assert checked.known is not None, "checked first"
        self.keep_cards(checked.known.members)
        self.cursor.execute(
            f"CREATE TABLE {_SORTED} (part, {_COLUMNS}, PRIMARY KEY ({_ORDER})) WITHOUT ROWID"
        )
        self.cursor.execute(
            f"INSERT OR IGNORE INTO {_SORTED} SELECT substr(line_key, 1, 1) AS part, {_COLUMNS} "
            f"FROM {_STAGED} AS s WHERE NOT EXISTS "
            "(SELECT 1 FROM main.purchases AS p WHERE p.line_key = s.line_key) "
            f"ORDER BY {_ORDER}"
        )
        self.cursor.execute(f"DROP TABLE {_STAGED}")

    def copy(self, stamp: Line) -> int:
        """The final step's insert; how many lines it added."""
        bound = tuple(map(_bound, _processors(self.connection, _STAMP), stamp))
        self.cursor.execute(
            f"INSERT INTO main.purchases ({_COLUMNS}, {', '.join(_STAMP)}) "
            f"SELECT {_COLUMNS}, ?, ? FROM {_SORTED} WHERE true ORDER BY {_ORDER} "
            "ON CONFLICT (line_key) DO NOTHING",
            bound,
        )
        return int(self.cursor.rowcount)

    def keep_cards(self, members: dict[str, int]) -> None:
        """The members the file's cards named when it was checked, for the re-check."""
        self.cursor.execute(f"CREATE TABLE {_CARDS} (member_id PRIMARY KEY, card) WITHOUT ROWID")
        rows = ((member_id, card) for card, member_id in members.items())
        self.cursor.executemany(f"INSERT INTO {_CARDS} VALUES (?, ?)", rows)

    def members_changed(self, actor: Actor) -> bool:
        """_members_changed in one statement (twenty thousand members took a third of a
        second in Python, under the lock)."""
        sql = (
            f"SELECT 1 FROM {_CARDS} AS c LEFT JOIN main.members AS m ON m.id = c.member_id "
            "WHERE m.id IS NULL OR m.card_number IS NOT c.card"
        )
        params: tuple[Any, ...] = ()
        if not actor.chain_wide:
            sql, params = sql + " OR m.home_store_id IS NOT ?", (actor.store_id,)
        return self.cursor.execute(sql + " LIMIT 1", params).fetchone() is not None

    def drop(self) -> None:
        for table in (_STAGED, _SORTED, _CARDS):
            self.cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def close(self) -> None:
        try:
            self.drop()
        finally:
            self.cursor.close()


@contextmanager
def _foreign_keys_unchecked(connection: Connection) -> Iterator[None]:
    """The final step without SQLite's per-row foreign-key checks, a third of its time
    (three look-ups a line). What they would check is checked once for the whole file
    inside the same write transaction (`_recheck`): the members and stores the lines
    name exist, and the import's record is inserted just before. Only outside a
    transaction can the pragma change: inside one (the tests' connection) the checks
    simply stay on."""
    raw = connection.connection.driver_connection
    if raw.in_transaction:  # type: ignore[union-attr]
        yield
        return
    raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        yield
    finally:
        try:
            raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
        except BaseException:
            connection.invalidate()  # never back in the pool without its checks
            raise


# --- PostgreSQL: COPY while checking ---------------------------------------------------


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
        added: int = cur.rowcount
        cur.execute("TRUNCATE purchase_lines")
    return added


class _Writer:
    """PostgreSQL: inserts checked chunks in order, each on a worker thread while the
    caller reads and checks the next chunk: the server's share of the work (foreign-key
    and index checks, about half the time) overlaps Python's, as the driver lets go of
    the GIL while it waits. The connection is never used by both at once: `idle()`
    waits for the insert in flight, and the caller calls it before each read of its
    own. (SQLite stages on the caller's thread instead: sqlite3 takes the GIL back for
    every row it binds, and a worker made the import a tenth slower.)"""

    def __init__(self, connection: Connection, stamp: Line) -> None:
        self.connection, self.stamp = connection, stamp
        self.pool = ThreadPoolExecutor(1, "purchase-import")
        self.pending: Future[int] | None = None
        self.added = 0  # lines inserted (not already there)

    def write(self, rows: list[Line]) -> None:
        self.idle()
        if rows:
            payload = _copy_payload(rows)
            self.pending = self.pool.submit(
                _copy_ignoring_known, self.connection, payload, self.stamp
            )

    def idle(self) -> None:
        """Wait for the insert in flight; its error, if any, is raised here."""
        pending, self.pending = self.pending, None
        if pending is not None:
            self.added += pending.result()

    def close(self) -> None:
        if self.pending is not None:
            wait([self.pending])  # whatever happens next uses the connection
        self.pool.shutdown()


class _Sink(Protocol):
    def write(self, rows: list[Line]) -> None: ...
    def idle(self) -> None: ...


# --- Checking the whole file ---------------------------------------------------------------


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
    sink: _Sink,
    today: date,
    progress: Callable[[int], None] | None,
) -> _Checked:
    """Each chunk's cards are looked up, then the chunk before it is handed to the
    sink, then the chunk is checked while that write runs. After the first bad line
    nothing more is written; every line is still checked, for the report, and a file
    with any bad line is refused here."""
    checked, held = _Checked(), list[Line]()
    for batch in _chunks(lines):
        sink.idle()
        # Reported with no insert in flight: a report may use the connection (a test's
        # one connection) while the sink's thread does not.
        if progress is not None and checked.lines:
            progress(checked.lines)
        checked.look_up(session, actor, batch)
        if not checked.total:
            sink.write(held)
        held = checked.check(batch, today)
    if not checked.total:
        sink.write(held)
    sink.idle()
    if progress is not None and checked.lines:
        progress(checked.lines)
    if checked.problems:
        raise ImportRefused(checked.problems, checked.total, checked.lines)
    if not checked.lines:
        raise InvalidInput(N_("the file has no purchase lines"), field="file")
    return checked


def _members_changed(session: Session, actor: Actor, checked: _Checked) -> bool:
    """Whether any card of the file no longer names the member it named when checked,
    or names one the actor may no longer see; a thousand members a statement."""
    known = checked.known
    assert known is not None, "checked first"
    card_of = {member_id: card for card, member_id in known.members.items()}
    ids = sorted(card_of)
    for i in range(0, len(ids), 1000):
        stmt = select(Member.id, Member.card_number, Member.home_store_id)
        rows = session.execute(stmt.where(Member.id.in_(ids[i : i + 1000])))
        found = {member_id: (card, store) for member_id, card, store in rows}
        if any(
            found.get(m, ("", 0))[0] != card_of[m] or not actor.may_see_store(found[m][1])
            for m in ids[i : i + 1000]
        ):
            return True
    return False


def _recheck(session: Session, checked: _Checked, members_changed: bool) -> None:
    """Inside the write: the file's cards still name the members they named when it
    was checked, and its stores still exist. A member erased meanwhile (their card
    blanked) would otherwise get lines checked against what no longer holds; the file
    is refused whole instead, and importing it again reports its lines."""
    assert checked.known is not None, "checked first"
    stores = set(checked.known.stores.values())
    there = session.scalar(select(func.count()).select_from(Store).where(Store.id.in_(stores)))
    if members_changed or there != len(stores):
        raise InvalidInput(
            N_(
                "a member in the file was erased while it was being imported: nothing was "
                "imported; import the file again to see which lines"
            ),
            field="card_number",
        )


# --- Importing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _About:
    """What the import's record says of the file, and when it is taken in."""

    file_name: str
    sha256: str
    encoding: str
    today: date
    now: datetime


def _may_import(actor: Actor) -> None:
    require_manager(actor)
    if actor.staff_id is None:
        raise InvalidInput(N_("imports are made by a member of staff (--as)"), field="actor")


def _record(session: Session, actor: Actor, about: _About) -> int:
    """The import's record (its lines refer to it), inserted without its change-log
    entry: writing an entry takes the importer's chain of the log until commit (on
    PostgreSQL an advisory lock, ledger.py), and the importer's every other audited
    write (another tab, another import) would wait behind the whole import. `_finish`
    logs it once the lines are in."""
    values = {
        "file_name": about.file_name[:255], "sha256": about.sha256,
        "encoding": about.encoding, "lines": 0, "added": 0, "already_there": 0,
        "imported_by_id": actor.staff_id, "imported_at": about.now,
    }  # fmt: skip
    stmt = insert(PurchaseImport).values(values).returning(PurchaseImport.id)
    return int(session.execute(stmt).scalar_one())


def _save_points(
    session: Session, import_id: int, points: dict[int, tuple[date, int, int]]
) -> None:
    """The members' points balances, each from the newest line carrying one, unless the
    member already has one as of a later day (an older file imported after a newer);
    each change in the change log, attributed to the import. A thousand members a read."""
    ids, old = sorted(points), {}
    for i in range(0, len(ids), 1000):
        stmt = select(Member.id, Member.points_balance, Member.points_as_of)
        for member_id, balance, as_of in session.execute(
            stmt.where(Member.id.in_(ids[i : i + 1000]))
        ):
            if as_of is None or as_of <= points[member_id][0]:
                old[member_id] = (balance, as_of)
    changed = {m: points[m] for m, (balance, as_of) in old.items()
               if (balance, as_of) != (points[m][2], points[m][0])}  # fmt: skip
    if not changed:
        return
    table = Member.__table__
    stmt_ = update(table).where(table.c.id == bindparam("member_id"))  # type: ignore[arg-type]
    values: dict[str, Any] = {
        "points_balance": bindparam("balance"),
        "points_as_of": bindparam("day"),
    }
    session.execute(stmt_.values(values), [
        {"member_id": m, "day": day, "balance": balance}
        for m, (day, _, balance) in changed.items()
    ])  # fmt: skip
    log_actions(session, "member", "update", {
        m: {"points_balance": [old[m][0], balance],
            "points_as_of": [plain_value(old[m][1]), day.isoformat()], "import_id": import_id}
        for m, (day, _, balance) in changed.items()
    })  # fmt: skip


def _finish(
    session: Session, import_id: int, checked: _Checked, added: int, actor: Actor, now: datetime
) -> ImportResult:
    """The record's counts, its change-log entry (as the flush would have written it
    for the record as it now stands), the refill steps and relationship grades of the
    file's members moved, and their points balances."""
    counts = {"lines": checked.lines, "added": added, "already_there": checked.lines - added}
    where = PurchaseImport.id == import_id
    session.execute(update(PurchaseImport).where(where).values(counts))
    record = session.execute(select(PurchaseImport.__table__).where(where)).one()
    created = {name: [None, plain_value(value)] for name, value in record._mapping.items()}
    log_action(session, "purchase_import", import_id, "create", created)
    if added:  # lines already there changed no supply, and no grade
        move_refill_steps(session, checked.members)
        refresh_grades(session, checked.members, actor, now)
        last_seen.saw(session, checked.newest)
    _save_points(session, import_id, checked.points)
    return ImportResult(import_id=import_id, encoding=record.encoding, **counts)


def _write_staged(
    session: Session, actor: Actor, stage: _Stage, checked: _Checked, about: _About
) -> ImportResult:
    """SQLite's final step: the only writes, and all of them. A savepoint undoes them
    if anything fails, even when the caller's transaction goes on."""
    _recheck(session, checked, stage.members_changed(actor))
    with session.begin_nested():
        import_id = _record(session, actor, about)
        added = stage.copy((import_id, about.now))
        return _finish(session, import_id, checked, added, actor, about.now)


def _import_postgresql(
    session: Session,
    actor: Actor,
    lines: Iterable[Numbered],
    about: _About,
    progress: Callable[[int], None] | None,
) -> ImportResult:
    """Check and insert chunk by chunk, in the caller's transaction (PostgreSQL's
    writers do not wait for each other's new rows). A savepoint undoes a refused
    file's writes even when the caller's transaction goes on."""
    with session.begin_nested():
        import_id = _record(session, actor, about)
        writer = _Writer(session.connection(), (import_id, about.now))
        try:
            checked = _check_and_write(session, actor, lines, writer, about.today, progress)
        finally:
            writer.close()
        _recheck(session, checked, _members_changed(session, actor, checked))
        return _finish(session, import_id, checked, writer.added, actor, about.now)


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


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
    """Check every line, then insert them, in the caller's transaction (memory stays a
    few chunks, whatever the file). All or nothing. On SQLite this holds the write lock
    for as long as the caller's transaction does: a caller that should not block other
    writers meanwhile uses `import_lines_committed`."""
    _may_import(actor)
    about = _About(file_name, sha256, encoding, today, now)
    if not _is_sqlite(session):
        return _import_postgresql(session, actor, lines, about, progress)
    stage = _Stage(session.connection())
    try:
        checked = _check_and_write(session, actor, lines, stage, today, progress)
        stage.sort(checked)
        return _write_staged(session, actor, stage, checked, about)
    finally:
        stage.close()


@contextmanager
def _one_connection(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """One connection for both transactions (its temporary tables hold the staged
    lines); the tests' factories are bound to one already."""
    bind = factory.kw["bind"]
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.connect() as connection:
        yield connection


def import_lines_committed(
    factory: sessionmaker[Session],
    actor: Actor,
    lines: Iterable[Numbered],
    *,
    file_name: str,
    sha256: str,
    encoding: str,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    finish: Finish | None = None,
) -> ImportResult:
    """The import as its own unit of work, committed, that keeps other writers waiting
    for a second at most (the jobs, the CLI and the web use it).

    On SQLite, whose one writer at a time holds the lock from BEGIN to COMMIT, the lines
    are decoded, checked, staged and sorted in a read transaction (WAL readers block no
    writer); then a second transaction, on the same connection, takes the write lock at
    BEGIN and does only the final step: re-check the members, insert the record, copy
    the staged lines, move the refill steps, commit. A refused file, or a kill at any
    point, writes nothing: the staged lines live in the connection's temporary
    database. On PostgreSQL it is import_lines in one transaction. A refused file is
    kept in the import history with its report (record_refusal). `finish` runs in the
    transaction that commits either outcome."""
    _may_import(actor)
    about = _About(file_name, sha256, encoding, today, now)
    try:
        with _one_connection(factory) as connection:
            if connection.dialect.name == "sqlite":
                return _import_sqlite(factory, connection, actor, lines, about, progress, finish)
            with factory(bind=connection) as session:
                session.info["actor"] = actor
                result = _import_postgresql(session, actor, lines, about, progress)
                if finish is not None:
                    finish(session, result.import_id, result)
                session.commit()
            return result
    except InvalidInput as refusal:
        record_refusal(factory, actor, refusal, about, finish)
        raise


def _import_sqlite(
    factory: sessionmaker[Session],
    connection: Connection,
    actor: Actor,
    lines: Iterable[Numbered],
    about: _About,
    progress: Callable[[int], None] | None,
    finish: Finish | None,
) -> ImportResult:
    stage = _Stage(connection)
    try:
        with factory(bind=connection) as session:  # reads only: no write lock
            session.info["actor"] = actor
            checked = _check_and_write(session, actor, lines, stage, about.today, progress)
            stage.sort(checked)
            session.commit()  # ends the read; the staged lines stay
        with _foreign_keys_unchecked(connection), factory(bind=connection) as session:
            session.info["actor"] = actor
            begin_for_writing(session)
            result = _write_staged(session, actor, stage, checked, about)
            if finish is not None:
                finish(session, result.import_id, result)
            session.commit()
    finally:
        stage.close()
    _checkpoint(connection)
    return result


def _checkpoint(connection: Connection) -> None:
    """Copy what the import wrote from the WAL into the database file now, on the
    import's time. Left to SQLite's automatic checkpoint, a web request that commits
    next could find itself copying the file's worth of pages first (seconds). A
    passive checkpoint blocks no one, but a reader on an older snapshot holds part of
    it back, so it is tried again for a moment."""
    raw = connection.connection.driver_connection
    if raw.in_transaction:  # type: ignore[union-attr]
        return  # the tests' connection: nothing is committed yet
    deadline, passive = time.monotonic() + 2, "PRAGMA wal_checkpoint(PASSIVE)"
    while True:
        _busy, frames, copied = raw.execute(passive).fetchone()  # type: ignore[union-attr]
        if frames - copied < 1000 or time.monotonic() > deadline:
            return  # what is left, SQLite's automatic checkpoint does cheaply
        time.sleep(0.05)


@contextmanager
def _csv_lines(data: bytes | BinaryIO) -> Iterator[tuple[str, str, Iterator[Numbered]]]:
    """A till's CSV export, UTF-8 or GBK, header named in English or Chinese, as
    (encoding, SHA-256, numbered rows): the bytes, or a binary file, read as a stream
    (a file is never held whole in memory). The caller's stream stays open."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    encoding, sha256 = sniff(stream)
    text = io.TextIOWrapper(stream, encoding=_CODECS[encoding], newline="")
    try:
        yield encoding, sha256, csv_rows(text)
    finally:
        text.detach()


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
    """import_lines for a till's CSV export, in the caller's transaction."""
    with _csv_lines(data) as (encoding, sha256, rows):
        return import_lines(
            session, actor, rows, file_name=file_name, sha256=sha256,
            encoding=encoding, today=today, now=now, progress=progress,
        )  # fmt: skip


def import_csv_committed(
    factory: sessionmaker[Session],
    actor: Actor,
    data: bytes | BinaryIO,
    *,
    file_name: str,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    finish: Finish | None = None,
) -> ImportResult:
    """import_lines_committed for a till's CSV export. A file refused before its lines
    are read (not text) is recorded in the import history here."""
    _may_import(actor)
    try:
        with _csv_lines(data) as (encoding, sha256, rows):
            return import_lines_committed(
                factory, actor, rows, file_name=file_name, sha256=sha256,
                encoding=encoding, today=today, now=now, progress=progress, finish=finish,
            )  # fmt: skip
    except InvalidInput as refusal:
        if not refusal.recorded:
            about = _About(file_name, "", "", today, now)
            record_refusal(factory, actor, refusal, about, finish)
        raise


def refusal_report(refusal: CareplanError) -> dict[str, Any]:
    """What a refused file's importer is shown, as the history keeps it: the message key,
    its parameters and field, and each bad line's problems."""
    bad = refusal if isinstance(refusal, ImportRefused) else None
    return {
        "message": refusal.message, "field": refusal.field,
        "params": {k: plain_value(v) for k, v in refusal.params.items()},
        "problems": bad.report() if bad else [], "total": bad.total if bad else 0,
    }  # fmt: skip


def record_refusal(
    factory: sessionmaker[Session],
    actor: Actor,
    refusal: InvalidInput,
    about: _About,
    finish: Finish | None = None,
) -> int:
    """Keep a refused file in the import history, with the report its importer saw:
    nothing of it was imported, but the manager (and whoever helps them) can read
    again what was wrong. Its own transaction: the import's was rolled back."""
    bad = refusal if isinstance(refusal, ImportRefused) else None
    report = refusal_report(refusal)
    with factory() as session:
        session.info["actor"] = actor
        begin_for_writing(session)
        record = PurchaseImport(
            file_name=about.file_name[:255], sha256=about.sha256, encoding=about.encoding,
            lines=bad.lines if bad else 0, added=0, already_there=0,
            imported_by_id=actor.staff_id, imported_at=about.now,
            outcome=ImportOutcome.refused, report=report,
        )  # fmt: skip
        session.add(record)
        session.flush()
        record_id = record.id
        if finish is not None:
            finish(session, record_id, refusal)
        session.commit()
    refusal.recorded = True  # raised on through callers, which must not record it again
    return record_id
