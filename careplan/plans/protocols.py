"""Reading, checking and publishing care protocols from YAML.

A bad file is refused whole with `file:line: message`; nothing from it is loaded. The YAML
is read safely: no tags beyond plain data, no anchors or aliases (a billion-laughs file
is refused before it can expand), no duplicate keys (which YAML would silently merge).
A published (id, version) is frozen: loading different content under it is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, require_chain_settings
from careplan.errors import N_, NotFound, said
from careplan.models import ProtocolVersion
from careplan.plans.protocol_schema import (
    LATER_FIELDS,
    LATER_PROTOCOL_FIELDS,
    Protocol,
    Step,
    StepCommon,
)
from careplan.plans.schedule import expiry_of, grace_of, nominal_due_day
from careplan.trust.change_log import log_action
from careplan.validation import refusal

MAX_FILE_BYTES = 256 * 1024
PLAIN_TAGS = frozenset(
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq")
)


@dataclass(frozen=True)
class ProtocolIssue:
    """One problem in a file. The message is a catalogue key with its parameters, so the
    CLI says it in English and the admin console in the reader's language; `where` is
    the place in the file (`checkpoints[w3].title`), ids that no language translates."""

    path: str
    line: int
    key: str
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)
    where: str = ""

    @property
    def message(self) -> str:
        english = self.key % dict(self.params) if self.params else self.key
        return f"{self.where}: {english}" if self.where else english

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ProtocolFileError(Exception):
    """One or more files are bad; each issue names file, line and what is wrong."""

    def __init__(self, issues: Sequence[ProtocolIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = list(issues)


@dataclass(frozen=True)
class LoadedProtocol:
    definition: Protocol
    path: str
    content_hash: str
    lines: dict[tuple[Any, ...], int] = field(compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.definition.id} v{self.definition.version}"


class _Loader(yaml.SafeLoader):
    """Composes the node tree, refusing anchors and aliases as it goes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in PyYAML's stubs
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _YamlRefused(
                event.start_mark.line + 1,
                N_("YAML anchors and aliases (&name, *name) are not allowed in protocols"),
            )
        return super().compose_node(parent, index)


