"""Importing the till's sales and dispensing lines (CSV or JSON rows).

All or nothing: a file with any bad line writes nothing, and the report names every bad
line and field. Re-importing adds nothing: each line has a key (a hash of what it says,
and which occurrence of identical lines it is), unique in the purchases table. After the
lines are in, refill steps of the members who bought move (careplan/adherence.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from careplan.access import Actor, require_manager
from careplan.adherence import move_refill_steps
from careplan.errors import InvalidInput
from careplan.models import Member, Purchase, PurchaseImport, Store

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
CHUNK = 5000
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


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 (with or without BOM), else GB18030
    (a superset of GBK and GB2312, what Chinese tills and spreadsheet programs save)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "the file is neither UTF-8 nor GBK text: save it from the till as CSV in UTF-8 or GBK",
            field="file",
        ) from exc


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


def csv_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row by careplan's column names) for each non-empty line. The row's
    "" entry is the line as the till wrote it, which its key is made from."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise InvalidInput("the file is empty", field="file")
    pairs = list(_header_map(header).items())
    width = max(i for _, i in pairs) + 1
    for row in reader:
        said = "\x1f".join(row)
        if not said.replace("\x1f", "").strip():
            continue
        if len(row) < width:
            row += [""] * (width - len(row))
        values = {k: row[i].strip() for k, i in pairs}
        values[""] = said
        yield reader.line_num, values


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


def _whole(row: dict[str, str], name: str) -> int:
    low, high, message = WHOLE[name]
    value = row.get(name, "")
    if not value.isdigit() or not low <= int(value) <= high:
        raise _Bad(name, message)
    return int(value)


def _day(row: dict[str, str], today: date) -> date:
    value = row.get("purchased_on", "").replace("/", "-")
    try:
        day = date.fromisoformat(value[:10]) if len(value) >= 8 else None
    except ValueError:
        day = None
    if day is None:
        raise _Bad("purchased_on", "a date like 2026-11-20")
    if day > today:
        raise _Bad("purchased_on", "in the future")
    return day


def _money(row: dict[str, str]) -> Decimal:
    try:
        value = Decimal(row.get("amount", "").replace("¥", "").replace(",", ""))
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


@dataclass
class _Known:
    """Cards and stores the file names, looked up as they first appear."""

    members: dict[str, int]
    stores: dict[str, int]
    asked: set[str] = field(default_factory=set)  # cards looked up (found or not)


def _line(row: dict[str, str], known: _Known, today: date) -> dict[str, Any]:
    card = _text(row, "card_number", 32)
    member_id = known.members.get(card)
    if member_id is None:
        raise _Bad("card_number", "no member has this card number")
    store_id = known.stores.get(_text(row, "store_code", 32))
    if store_id is None:
        raise _Bad("store_code", "no store you may import for has this code")
    days = row.get("days_supply", "")
    return {
        "member_id": member_id,
        "store_id": store_id,
        "product_code": _text(row, "product_code", 64),
        "product_name": _text(row, "product_name", 160),
        "drug_class": _text(row, "drug_class", 64, required=False) or None,
        "quantity": _whole(row, "quantity"),
        "days_supply": _whole(row, "days_supply") if days else None,
        "purchased_on": _day(row, today),
        "amount": _money(row),
    }


def _key(row: dict[str, str], seen: Counter[str]) -> str:
    """The line's key: a hash of what it says and which of identical lines in the file
    it is (two identical lines in one file are two purchases)."""
    said = row.get("") or "\x1f".join([row.get(k, "") for k in COLUMNS])
    seen[said] += 1
    return hashlib.sha256(f"{said}\x1e{seen[said]}".encode()).hexdigest()[:32]  # 128 bits


# --- Importing ---------------------------------------------------------------------------


def _look_up(session: Session, actor: Actor, known: _Known, rows: Sequence[dict[str, str]]) -> None:
    """Add the members of the cards not asked about yet (those the actor may see)."""
    cards = sorted({r.get("card_number", "") for r in rows} - known.asked)
    known.asked.update(cards)
    for i in range(0, len(cards), 1000):
        stmt = select(Member.card_number, Member.id, Member.home_store_id).where(
            Member.card_number.in_(cards[i : i + 1000])
        )
        for card, member_id, store_id in session.execute(stmt):
            if actor.may_see_store(store_id):
                known.members[card] = member_id


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

    def check(
        self, session: Session, actor: Actor, batch: list[tuple[int, dict[str, str]]], today: date
    ) -> list[dict[str, Any]]:
        if self.known is None:
            self.known = _Known(members={}, stores=_stores(session, actor))
        known = self.known
        _look_up(session, actor, known, [r for _, r in batch])
        good = []
        for number, row in batch:
            try:
                values = _line(row, known, today)
            except _Bad as bad:
                self.total += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append(Problem(number, bad.field, bad.message))
                continue
            values["line_key"] = _key(row, self.seen)
            self.members.add(values["member_id"])
            good.append(values)
        self.lines += len(batch)
        return good


_INSERTED = ("member_id", "store_id", "product_code", "product_name", "drug_class",
             "quantity", "days_supply", "purchased_on", "amount", "line_key", "import_id",
             "recorded_by_id", "recorded_at")  # fmt: skip


def _bound(process: Any, value: Any) -> Any:
    return value if process is None or value is None else process(value)


_STAMP = ("import_id", "recorded_by_id", "recorded_at")  # the same on every line


def _insert_ignoring_known(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert, skipping lines whose key is already there (an earlier import)."""
    if connection.dialect.name == "postgresql":
        _copy_ignoring_known(connection, rows)
    else:
        _sqlite_insert_ignoring_known(connection, rows)


