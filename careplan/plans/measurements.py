"""What can be measured in a health check: units, plausible ranges, LOINC codes.

A value outside the plausible range is a typing mistake (a systolic of 1300), not a
finding, so it is refused with the range in the message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    key: str
    zh: str
    en: str
    low: float
    high: float
    loinc: str | None = None


@dataclass(frozen=True)
class Measurement:
    kind: str
    zh: str
    en: str
    unit: str
    components: tuple[Component, ...]
    loinc: str | None = None  # the panel's code where there is one


MEASUREMENTS: dict[str, Measurement] = {
    m.kind: m
    for m in (
        Measurement(
            "blood_pressure",
            "血压",
            "Blood pressure",
            "mmHg",
            (
                Component("systolic", "收缩压", "Systolic", 50, 300, "8480-6"),
                Component("diastolic", "舒张压", "Diastolic", 20, 200, "8462-4"),
            ),
            loinc="85354-9",
        ),
        Measurement(
            "fasting_glucose",
            "空腹血糖",
            "Fasting blood glucose",
            "mmol/L",
            (Component("value", "空腹血糖", "Fasting glucose", 1.0, 40.0, "14771-0"),),
            loinc="14771-0",
        ),
        Measurement(
            "postprandial_glucose",
            "餐后2小时血糖",
            "2-hour post-meal glucose",
            "mmol/L",
            (Component("value", "餐后血糖", "Post-meal glucose", 1.0, 40.0, "14760-3"),),
            loinc="14760-3",
        ),
        Measurement(
            "hba1c",
            "糖化血红蛋白",
            "HbA1c",
            "%",
            (Component("value", "糖化血红蛋白", "HbA1c", 3.0, 20.0, "4548-4"),),
            loinc="4548-4",
        ),
        Measurement(
            # Heel ultrasound T-score, as in-store densitometers report it; no LOINC code
            # covers that method, so none is claimed.
            "bone_density",
            "骨密度",
            "Bone density (T-score)",
            "T",
            (Component("t_score", "T值", "T-score", -6.0, 4.0),),
        ),
        Measurement(
            "weight",
            "体重",
            "Body weight",
            "kg",
            (Component("value", "体重", "Weight", 20, 300, "29463-7"),),
            loinc="29463-7",
        ),
        Measurement(
            "heart_rate",
            "心率",
            "Heart rate",
            "/min",
            (Component("value", "心率", "Heart rate", 20, 250, "8867-4"),),
            loinc="8867-4",
        ),
    )
}


def implausible(kind: str, values: dict[str, float]) -> Component | None:
    """The first box of a measurement whose value is outside its plausible range: the
    one rule the record's check and the form's marking of the exact box both use."""
    for c in MEASUREMENTS[kind].components:
        if c.key in values and not c.low <= values[c.key] <= c.high:
            return c
    return None
