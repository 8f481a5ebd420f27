"""Simplified Chinese and English on every page: the catalogue is complete, and a walk
through every page finds no text left in the other language.

User data (names, addresses, notes) is marked translate="no" in the templates, as HTML
defines it for content that must not be translated; everything else is the page's own
words and must be in the page's language."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.members.health_records import HealthCheckIn
from careplan.models import Checkpoint
from careplan.plans import lifecycle
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.plans.outcomes import AttemptIn, record_attempt
from careplan.sheets import sheets
from careplan.vocab import Paper
from tests.factories import ROOT, TravelClock, World, make_member, sign_in_page
from web.i18n import po_path

VOID = {"br", "hr", "img", "input", "link", "meta", "source", "wbr", "col", "area"}
TEXT_ATTRS = ("placeholder", "title", "aria-label", "alt")
# Units, codes and file formats are the same in both languages.
LATIN_OK = {"mmHg", "mmol", "HbA1c", "kg", "min", "wxy", "YYYY", "MM", "DD"}
LATIN_OK |= {"CSV", "UTF", "GBK", "DPP", "JSON", "PDF"}  # file formats, encodings, DPP-4


class VisibleText(HTMLParser):
    """Text a user sees or hears, outside translate="no" elements, script and style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.found: list[str] = []

    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        # <title> repeats the <h1> (checked) and may hold a member's name; <svg> charts
        # carry their labels as data.
        hidden = a.get("translate") == "no" or tag in ("script", "style", "svg", "title")
        if not hidden and not self._hidden():
            self.found += [v for k, v in a.items() if k in TEXT_ATTRS and v]
        if tag not in VOID:
            self.stack.append((tag, hidden))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._hidden():
            self.found.append(data.strip())


def visible(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.found


def english_left(texts: list[str]) -> list[str]:
    words = {w for t in texts for w in re.findall(r"[A-Za-z]{2,}", t)}
    return sorted(words - LATIN_OK)


def chinese_left(texts: list[str]) -> list[str]:
    return [t for t in texts if re.search(r"[\u3400-\u9fff]", t)]


HAN = r"[\u3400-\u9fff]"
# "缺少: 电话", "(电话)", "是否?": ASCII punctuation beside Chinese, or a text that opens
# with a colon or a closing bracket (the word it follows is in the element before).
ASCII_BESIDE_HAN = re.compile(rf"{HAN}\s*[.:;?!,(]|\(\s*{HAN}|{HAN}\s*\)|^[:;?!,)]|\($")


def ascii_punctuation(texts: list[str]) -> list[str]:
    """Chinese text with English punctuation: zh pages use ：、（）？ (issue 21)."""
    return [t for t in texts if ASCII_BESIDE_HAN.search(t)]


def test_the_chinese_catalogue_translates_every_message():
    # careplan/ too: the domain's refusals are keys the pages translate.
    method_map = [("careplan/**.py", "python"), ("web/**.py", "python"),
                  ("web/templates/**.html", "jinja2")]  # fmt: skip
    keywords = {"_": None, "N_": None, "gettext": None}
    used = {
        msg
        for _file, _line, msg, _comments, _ctx in extract_from_dir(
            str(ROOT), method_map, keywords=keywords
        )
    }
    assert len(used) > 200
    with po_path("zh").open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    missing = sorted(m for m in used if not (catalog.get(m) and catalog.get(m).string))
    assert not missing, f"run `make messages` and translate: {missing}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy
    # A message id that is a key, not English (nav.sheets), is given its English too.
    with po_path("en").open("rb") as f:
        english = read_po(f, locale="en")
    keys = [m for m in used if re.fullmatch(r"[a-z]+(\.[a-z_]+)+", m)]
    assert keys and not [k for k in keys if not (english.get(k) and english.get(k).string)]


def test_the_walk_finds_untranslated_words():
    """The checks themselves catch what they are for."""
    assert english_left(visible("<p>Due today</p><p translate='no'>Li Wei</p>")) == [
        "Due",
        "today",
    ]
    assert chinese_left(visible("<p>Due <span translate='no'>王秀英</span></p><p>今日</p>")) == [
        "今日"
    ]
    assert english_left(visible("<input placeholder='Search'>")) == ["Search"]
    said = visible("<p>缺少: 电话</p><p>(电话)</p><p><b>前</b>: 好</p><p>血压（mmHg）：120</p>")
    assert ascii_punctuation(said) == ["缺少: 电话", "(电话)", ": 好"]


@pytest.fixture
def busy_store(world: World, clock: TravelClock) -> dict[str, Any]:
    """A member with a plan, a worked step, an open step with a call-back, a health
    check, an effect and an escalation: every part of every page has something to show."""
    member = make_member(world, name="赵德华", mobile="13600136000")
    member.birthday = date(1948, 3, 8)
    actor = world.actor(world.clerk_a)
    plan = lifecycle.enroll(
        world.session,
        actor,
        member_id=member.id,
        protocol_id="osteoporosis",
        start=date(2024, 2, 19),
        today=clock.today,
        now=clock.now,
    )
    steps = list(world.session.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan.id)))
    first, second = steps[0], steps[1]
    record_result(
        world.session,
        actor,
        first.id,
        ResultIn(
            version=first.version,
            channel="phone",
            adherence="stopped",
            stop_reason="side_effects",
            notes="胃不舒服",
            measurements=[HealthCheckIn(kind="bone_density", values={"t_score": -2.7})],
            effect={"side_effects": "胃部不适", "rating": 2},
        ),
        today=clock.today,
        now=clock.now,
    )
    record_attempt(
        world.session,
        actor,
        second.id,
        AttemptIn(outcome="call_back", call_back_at=clock.now.replace(hour=8)),
        today=clock.today,
        now=clock.now,
    )
    printed = sheets.build_sheets(world.session, actor, [second.id], now=clock.now)
    sheets.record_prints(world.session, actor, printed, paper=Paper.a4, now=clock.now)
    batch = sheets.create_batch(
        world.session,
        world.actor(world.manager_a),
        store_id=world.store_a.id,
        on=clock.today,
        paper=Paper.a4,
        now=clock.now,
    )
    world.session.commit()
    return {
        "member": member.id,
        "plan": plan.id,
        "checkpoint": second.id,
        "batch": batch.id,
        "code": printed[0].code,
    }


