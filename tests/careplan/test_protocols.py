"""Protocol files: the shipped ones load; a bad one is refused with file, line, message."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from careplan.models import ProtocolVersion
from careplan.plans import protocols
from careplan.plans.protocols import ProtocolFileError, parse_protocol
from tests.factories import ROOT, shipped_protocols

GOOD = """\
id: tiny
version: 1
title: {zh: 小方案, en: Tiny plan}
escalations:
  effect_quality: {role: pharmacist, due_days: 1, action: {zh: 上门, en: Visit}}
  service: {role: store_manager, due_days: 2, action: {zh: 上门, en: Visit}}
  competitor: {role: store_manager, due_days: 3, action: {zh: 商定, en: Agree}}
  side_effects: {role: pharmacist, due_days: 0, action: {zh: 致电, en: Call}}
  cost: {role: pharmacist, due_days: 3, action: {zh: 沟通, en: Talk}}
  doctor_change: {role: pharmacist, due_days: 3, action: {zh: 核对, en: Check}}
  other: {role: store_manager, due_days: 3, action: {zh: 了解, en: Ask}}
checkpoints:
  - key: first
    week: 1
    title: {zh: 第一步, en: First step}
    guidance: {zh: 按时服药, en: Take it on time}
  - key: second
    week: 2
    title: {zh: 第二步, en: Second step}
    guidance: {zh: 继续服药, en: Keep taking it}