def _sqlite_insert_ignoring_known(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Core's per-row type processing was half the import's time: each column is bound
    with SQLAlchemy's own processor for it (so values are stored exactly as the ORM
    stores them), the stamp once per chunk, through one executemany."""
    dialect, table = connection.dialect, Purchase.__table__

    def processor(name: str) -> Any:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    stamp = {name: _bound(processor(name), rows[0][name]) for name in _STAMP}
    columns = [(name, None if name in stamp else processor(name)) for name in _INSERTED]
    params = [
        tuple(stamp[n] if n in stamp else _bound(p, row[n]) for n, p in columns) for row in rows
    ]
    sql = (
        f"INSERT INTO purchases ({', '.join(_INSERTED)}) VALUES "
        f"({', '.join('?' * len(_INSERTED))}) ON CONFLICT (line_key) DO NOTHING"
    )
    connection.exec_driver_sql(sql, params)


_STAGE = ", ".join(
    f"{name} {kind}"
    for name, kind in zip(
        _INSERTED,
        ("bigint", "bigint", "varchar(64)", "varchar(160)", "varchar(64)", "integer", "integer",
         "date", "numeric(12, 2)", "varchar(64)", "bigint", "bigint", "timestamptz"),
        strict=True,
    )
)  # fmt: skip


def _copy_ignoring_known(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the chunk into a temporary table, then one INSERT … SELECT that
    skips known keys (a multi-row INSERT per chunk ran at half the speed)."""
    raw = connection.connection.driver_connection
    columns = ", ".join(_INSERTED)
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS purchase_lines ({_STAGE}) ON COMMIT DROP")
        with cur.copy(f"COPY purchase_lines ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in _INSERTED])
        cur.execute(
            f"INSERT INTO purchases ({columns}) SELECT {columns} FROM purchase_lines "
            "ON CONFLICT (line_key) DO NOTHING"
        )
        cur.execute("TRUNCATE purchase_lines")


def _chunks(
    lines: Iterable[tuple[int, dict[str, str]]],
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    batch: list[tuple[int, dict[str, str]]] = []
    for item in lines:
        batch.append(item)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def import_lines(
    session: Session,
    actor: Actor,
    lines: Iterable[tuple[int, dict[str, str]]],
    *,
    file_name: str,
    sha256: str,
    encoding: str,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check and insert chunk by chunk (memory stays one chunk, whatever the file);
    after the first bad line nothing more is inserted, every line is still checked, and
    the refusal's report lists them all. All or nothing: a savepoint undoes a refused
    file's writes even when the caller's transaction goes on."""
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
        connection = session.connection()
        stamp = {"import_id": record.id, "recorded_by_id": actor.staff_id, "recorded_at": now}
        checked = _Checked()
        for batch in _chunks(lines):
            good = checked.check(session, actor, batch, today)
            if not checked.total:
                _insert_ignoring_known(connection, [values | stamp for values in good])
            if progress is not None:
                progress(checked.lines)
        if checked.problems:
            raise ImportRefused(checked.problems, checked.total)
        if not checked.lines:
            raise InvalidInput("the file has no purchase lines", field="file")
        added = session.scalar(
            select(func.count()).select_from(Purchase).where(Purchase.import_id == record.id)
        )
        record.lines, record.added = checked.lines, int(added or 0)
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
    data: bytes,
    *,
    file_name: str,
    today: date,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """A till's CSV export, UTF-8 or GBK, header named in English or Chinese."""
    text, encoding = decode(data)
    return import_lines(
        session, actor, csv_rows(text), file_name=file_name,
        sha256=hashlib.sha256(data).hexdigest(), encoding=encoding, today=today, now=now,
        progress=progress,
    )  # fmt: skip