class _YamlRefused(Exception):
    def __init__(self, line: int, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.line, self.key, self.params = line, key, params

    def issue(self, path: str) -> ProtocolIssue:
        return ProtocolIssue(path, self.line, self.key, self.params)


def content_hash(definition: Protocol) -> str:
    """The hash of what a protocol *says* (comments and layout do not count)."""
    said = definition.model_dump(mode="json")
    tails = said.get("routine") or []
    for step in [*said["checkpoints"], *(tails if isinstance(tails, list) else [tails])]:
        for name in LATER_FIELDS:
            if step.get(name) in (None, False):
                step.pop(name, None)
    for name, default in LATER_PROTOCOL_FIELDS.items():
        if said.get(name) == default:
            said.pop(name, None)
    canonical = json.dumps(said, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _to_python(
    loader: _Loader, node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]
) -> Any:
    lines[path] = node.start_mark.line + 1
    if node.tag not in PLAIN_TAGS:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise _YamlRefused(
            node.start_mark.line + 1, N_("YAML tag '%(tag)s' is not allowed"), tag=tag
        )
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                raise _YamlRefused(
                    key_node.start_mark.line + 1, N_("key %(key)s must be text"), key=repr(key)
                )
            if key in out:
                raise _YamlRefused(
                    key_node.start_mark.line + 1, N_("duplicate key '%(key)s'"), key=key
                )
            out[key] = _to_python(loader, value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(loader, n, (*path, i), lines) for i, n in enumerate(node.value)]
    return loader.construct_object(node)


def _read_yaml(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[tuple[Any, ...], int] = {}
        data = _to_python(loader, node, (), lines) if node is not None else None
        return data, lines
    finally:
        loader.dispose()


def _label(data: Any, loc: Sequence[Any]) -> str:
    """checkpoints[w3_diet].title.en — list items named by their key where they have one."""
    parts: list[str] = []
    node = data
    for part in loc:
        if part == "[key]":  # pydantic's mark for a mapping's key: the key is named already
            continue
        if isinstance(part, int):
            key = (
                node[part].get("key")
                if isinstance(node, list) and part < len(node) and isinstance(node[part], dict)
                else None
            )
            parts.append(f"[{key or part}]")
        else:
            parts.append(("." if parts else "") + str(part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return "".join(parts) or "(top level)"


def _line_for(lines: dict[tuple[Any, ...], int], loc: Sequence[Any]) -> int:
    for end in range(len(loc), -1, -1):
        if tuple(loc[:end]) in lines:
            return lines[tuple(loc[:end])]
    return 1


def _pydantic_issue(path: str, line: int, data: Any, err: dict[str, Any]) -> ProtocolIssue:
    """One schema error as an issue: the place in the file and a catalogue key, never
    pydantic's own sentence (it names regular expressions and Python types)."""
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    where, kind = _label(data, loc), err["type"]
    if kind in ("missing", "string_too_short") and loc and loc[-1] in ("zh", "en"):
        key = (
            N_("the Chinese (zh) text is missing")
            if loc[-1] == "zh"
            else N_("the English (en) text is missing")
        )
        return ProtocolIssue(path, line, key, where=_label(data, loc[:-1]))
    if kind == "missing":
        return ProtocolIssue(path, line, N_("required field is missing"), where=where)
    if kind == "extra_forbidden":
        return ProtocolIssue(
            path,
            line,
            N_("unknown field '%(field)s'"),
            {"field": str(loc[-1])},
            where=_label(data, loc[:-1]),
        )
    if kind == "string_pattern_mismatch":
        key = (
            N_("not an ICD-10 code (a letter, two digits, then an optional .part: M81.0)")
            if loc and loc[-1] == "icd10"
            else N_(
                "a key is lower-case letters, digits and _, starts with a letter "
                "and has at most 48 characters"
            )
        )
        return ProtocolIssue(path, line, key, where=where)
    refused = refusal(err)
    params = {k: said(v) for k, v in refused.params.items()}
    return ProtocolIssue(path, line, refused.message, params, where=where)


def _order_issues(
    definition: Protocol, lines: dict[tuple[Any, ...], int], path: str
) -> list[ProtocolIssue]:
    issues: list[ProtocolIssue] = []
    seen: set[str] = set()
    previous: Step | None = None
    for i, step in enumerate(definition.checkpoints):
        line = lines.get(("checkpoints", i), 1)
        if step.key in seen:
            issues.append(
                ProtocolIssue(
                    path, line, N_("checkpoint key '%(key)s' is used twice"), {"key": step.key}
                )
            )
        seen.add(step.key)
        if previous is not None and nominal_due_day(step) <= nominal_due_day(previous):
            issues.append(
                ProtocolIssue(
                    path,
                    line,
                    N_(
                        "checkpoints[%(key)s] is due no later than the step before it "
                        "(%(previous)s): offsets must increase"
                    ),
                    {"key": step.key, "previous": previous.key},
                )
            )
        previous = step
    for i, common in all_steps(definition):
        grace, expiry = grace_of(definition, common), expiry_of(definition, common)
        if expiry is not None and expiry <= grace:
            line = lines.get(_routine_path(definition, i) if i < 0 else ("checkpoints", i), 1)
            issues.append(
                ProtocolIssue(
                    path,
                    line,
                    N_(
                        "expiry_days (%(expiry)s) must be longer than grace_days (%(grace)s): "
                        "a step cannot be missed before it is overdue"
                    ),
                    {"expiry": expiry, "grace": grace},
                )
            )
    return issues


def _routine_path(definition: Protocol, i: int) -> tuple[Any, ...]:
    """Where the routine series `all_steps` numbered -1, -2, … stands in the file."""
    return ("routine", -1 - i) if isinstance(definition.routine, tuple) else ("routine",)


def all_steps(definition: Protocol) -> list[tuple[int, StepCommon]]:
    steps: list[tuple[int, StepCommon]] = list(enumerate(definition.checkpoints))
    steps += [(-1 - n, tail) for n, tail in enumerate(definition.tails)]
    return steps


def read_mapping(text: str, path: str) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    """A YAML file of ours (a protocol, the message templates) as a mapping, with the
    line of each value; raise ProtocolFileError for what is no plain YAML mapping."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ProtocolFileError([ProtocolIssue(path, 1, N_("file is larger than 256 KiB"))])
    try:
        data, lines = _read_yaml(text)
    except _YamlRefused as exc:
        raise ProtocolFileError([exc.issue(path)]) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ProtocolFileError(
            [ProtocolIssue(path, line, N_("not valid YAML: %(problem)s"), {"problem": exc.problem})]
        ) from None
    if not isinstance(data, dict):
        raise ProtocolFileError([ProtocolIssue(path, 1, N_("a protocol must be a YAML mapping"))])
    return data, lines


def schema_issues(
    exc: ValidationError, data: Any, lines: dict[tuple[Any, ...], int], path: str
) -> ProtocolFileError:
    """A schema's refusal of a file as its issues, in line order."""
    issues = [
        _pydantic_issue(path, _line_for(lines, e["loc"]), data, dict(e)) for e in exc.errors()
    ]
    return ProtocolFileError(sorted(issues, key=lambda i: i.line))


def parse_protocol(text: str, path: str = "<text>") -> LoadedProtocol:
    """Validate one protocol's YAML text; raise ProtocolFileError naming every issue."""
    data, lines = read_mapping(text, path)
    try:
        definition = Protocol.model_validate(data)
    except ValidationError as exc:
        raise schema_issues(exc, data, lines, path) from None
    issues = _order_issues(definition, lines, path)
    if issues:
        raise ProtocolFileError(issues)
    return LoadedProtocol(definition, path, content_hash(definition), lines)


def decode(data: bytes, path: str) -> str:
    """A file's text, or the issue `careplan protocols check` reports for an unreadable one."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolFileError(
            [
                ProtocolIssue(
                    path,
                    1,
                    N_("cannot read file: it is not UTF-8 text (byte %(at)s)"),
                    {"at": exc.start},
                )
            ]
        ) from None


def check_upload(session: Session, data: bytes, path: str) -> LoadedProtocol:
    """One uploaded file, checked as `careplan protocols check` checks files (the same
    parse, the same frozen-version rule, so the same messages); nothing is stored."""
    loaded = parse_protocol(decode(data, path), path)
    issues = check_published(session, [loaded])
    if issues:
        raise ProtocolFileError(issues)
    return loaded


def is_published(session: Session, loaded: LoadedProtocol) -> bool:
    return _published(session, loaded.definition.id, loaded.definition.version) is not None


def publish_upload(session: Session, actor: Actor, data: bytes, path: str) -> LoadedProtocol:
    """Publish a checked upload (checked again: another version may have been published
    since), in the change log under the person who confirmed it."""
    require_chain_settings(actor)
    loaded = check_upload(session, data, path)
    for item, new in publish(session, [loaded]):
        row = _published(session, item.definition.id, item.definition.version)
        if new and row is not None:
            log_action(session, "protocol_version", row.id, "publish", {
                "protocol_id": [None, row.protocol_id], "version": [None, row.version],
                "content_hash": [None, row.content_hash], "source": [None, row.source],
            })  # fmt: skip
    return loaded


def protocol_files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.iterdir() if p.suffix in (".yaml", ".yml"))
    return [target]


def read_files(paths: Iterable[Path]) -> list[LoadedProtocol]:
    """Parse every file; collect all issues so one run shows everything to fix."""
    loaded: list[LoadedProtocol] = []
    issues: list[ProtocolIssue] = []
    for p in paths:
        try:
            text = decode(p.read_bytes(), str(p))
        except OSError as exc:
            issues.append(
                ProtocolIssue(
                    str(p),
                    1,
                    N_("cannot read file: %(reason)s"),
                    {"reason": exc.strerror or type(exc).__name__},
                )
            )
            continue
        except ProtocolFileError as exc:
            issues.extend(exc.issues)
            continue
        try:
            loaded.append(parse_protocol(text, str(p)))
        except ProtocolFileError as exc:
            issues.extend(exc.issues)
    by_ref: dict[tuple[str, int], LoadedProtocol] = {}
    for item in loaded:
        ref = (item.definition.id, item.definition.version)
        if ref in by_ref:
            issues.append(
                ProtocolIssue(
                    item.path,
                    item.lines.get(("version",), 1),
                    N_("%(ref)s is also defined in %(other)s"),
                    {"ref": item.ref, "other": by_ref[ref].path},
                )
            )
        by_ref[ref] = item
    if issues:
        raise ProtocolFileError(issues)
    return loaded


def check_published(session: Session, loaded: Sequence[LoadedProtocol]) -> list[ProtocolIssue]:
    """A published version is frozen: its content may never change under the same number."""
    issues = []
    for item in loaded:
        row = _published(session, item.definition.id, item.definition.version)
        # Compared as the current schema reads the stored definition: a field added to
        # the schema since (with its default) does not make the same protocol "changed".
        if row is not None and content_hash(definition_of(row)) != item.content_hash:
            issues.append(
                ProtocolIssue(
                    item.path,
                    item.lines.get(("version",), 1),
                    N_(
                        "%(ref)s is already published with different content; "
                        "publish the change as version %(next)s"
                    ),
                    {"ref": item.ref, "next": item.definition.version + 1},
                )
            )
    return issues


def _published(session: Session, protocol_id: str, version: int) -> ProtocolVersion | None:
    return session.scalar(
        select(ProtocolVersion).where(
            ProtocolVersion.protocol_id == protocol_id, ProtocolVersion.version == version
        )
    )


def publish(
    session: Session, loaded: Sequence[LoadedProtocol]
) -> list[tuple[LoadedProtocol, bool]]:
    """Store new versions; return (protocol, was_new). Refuses changed published content."""
    issues = check_published(session, loaded)
    if issues:
        raise ProtocolFileError(issues)
    session.info.pop(_VERSIONS, None)
    out = []
    for item in loaded:
        if _published(session, item.definition.id, item.definition.version) is not None:
            out.append((item, False))
            continue
        session.add(
            ProtocolVersion(
                protocol_id=item.definition.id,
                version=item.definition.version,
                content_hash=item.content_hash,
                definition=item.definition.model_dump(mode="json"),
                source=Path(item.path).name,
            )
        )
        out.append((item, True))
    session.flush()
    return out


_DEFINITIONS: dict[str, Protocol] = {}


def definition_of(row: ProtocolVersion) -> Protocol:
    """The frozen definition of a stored version, parsed once per content hash."""
    found = _DEFINITIONS.get(row.content_hash)
    if found is None:
        found = _DEFINITIONS[row.content_hash] = Protocol.model_validate(row.definition)
    return found


def latest_version(session: Session, protocol_id: str) -> ProtocolVersion | None:
    return session.scalar(
        select(ProtocolVersion)
        .where(ProtocolVersion.protocol_id == protocol_id)
        .order_by(ProtocolVersion.version.desc())
        .limit(1)
    )


def get_version(session: Session, protocol_id: str, version: int | None) -> ProtocolVersion:
    row = (
        latest_version(session, protocol_id)
        if version is None
        else _published(session, protocol_id, version)
    )
    if row is None:
        what = protocol_id if version is None else f"{protocol_id} v{version}"
        raise NotFound(N_("protocol %(protocol)s is not published"), field="protocol_id",
                       protocol=what)  # fmt: skip
    return row


_VERSIONS = "careplan.plans.protocols.versions"  # the session's memo (see published_hashes)


def published_hashes(session: Session) -> list[tuple[str, int, str]]:
    """(protocol id, version row id, content hash) of every published version, oldest
    first within a protocol.

    Several parts of one page ask; a session (one request) reads them once. Versions
    are only ever added, by publish(), which forgets the memo."""
    found = session.info.get(_VERSIONS)
    if found is None:
        stmt = select(
            ProtocolVersion.protocol_id, ProtocolVersion.id, ProtocolVersion.content_hash
        ).order_by(ProtocolVersion.protocol_id, ProtocolVersion.version)
        found = session.info[_VERSIONS] = [tuple(r) for r in session.execute(stmt)]
    return found


def _definition(session: Session, version_id: int, content_hash: str) -> Protocol:
    """A version's definition; the row (a large JSON document) is read only the first
    time its hash is seen in this process."""
    known = _DEFINITIONS.get(content_hash)
    if known is None:
        row = session.get(ProtocolVersion, version_id)
        assert row is not None
        known = definition_of(row)
    return known


def newest_definitions(session: Session) -> dict[str, Protocol]:
    """The newest version of each protocol, by id, in id order (many pages ask on every
    request: only ids and hashes are read)."""
    newest: dict[str, tuple[int, str]] = {}
    for protocol_id, version_id, content_hash in published_hashes(session):
        newest[protocol_id] = (version_id, content_hash)
    return {pid: _definition(session, *newest[pid]) for pid in sorted(newest)}


def definitions_by_version(session: Session) -> dict[int, Protocol]:
    """Every published version's definition, by version row id."""
    return {
        version_id: _definition(session, version_id, content_hash)
        for _, version_id, content_hash in published_hashes(session)
    }


def list_versions(session: Session) -> list[ProtocolVersion]:
    return list(
        session.scalars(
            select(ProtocolVersion).order_by(ProtocolVersion.protocol_id, ProtocolVersion.version)
        )
    )