"""


def refused(text: str) -> str:
    with pytest.raises(ProtocolFileError) as exc:
        parse_protocol(text, "bad.yaml")
    return str(exc.value)


def test_every_shipped_protocol_loads_with_zh_and_en_text():
    ids = {p.definition.id for p in shipped_protocols()}
    assert ids == {"osteoporosis", "post_purchase", "follow_up_333", "hypertension", "diabetes_t2",
                   "contact_this_month", "contact_two_months", "contact_three_months",
                   "contact_beyond", "complaint_follow_up"}  # fmt: skip
    for p in shipped_protocols():
        for step in p.definition.checkpoints:
            assert step.title.zh and step.title.en and step.guidance.zh and step.guidance.en


def test_the_minimal_example_is_valid():
    assert parse_protocol(GOOD).definition.checkpoints[1].key == "second"


def test_an_unknown_field_is_named_with_its_line():
    text = GOOD.replace("    week: 2\n", "    week: 2\n    colour: red\n")
    assert refused(text) == "bad.yaml:19: checkpoints[second]: unknown field 'colour'"


def test_offsets_out_of_order_are_refused():
    text = GOOD.replace("week: 2", "day: 3")
    assert "bad.yaml:17: checkpoints[second] is due no later than the step before it" in refused(
        text
    )


def test_a_duplicate_yaml_key_is_refused_not_silently_merged():
    text = GOOD.replace("version: 1\n", "version: 1\nversion: 2\n")
    assert refused(text) == "bad.yaml:3: duplicate key 'version'"


def test_a_duplicate_checkpoint_key_is_refused():
    text = GOOD.replace("key: second", "key: first")
    assert "bad.yaml:17: checkpoint key 'first' is used twice" in refused(text)


def test_missing_english_text_is_named():
    text = GOOD.replace("guidance: {zh: 继续服药, en: Keep taking it}", "guidance: {zh: 继续服药}")
    assert refused(text) == (
        "bad.yaml:20: checkpoints[second].guidance: the English (en) text is missing"
    )


def test_missing_chinese_text_is_named():
    text = GOOD.replace("title: {zh: 小方案, en: Tiny plan}", "title: {en: Tiny plan}")
    assert refused(text) == "bad.yaml:3: title: the Chinese (zh) text is missing"


def test_an_alias_bomb_is_refused_before_it_expands():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    assert "anchors and aliases" in refused(bomb)
    assert refused(bomb).startswith("bad.yaml:1:")


def test_a_python_tag_is_refused():
    assert "YAML tag '!!python/object:os.system' is not allowed" in refused(
        GOOD.replace("id: tiny", "id: !!python/object:os.system tiny")
    )


def test_every_stop_reason_needs_an_escalation_rule():
    text = GOOD.replace(
        "  cost: {role: pharmacist, due_days: 3, action: {zh: 沟通, en: Talk}}\n", ""
    )
    assert "no escalation for stop reason(s): cost" in refused(text)


def test_an_unknown_measurement_is_refused():
    text = GOOD.replace("    week: 2\n", "    week: 2\n    measurements: [cholesterol_x]\n")
    assert "unknown measurement 'cholesterol_x'" in refused(text)


def test_a_step_with_two_offsets_is_refused():
    assert "give exactly one of day, week or month" in refused(
        GOOD.replace("    week: 2\n", "    week: 2\n    day: 10\n")
    )


def test_expiry_must_outlast_the_grace_period():
    text = GOOD.replace("    week: 2\n", "    week: 2\n    grace_days: 5\n    expiry_days: 3\n")
    assert "expiry_days (3) must be longer than grace_days (5)" in refused(text)


def test_broken_yaml_gives_the_line():
    assert refused(GOOD + "  - key: [unclosed\n").startswith("bad.yaml:2")


def test_a_published_version_whose_content_changed_is_refused(session: Session):
    protocols.publish(session, [parse_protocol(GOOD, "tiny.yaml")])
    changed = parse_protocol(GOOD.replace("按时服药", "每天按时服药"), "tiny.yaml")
    with pytest.raises(ProtocolFileError) as exc:
        protocols.publish(session, [changed])
    assert str(exc.value) == (
        "tiny.yaml:2: tiny v1 is already published with different "
        "content; publish the change as version 2"
    )
    assert session.scalar(select(func.count()).select_from(ProtocolVersion)) == 1


def test_layout_and_comments_do_not_count_as_a_content_change(session: Session):
    protocols.publish(session, [parse_protocol(GOOD, "tiny.yaml")])
    again = parse_protocol("# a comment\n" + GOOD.replace("version: 1", "version:   1"))
    assert protocols.publish(session, [again])[0][1] is False


def test_a_version_published_before_a_schema_field_was_added_is_not_changed(
    session: Session,
):
    # As stored by a careplan that had no `tracks` or `refill` yet: loading the same
    # file again after the upgrade is not a change (it would block every load).
    item = parse_protocol(GOOD, "tiny.yaml")
    old = item.definition.model_dump(mode="json")
    del old["tracks"]
    for step in old["checkpoints"]:
        del step["refill"]
    session.add(
        ProtocolVersion(
            protocol_id="tiny", version=1, content_hash="hash-of-the-older-schema",
            definition=old, source="tiny.yaml",
        )
    )  # fmt: skip
    session.flush()
    assert protocols.check_published(session, [item]) == []


def test_an_unknown_tracked_drug_class_and_an_untracked_refill_are_refused():
    assert "unknown drug class 'aspirinoids'" in refused(
        GOOD.replace("\ncheckpoints:", "\ntracks: [aspirinoids]\ncheckpoints:", 1)
    )
    text = GOOD.replace(
        "    week: 2\n", "    week: 2\n    refill: {drug_class: statins, days_before: 3}\n"
    )
    assert "refills 'statins': list it in tracks" in refused(text)


def test_a_folder_with_one_bad_file_loads_nothing(tmp_path, session: Session):
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(
        GOOD.replace("id: tiny", "id: other\nextra: 1"), encoding="utf-8"
    )
    with pytest.raises(ProtocolFileError) as exc:
        protocols.publish(session, protocols.read_files(protocols.protocol_files(tmp_path)))
    assert "bad.yaml:2: (top level): unknown field 'extra'" in str(exc.value)
    assert session.scalar(select(func.count()).select_from(ProtocolVersion)) == 0


def test_shipped_files_live_in_the_protocols_folder():
    assert (ROOT / "protocols" / "osteoporosis.yaml").exists()
