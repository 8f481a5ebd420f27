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

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
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
        first = problems[0]
        super().__init__(
            f"{total} problem(s); nothing was imported. Line {first.line}: {first.message}",
            field=first.field,
        )
        self.problems, self.total = problems, total


@dataclass
class ImportResult:
    import_id: int | None
    lines: int
    added: int
    already_there: int
    encoding: str
    members: set[int] = field(default_factory=set)


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
            f"the file is neither UTF-8 nor GBK text (byte {exc.start + 1}): "
            "save it from the till as CSV in UTF-8 or GBK",
            field="file",
        ) from None


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
    """(line number, row by careplan's column names) for each non-empty line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise InvalidInput("the file is empty", field="file")
    columns = _header_map(header)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        yield (
            reader.line_num,
            {k: (row[i].strip() if i < len(row) else "") for k, i in columns.items()},
        )


# --- Checking a line -------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _text(row: dict[str, str], name: str, longest: int, *, required: bool = True) -> str:
    value = row.get(name, "")
    if required and not value:
        raise _Bad(name, "empty")
    if len(value) > longest:
        raise _Bad(name, f"longer than {longest} characters")
    return value


def _whole(row: dict[str, str], name: str, low: int, high: int) -> int:
    value = row.get(name, "")
    if not value.isdigit() or not low <= int(value) <= high:
        raise _Bad(name, f"a whole number from {low} to {high}")
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


@dataclass(frozen=True)
class _Known:
    """Cards and stores the file names, looked up once per chunk."""

    members: dict[str, int]
    stores: dict[str, int]


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
        "quantity": _whole(row, "quantity", 1, 10_000),
        "days_supply": _whole(row, "days_supply", 1, 366) if days else None,
        "purchased_on": _day(row, today),
        "amount": _money(row),
    }


def _key(row: dict[str, str], seen: Counter[str]) -> str:
    said = "\x1f".join(row.get(k, "") for k in COLUMNS)
    seen[said] += 1  # two identical lines in one file are two purchases
    return hashlib.sha256(f"{said}\x1e{seen[said]}".encode()).hexdigest()[:40]


# --- Importing ---------------------------------------------------------------------------


def _known(session: Session, actor: Actor, rows: Sequence[dict[str, str]]) -> _Known:
    cards = {r.get("card_number", "") for r in rows}
    members: dict[str, int] = {}
    card_list = sorted(cards)
    for i in range(0, len(card_list), 1000):
        stmt = select(Member.card_number, Member.id, Member.home_store_id).where(
            Member.card_number.in_(card_list[i : i + 1000])
        )
        for card, member_id, store_id in session.execute(stmt):
            if actor.may_see_store(store_id):
                members[card] = member_id
    stores = {
        code: store_id
        for code, store_id in session.execute(select(Store.code, Store.id))
        if actor.may_see_store(store_id)
    }
    return _Known(members, stores)


def check_lines(
    session: Session, actor: Actor, lines: Iterable[tuple[int, dict[str, str]]], *, today: date
) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem], int]:
    """Every line checked: (line number, values with key) for the good, the problems,
    and how many problems in all."""
    good: list[tuple[int, dict[str, Any]]] = []
    problems: list[Problem] = []
    total = 0
    seen: Counter[str] = Counter()
    batch: list[tuple[int, dict[str, str]]] = []

    def flush() -> None:
        nonlocal total
        known = _known(session, actor, [r for _, r in batch])
        for number, row in batch:
            try:
                values = _line(row, known, today)
            except _Bad as bad:
                total += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append(Problem(number, bad.field, bad.message))
                continue
            values["line_key"] = _key(row, seen)
            good.append((number, values))
        batch.clear()

    for item in lines:
        batch.append(item)
        if len(batch) >= CHUNK:
            flush()
    flush()
    return good, problems, total


def _insert_ignoring_known(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert, skipping lines whose key is already there (an earlier import)."""
    dialect = connection.dialect.name
    table = Purchase.__table__
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=["line_key"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["line_key"])
    else:  # pragma: no cover - careplan runs on the two above
        stmt = insert(table)
    connection.execute(stmt, rows)


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
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check every line, then (all good) insert them in chunks. Refused whole otherwise."""
    require_manager(actor)
    if actor.staff_id is None:
        raise InvalidInput("imports are made by a member of staff (--as)", field="actor")
    good, problems, total = check_lines(session, actor, lines, today=today)
    if problems:
        raise ImportRefused(problems, total)
    if not good:
        raise InvalidInput("the file has no purchase lines", field="file")
    record = PurchaseImport(
        file_name=file_name[:255], sha256=sha256, encoding=encoding, lines=len(good),
        added=0, already_there=0, imported_by_id=actor.staff_id, imported_at=now,
    )  # fmt: skip
    session.add(record)
    session.flush()
    connection = session.connection()
    recorder = actor.staff_id
    for start in range(0, len(good), CHUNK):
        rows = [
            values | {"import_id": record.id, "recorded_by_id": recorder, "recorded_at": now}
            for _, values in good[start : start + CHUNK]
        ]
        _insert_ignoring_known(connection, rows)
        if progress is not None:
            progress(min(start + CHUNK, len(good)), len(good))
    added = session.scalar(
        select(func.count()).select_from(Purchase).where(Purchase.import_id == record.id)
    )
    record.added = int(added or 0)
    record.already_there = len(good) - record.added
    session.flush()
    move_refill_steps(session, {v["member_id"] for _, v in good})
    return ImportResult(
        import_id=record.id,
        lines=len(good),
        added=record.added,
        already_there=record.already_there,
        encoding=encoding,
        members={v["member_id"] for _, v in good},
    )


def import_csv(
    session: Session,
    actor: Actor,
    data: bytes,
    *,
    file_name: str,
    today: date,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """A till's CSV export, UTF-8 or GBK, header named in English or Chinese."""
    text, encoding = decode(data)
    return import_lines(
        session, actor, csv_rows(text), file_name=file_name,
        sha256=hashlib.sha256(data).hexdigest(), encoding=encoding, today=today, now=now,
        progress=progress,
    )  # fmt: skip
