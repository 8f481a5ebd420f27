"""The drug classes adherence is measured by (PDC per member and class). Products map to
them through the product_classes table, which managers keep; protocols name the classes
their plans track."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, require_chain_settings
from careplan.errors import N_, InvalidInput
from careplan.models import ProductClass
from careplan.vocab import DRUG_CLASSES


def label(key: str, language: str) -> str:
    names = DRUG_CLASSES.get(key)
    if names is None:
        return key
    return names[0] if language == "zh" else names[1]


@dataclass(frozen=True)
class MappingIn:
    product_code: str
    product_name: str
    drug_class: str


def check_mapping(data: MappingIn) -> MappingIn:
    code, name = data.product_code.strip(), data.product_name.strip()
    if not code or len(code) > 64:
        raise InvalidInput(N_("a product code of 1 to 64 characters"), field="product_code")
    if len(name) > 160:
        raise InvalidInput(N_("at most 160 characters"), field="product_name")
    if data.drug_class not in DRUG_CLASSES:
        raise InvalidInput(N_("choose a drug class from the list"), field="drug_class")
    return MappingIn(code, name, data.drug_class)


def set_class(session: Session, actor: Actor, data: MappingIn, *, now: datetime) -> ProductClass:
    """Map a product to a class (or change its class); every PDC uses the new mapping,
    in every store, so only head office changes it."""
    require_chain_settings(actor)
    data = check_mapping(data)
    row = session.scalar(select(ProductClass).where(ProductClass.product_code == data.product_code))
    if row is None:
        row = ProductClass(product_code=data.product_code)
        session.add(row)
    row.product_name = data.product_name or row.product_name
    row.drug_class, row.updated_by_id, row.updated_at = data.drug_class, actor.staff_id, now
    session.flush()
    return row


def remove_class(session: Session, actor: Actor, product_code: str) -> None:
    require_chain_settings(actor)
    row = session.scalar(select(ProductClass).where(ProductClass.product_code == product_code))
    if row is None:
        raise InvalidInput(N_("no mapping for this product"), field="product_code")
    session.delete(row)
    session.flush()


def mappings(session: Session) -> list[ProductClass]:
    return list(
        session.scalars(
            select(ProductClass).order_by(ProductClass.drug_class, ProductClass.product_code)
        )
    )