def pages_of(ids: dict[str, Any]) -> list[str]:
    m, p, c, b = ids["member"], ids["plan"], ids["checkpoint"], ids["batch"]
    return [
        "/",
        "/?tab=overdue",
        "/?tab=upcoming",
        "/?tab=escalations",
        "/?tab=occasions",
        "/?tab=due&protocol=osteoporosis",
        "/members",
        "/members?q=zdh",
        "/members?q=nobody",
        "/members/new",
        f"/members/{m}",
        f"/members/{m}/edit",
        f"/members/{m}/enrol",
        f"/plans/{p}",
        f"/checkpoints/{c}",
        f"/checkpoints/{c}/form",
        "/escalations",
        "/escalations?status=resolved",
        "/settings",
        "/store/staff",
        "/sheets",
        f"/sheets?code={ids['code']}",
        "/sheets?code=NONE-0000",
        f"/sheets/batches/{b}",
        "/lectures",
        "/purchases/import",
        "/purchases/classes",
        "/audit/adherence",
        "/no-such-page",
    ]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_page_is_wholly_in_the_users_language(
    client: TestClient, world: World, busy_store: dict[str, Any], language: str
):
    world.manager_a.language = language
    world.session.commit()
    # The sign-in page, before anyone is known, by Accept-Language.
    accept = {"Accept-Language": "en" if language == "en" else "zh-CN"}
    pages = {"/sign-in": client.get("/sign-in", headers=accept).text}
    sign_in_page(client, "manager.a")
    for url in pages_of(busy_store):
        r = client.get(url)
        assert r.status_code in (200, 404), (url, r.status_code)
        pages[url] = r.text
    wrong = {}
    for url, html in pages.items():
        texts = visible(html)
        assert texts, url
        left = english_left(texts) if language == "zh" else chinese_left(texts)
        if language == "zh":
            left += ascii_punctuation(texts)
        if left:
            wrong[url] = left
    assert not wrong, "\n".join(f"{url} ({language}): {left}" for url, left in wrong.items())


class FormFields(HTMLParser):
    """Form fields a screen reader cannot name: no <label for>, no wrapping <label>,
    no aria-label."""

    def __init__(self) -> None:
        super().__init__()
        self.label_for: set[str] = set()
        self.fields: list[tuple[str | None, bool, str]] = []
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(a["for"] or "")
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            named = self.in_label > 0 or bool(a.get("aria-label"))
            self.fields.append((a.get("id"), named, a.get("name") or tag))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1

    def unnamed(self) -> list[str]:
        return [n for i, named, n in self.fields if not named and i not in self.label_for]


def test_every_form_field_has_a_label(client: TestClient, world: World, busy_store: dict[str, Any]):
    sign_in_page(client, "manager.a")
    checked = 0
    for url in pages_of(busy_store):
        parser = FormFields()
        parser.feed(client.get(url).text)
        checked += len(parser.fields)
        assert not parser.unnamed(), f"{url}: {parser.unnamed()}"
    assert checked > 50


def test_the_label_check_finds_a_nameless_field():
    parser = FormFields()
    parser.feed(
        '<label for="a">A</label><input id="a" name="a"><label>B <input name="b"></label>'
        '<input name="c"><input type="hidden" name="d"><select name="e" aria-label="E"></select>'
    )
    assert parser.unnamed() == ["c"]
