"""Rendering pages: one Jinja2 environment, the visitor's language, and the one layout
switch (a full page, or only the fragment htmx asked for)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from careplan.adherence.drug_classes import label as drug_class_label
from careplan.adherence.pdc import ADHERENT_PERCENT
from careplan.config import get_settings
from careplan.errors import CareplanError
from careplan.plans import escalations
from careplan.plans.lifecycle import StepTitle
from careplan.plans.protocol_schema import Text
from web.i18n import COLON, N_, gettext_for, in_brackets
from web.labels import FIELDS, GRADE_NAMES, label_of
from web.session import ANON_COOKIE, Visitor, set_cookie

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
env = templates.env
WEEKDAYS_ZH = "一二三四五六日"
# A routine contact's name: "常规维护联系 · 第1个月第2次" (issue 21).
ROUTINE_TITLE = N_("%(step)s · month %(month)s, contact %(n)s")
# A list's line in a refusal: "过敏史（第 2 项）：最多 80 个字符".
LIST_ITEM = N_("item %(n)s")
# Templates write the full stop as _(".") (_(". ") between two sentences: no space
# after "。") and list separators as _(", ") and _("; ").


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


@pass_context
def label(ctx: Context, value: StrEnum | str | None, vocabulary: str | None = None) -> str:
    """A vocabulary value in words: `{{ plan.status | label }}`, or for a plain string
    `{{ value | label("Adherence") }}`."""
    if value is None:
        return ""
    msg = label_of(value, vocabulary)
    return ctx["_"](msg) if msg else str(value)


@pass_context
def field_label(ctx: Context, name: str) -> str:
    return ctx["_"](FIELDS.get(name, name))


def step_name(title: StepTitle, language: str) -> str:
    """A step's name in words; a routine contact's with its month and number."""
    name = title.title.get(language)
    if title.month is None:
        return name
    return gettext_for(language)(ROUTINE_TITLE, step=name, month=title.month, n=title.number)


@pass_context
def text(ctx: Context, value: Text | StepTitle | dict[str, str] | None) -> str:
    if value is None:
        return ""
    if isinstance(value, StepTitle):
        return step_name(value, ctx["lang"])
    if isinstance(value, dict):
        return value.get(ctx["lang"]) or value.get("zh", "")
    return value.get(ctx["lang"])


@pass_context
def day(ctx: Context, value: date | None, weekday: bool = False, year: bool = True) -> str:
    if value is None:
        return ""
    if ctx["lang"] == "zh":
        out = (
            f"{value.year}年{value.month}月{value.day}日"
            if year
            else (f"{value.month}月{value.day}日")
        )
        return out + (f" 周{WEEKDAYS_ZH[value.weekday()]}" if weekday else "")
    out = value.strftime("%-d %b %Y" if year else "%-d %b")
    return (value.strftime("%a ") if weekday else "") + out


@pass_context
def moment(ctx: Context, value: datetime | None) -> str:
    """A stored UTC time, shown in the chain's time zone."""
    if value is None:
        return ""
    local = value.astimezone(get_settings().zone)
    return f"{day(ctx, local.date())} {local:%H:%M}"


@pass_context
def drug_class(ctx: Context, key: str) -> str:
    return drug_class_label(key, "zh" if str(ctx.get("lang", "zh")) == "zh" else "en")


@pass_context
def time_range(ctx: Context, starts: datetime, ends: datetime) -> str:
    """From–to in the chain's time zone; the end's date only when it is another day."""
    zone = get_settings().zone
    if starts.astimezone(zone).date() == ends.astimezone(zone).date():
        return f"{moment(ctx, starts)}–{ends.astimezone(zone):%H:%M}"
    return f"{moment(ctx, starts)} – {moment(ctx, ends)}"


@pass_context
def series(ctx: Context, values: Any) -> str:
    """A list in the reader's language: "青霉素、头孢" in Chinese, "a, b" in English."""
    return str(ctx["_"](", ")).join(str(v) for v in values or ())


@pass_context
def colon(ctx: Context, value: Any) -> Markup:
    """A label and its colon: "缺少：" in Chinese, "Missing: " in English."""
    return Markup("{}{}").format(value, ctx["_"](COLON))


@pass_context
def paren(ctx: Context, value: Any) -> Markup:
    """An aside in the language's brackets: "（电话）" in Chinese, " (phone)" in English,
    so a template writes `{{ word }}{{ aside | paren }}` with no space of its own."""
    return Markup(in_brackets(ctx["_"], escape(value)))


def error_text(_: Any, exc: CareplanError) -> Markup:
    """'<field label>: <message>' in the visitor's language: the message's key translated,
    its parameters filled in. A vocabulary value is said in words, a list with the
    language's separator, and data (a card number, a name) is marked translate="no"."""
    parts = (exc.field or "").split(".")
    label_ = FIELDS.get(parts[0])
    values = {k: _param(_, v) for k, v in exc.params.items()}
    shown = Markup(escape(_(exc.message))) % values if values else escape(_(exc.message))
    named = _(label_) if label_ else ""
    if named and len(parts) > 1 and parts[1].isdigit():  # one line of a list: say which
        named += in_brackets(_, _(LIST_ITEM, n=int(parts[1]) + 1))
    return Markup("{}{}").format(named, _(COLON)) + shown if named else shown


def _param(_: Any, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return Markup(escape(_(", "))).join(_param(_, v) for v in value)
    if isinstance(value, StrEnum) and (msg := label_of(value)):
        return _(msg)
    if isinstance(value, int | float):
        return value
    return Markup('<span translate="no">{}</span>').format(value)


def error_problem(_: Any, exc: CareplanError) -> str:
    """The refusal without its field, for showing beside the answer it is about (the
    box's own label names the field there)."""
    message = exc.message
    for prefix in (f"{exc.field}: ", f"{(exc.field or '').split('.')[0]}: "):
        message = message.removeprefix(prefix)
    return _(message, **exc.params) if exc.params else _(message)


# Pages ask the domain whether a case is late; the rule is careplan.plans.escalations.is_late.
env.globals["escalation_late"] = escalations.is_late
env.globals["adherent_percent"] = ADHERENT_PERCENT  # the threshold pages print
env.globals["grade_names"] = GRADE_NAMES  # 关系等级: score, class and what it means

env.filters.update(
    label=label,
    field_label=field_label,
    series=series,
    colon=colon,
    paren=paren,
    text=text,
    day=day,
    moment=moment,
    time_range=time_range,
    drug_class=drug_class,
)


def render(
    request: Request,
    visitor: Visitor,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    fragment: bool | None = None,
) -> HTMLResponse:
    """`fragment`: render without the layout (default: when htmx asked)."""
    _ = gettext_for(visitor.language)
    partial = is_htmx(request) if fragment is None else fragment
    ctx = {
        "_": _,
        "visitor": visitor,
        "lang": visitor.language,
        "layout": "_fragment.html" if partial else "base.html",
        "error_text": lambda exc: error_text(_, exc),
        "error_problem": lambda exc: error_problem(_, exc),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    if visitor.anon_seed:
        set_cookie(response, ANON_COOKIE, visitor.anon_seed, max_age=None)
    return response
