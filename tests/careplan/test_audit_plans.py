"""Every audit query is served by an index: none reads the whole checkpoint table.

The statements the audit runs (at every level, today and as of an earlier day, for the
report, the step lists and the CSV) are captured and explained on the database itself.
On PostgreSQL, sequential scans are priced out (enable_seqscan = off) because the test
chain is tiny and a scan of it would be cheapest: what is checked is that an index
*can* serve each query; benchmarks/audit.py shows the plans chosen at 10M steps.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from careplan.audit import audit
from careplan.models import Staff
from tests.audit_chain import Chain, D

# Partial indexes hold only open (or only done) steps: reading one whole is reading the
# open slice, not the history.
PARTIAL = re.compile(r"ix_checkpoints_(open_\w+|done_on)")


def _allowed(index: str, condition: str) -> bool:
    """The ways into checkpoints that are proportional to what is shown: a partial index,
    one row by its key, one person's steps, or the steps due in a bounded period."""
    if PARTIAL.search(index) or index.startswith("pk_") or "PRIMARY KEY" in index:
        return True
    if re.match(r"\(*assignee_id ?=", condition):
        return True
    bounded = re.search(r"due_on ?>", condition) and re.search(r"due_on ?<", condition)
    return index == "ix_checkpoints_due_rates" and bool(bounded)


def _statements(chain: Chain) -> list[tuple[str, Any]]:
    w = chain.world
    s = w.session
    seen: list[tuple[str, Any]] = []
    conn = s.connection()

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "checkpoints" in statement:
            seen.append((statement, params))

    event.listen(conn, "before_cursor_execute", capture)
    try:
        _run_everything(s, chain, w.supervisor)
    finally:
        event.remove(conn, "before_cursor_execute", capture)
    return seen


def _run_everything(s: Session, chain: Chain, who: Staff) -> None:
    actor = chain.world.actor(who)
    scopes = [
        {},
        {"region": "华东"},
        {"store_id": chain.world.store_a.id},
        {"staff_id": chain.a1.id},
    ]
    for scope in scopes:
        sc = audit.resolve_scope(s, actor, **scope)  # type: ignore[arg-type]
        for as_of in (D, D - timedelta(days=3)):
            q = audit.make_query(sc, today=D, as_of=as_of, protocol_id=None)
            audit.report(s, actor, q)
            for status in ("overdue", "missed", "due"):
                f = audit.StepFilter(status=status, bucket="4-7" if status == "overdue" else None)  # type: ignore[arg-type]
                audit.list_steps(s, actor, q, f, limit=10, offset=0)
                audit.count_steps(s, actor, q, f)
                list(audit.iter_steps(s, actor, q, f))


def _sqlite_problems(conn: Connection, statement: str, params: Any) -> list[str]:
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
    problems = []
    for row in rows:
        detail = row[-1]
        access = re.match(
            r"(SCAN|SEARCH) checkpoints\b(?: USING (.*?INDEX|INTEGER PRIMARY KEY) ?(\S*))? ?(.*)",
            detail,
        )
        if access is None:
            continue
        _, how, index, condition = access.groups()
        if how is None or not _allowed(how if "PRIMARY KEY" in how else index, condition):
            problems.append(detail)
    return problems


def _pg_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found.extend(_pg_nodes(child))
    return found


def _pg_problems(conn: Connection, statement: str, params: Any) -> list[str]:
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    try:
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar_one()
    finally:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = on")
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    problems = []
    for node in _pg_nodes(plan):
        on_checkpoints = node.get("Relation Name") == "checkpoints" or str(
            node.get("Index Name", "")
        ).startswith(("ix_checkpoints", "pk_checkpoints", "uq_checkpoints"))
        if not on_checkpoints:
            continue
        kind, index = node["Node Type"], node.get("Index Name", "")
        if kind == "Bitmap Heap Scan":
            continue  # its Bitmap Index Scan child names the index and is checked
        if not _allowed(index, node.get("Index Cond", "")):
            problems.append(f"{kind} {index} {node.get('Index Cond', '')}".strip())
    return problems


def test_no_audit_query_reads_the_whole_checkpoint_table(chain: Chain, session: Session) -> None:
    statements = _statements(chain)
    assert len(statements) > 40  # the report, lists and CSV at every level were captured
    conn = session.connection()
    explain = _pg_problems if conn.dialect.name == "postgresql" else _sqlite_problems
    problems = {}
    for statement, params in statements:
        found = explain(conn, statement, params)
        if found:
            problems[statement[:300]] = found
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)
