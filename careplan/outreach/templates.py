"""The message templates: one YAML file beside the protocols (protocols/messages/).

Each template has its named variables, its text in Chinese and English (`{name}` marks a
variable), and, per provider, what the provider approved: Aliyun sends only a template
it approved (its code, SMS_…, and the chain's signature, 签名), WeChat a subscribe
template (its id, and which of our variables fills each of its fields). `careplan
messages check` refuses a bad file as `protocols check` does: every problem with its
line, nothing loaded.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from careplan.errors import N_
from careplan.plans.protocol_schema import Key, Text
from careplan.plans.protocols import (
    ProtocolFileError,
    ProtocolIssue,
    decode,
    read_mapping,
    schema_issues,
)
from careplan.vocab import MessageReason

FILE_NAME = "templates.yaml"
LANGUAGES = ("zh", "en")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Aliyun(_Frozen):
    template_code: str = Field(pattern=r"^SMS_[0-9]{3,20}$")
    sign_name: str = Field(min_length=2, max_length=12)


class WeChat(_Frozen):
    template_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    fields: dict[str, Key]  # the template's field (thing1, time2…) → our variable


class Providers(_Frozen):
    aliyun: Aliyun | None = None
    wechat: WeChat | None = None


class Template(_Frozen):
    key: Key
    reason: MessageReason
    variables: tuple[Key, ...] = ()
    text: Text
    providers: Providers = Providers()


class TemplateFile(_Frozen):
    templates: tuple[Template, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Templates:
    by_key: Mapping[str, Template]
    path: str

    def get(self, key: str) -> Template:
        return self.by_key[key]

    def for_reason(self, reason: MessageReason) -> Template | None:
        """The reason's own template (a protocol step may name another)."""
        return self.by_key.get(reason.value)


def placeholders(text: str) -> list[str]:
    """The variables a text names: `{name}`; `{{` and `}}` are the braces themselves."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def render(template: Template, language: str, variables: Mapping[str, str]) -> str:
    """The message as the member reads it, in their language (zh unless en)."""
    text = template.text.get(language if language in LANGUAGES else "zh")
    return text.format_map({k: variables.get(k, "") for k in template.variables})


def _issues(
    parsed: TemplateFile, lines: dict[tuple[Any, ...], int], path: str
) -> list[ProtocolIssue]:
    issues: list[ProtocolIssue] = []
    seen: set[str] = set()
    for i, t in enumerate(parsed.templates):
        line, where = lines.get(("templates", i), 1), f"templates[{t.key}]"
        if t.key in seen:
            issues.append(
                ProtocolIssue(
                    path, line, N_("template key '%(key)s' is used twice"), {"key": t.key}
                )
            )
        seen.add(t.key)
        issues += _variable_issues(t, lines, i, path, where)
    covered = {t.reason for t in parsed.templates if t.key == t.reason.value}
    for reason in MessageReason:
        if reason not in covered:
            issues.append(
                ProtocolIssue(
                    path,
                    1,
                    N_("no template keyed by the reason '%(reason)s'"),
                    {"reason": reason.value},
                )
            )
    return issues


UNDECLARED = N_("'%(name)s' is not one of the template's variables")
UNUSED = N_("the variable '%(name)s' is not in the text")


def _variable_issues(
    t: Template, lines: dict[tuple[Any, ...], int], i: int, path: str, where: str
) -> list[ProtocolIssue]:
    """Each text names exactly the declared variables; WeChat's fields only declared ones."""
    declared = set(t.variables)
    found: list[tuple[int, str, str, set[str]]] = []  # (line, where, key, names)
    issues: list[ProtocolIssue] = []
    for language in LANGUAGES:
        line, at = lines.get(("templates", i, "text", language), 1), f"{where}.text.{language}"
        try:
            named = set(placeholders(t.text.get(language)))
        except ValueError:
            unpaired = N_("a { or } without its pair (write {{ or }} for the brace itself)")
            issues.append(ProtocolIssue(path, line, unpaired, where=at))
            continue
        found += [(line, at, UNDECLARED, named - declared), (line, at, UNUSED, declared - named)]
    if t.providers.wechat is not None:
        line = lines.get(("templates", i, "providers", "wechat"), 1)
        fields = set(t.providers.wechat.fields.values())
        found.append((line, f"{where}.providers.wechat", UNDECLARED, fields - declared))
    for line, at, key, names in found:
        issues += [ProtocolIssue(path, line, key, {"name": n}, where=at) for n in sorted(names)]
    return issues


def parse_templates(text: str, path: str = "<text>") -> Templates:
    """Validate the templates file's text; raise ProtocolFileError naming every issue."""
    data, lines = read_mapping(text, path)
    try:
        parsed = TemplateFile.model_validate(data)
    except ValidationError as exc:
        raise schema_issues(exc, data, lines, path) from None
    issues = _issues(parsed, lines, path)
    if issues:
        raise ProtocolFileError(sorted(issues, key=lambda x: x.line))
    return Templates({t.key: t for t in parsed.templates}, path)


def templates_path(protocols_dir: Path) -> Path:
    return protocols_dir / "messages" / FILE_NAME


def read_templates(path: Path) -> Templates:
    return parse_templates(decode(path.read_bytes(), str(path)), str(path))


@lru_cache(maxsize=4)
def _cached(path: Path, mtime_ns: int) -> Templates:
    return read_templates(path)


def current_templates(protocols_dir: Path) -> Templates:
    """The templates in use, read again when the file changes."""
    path = templates_path(protocols_dir)
    return _cached(path, path.stat().st_mtime_ns)


def unknown_step_templates(session: Any, templates: Templates) -> list[ProtocolIssue]:
    """Templates the published protocols' steps name (`remind`, `nudge`) but the file
    lacks: a step would have nothing to send."""
    from careplan.plans.protocols import definitions_by_version

    issues: list[ProtocolIssue] = []
    for definition in definitions_by_version(session).values():
        steps = [*definition.checkpoints, *definition.tails]
        for step in steps:
            for rule in (step.remind, step.nudge):
                if rule is not None and rule.template not in templates.by_key:
                    issues.append(
                        ProtocolIssue(
                            templates.path,
                            1,
                            N_(
                                "protocol %(protocol)s v%(version)s names the template '%(key)s', "
                                "which is not in the file"
                            ),
                            {
                                "protocol": definition.id,
                                "version": definition.version,
                                "key": rule.template,
                            },
                        )
                    )
    return issues
