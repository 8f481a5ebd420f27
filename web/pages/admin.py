"""The admin console (/admin): staff accounts, stores and protocols, for admins only.

Every page asks careplan/access.py first (others get 403), every change is made by a
domain function and lands in the change log, and the pages only parse, call and show.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from careplan import staff as accounts
from careplan import stores
from careplan.access import Actor, may_manage_staff, require_administer
from careplan.config import get_settings
from careplan.errors import N_, CareplanError, Forbidden, InvalidInput
from careplan.plans import lifecycle, protocols
from careplan.plans.protocols import ProtocolFileError
from careplan.sign_in import locked_names
from careplan.staff import Account
from careplan.stores import StoreForm
from careplan.trust.change_log import history
from careplan.vocab import Role
from web.deps import DbSession, Now
from web.i18n import gettext_for
from web.labels import RECORD_FIELDS, label_of
from web.pages.common import Form, FormData, date_of, int_of, pages_router, redirect, text_of
from web.session import User, Visitor
from web.templating import render

pages = pages_router()
STORE_FIELDS = ("store_code", "store_name", "region", "store_address", "store_phone")


def _admin(visitor: Visitor) -> Actor:
    actor = visitor.actor
    require_administer(actor)
    return actor


def _once(response: HTMLResponse) -> HTMLResponse:
    """A page showing a one-time password is kept by no cache and no back button."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _value_text(_: Any, store_names: dict[int, str], column: str, value: Any) -> str:
    """A logged value in words: a role's name, a store's name, yes or no; a password
    never (the log holds only "changed")."""
    if value is None or value == "":
        return "—"
    if column == "password_hash":
        return str(_("changed"))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if column == "store_id":
        return store_names.get(value, str(value))
    if column == "language":
        return {"zh": "简体中文", "en": "English"}.get(str(value), str(value))
    found = label_of(str(value), "Role") if column == "role" else None
    return str(_(found)) if found else str(value)


def _changes(
    session: DbSession, visitor: Visitor, actor: Actor, entity: str, entity_id: int
) -> dict[str, Any]:
    """The record's change-log entries, newest first, in words: who, when, what was done,
    and each field's old and new value (a password only as "changed")."""
    _ = gettext_for(visitor.language)
    store_names = {s.id: s.name for s in stores.list_stores(session)}
    entries = list(reversed(history(session, actor, entity, entity_id)))
    names = accounts.names_of(session, (e.actor_id for e in entries))

    def shown(column: str, value: Any) -> str:
        return _value_text(_, store_names, column, value)

    rows = []
    for e in entries:
        pairs = [
            (_(RECORD_FIELDS[(entity, column)]), shown(column, old), shown(column, new))
            for column, (old, new) in e.changes.items()
            if (entity, column) in RECORD_FIELDS
        ]
        lines = [(field, old, new) for field, old, new in pairs if old != new]
        action = label_of(e.action, "ChangeAction")
        rows.append({"at": e.at, "by": names.get(e.actor_id or 0, _("System")),
                     "action": _(action) if action else e.action, "lines": lines})  # fmt: skip
    return {"entries": rows}


@pages.get("/admin")
def admin_home(request: Request, visitor: User) -> Response:
    _admin(visitor)
    return redirect(request, "/admin/staff")


# --- Staff -----------------------------------------------------------------------------


def _staff_list(
    session: DbSession, visitor: Visitor, clock: Now, store: int | None
) -> dict[str, Any]:
    actor = _admin(visitor)
    return {
        "nav": "admin",
        "tab": "staff",
        "staff": accounts.list_accounts(session, actor, store_id=store),
        "stores": stores.list_stores(session),
        "store_names": {s.id: s.name for s in stores.list_stores(session)},
        "store": store,
        "locked": locked_names(session, clock.now),
    }


@pages.get("/admin/staff")
def staff_list(
    request: Request, visitor: User, session: DbSession, clock: Now, store: str = ""
) -> Response:
    # "Every store" sends store= (empty): text, read as a number only when given.
    chosen = int_of({"store": store}, "store")
    return render(
        request, visitor, "admin/staff_list.html", _staff_list(session, visitor, clock, chosen)
    )


def _account_form(form: FormData, *, with_username: bool) -> Account:
    return Account(
        name=text_of(form, "name"),
        role=text_of(form, "role"),
        store_id=int_of(form, "store_id"),
        username=text_of(form, "username") if with_username else "",
    )


def _new_form(session: DbSession, error: CareplanError | None, form: FormData) -> dict[str, Any]:
    return {"nav": "admin", "tab": "staff", "stores": stores.list_stores(session),
            "roles": list(Role), "error": error, "form": form}  # fmt: skip


@pages.get("/admin/staff/new")
def new_staff_page(request: Request, visitor: User, session: DbSession) -> Response:
    _admin(visitor)
    return render(request, visitor, "admin/staff_new.html", _new_form(session, None, {}))


@pages.post("/admin/staff")
def create_staff(request: Request, form: Form, visitor: User, session: DbSession) -> Response:
    actor = _admin(visitor)
    try:
        created, password = accounts.create_account(
            session, actor, _account_form(form, with_username=True)
        )
    except CareplanError as exc:
        session.rollback()
        context = _new_form(session, exc, form)
        return render(request, visitor, "admin/staff_new.html", context, status=422)
    context = {"nav": "admin", "tab": "staff", "person": created, "password": password,
               "created": True}  # fmt: skip
    return _once(render(request, visitor, "admin/one_time_password.html", context))


def _account(
    session: DbSession, visitor: Visitor, clock: Now, staff_id: int, **extra: Any
) -> dict[str, Any]:
    actor = _admin(visitor)
    person = accounts.get_staff(session, staff_id)
    return (
        {
            "nav": "admin",
            "tab": "staff",
            "person": person,
            "may_manage": may_manage_staff(actor, person),
            "locked_until": accounts.sign_in.locked_until(session, person.username, clock.now),
            "owned": accounts.owned_members(session, person.id),
            "stores": stores.list_stores(session),
            "store_names": {s.id: s.name for s in stores.list_stores(session)},
            "roles": list(Role),
            "error": None,
            "done": None,
            "form": None,
        }
        | _changes(session, visitor, actor, "staff", person.id)
        | extra
    )


@pages.get("/admin/staff/{staff_id}")
def account_page(
    request: Request, staff_id: int, visitor: User, session: DbSession, clock: Now, done: str = ""
) -> Response:
    context = _account(session, visitor, clock, staff_id, done=done or None)
    return render(request, visitor, "admin/staff_account.html", context)


def _refused(
    request: Request, visitor: Visitor, session: DbSession, clock: Now, staff_id: int,
    exc: CareplanError, form: FormData | None = None,
) -> Response:  # fmt: skip
    session.rollback()
    context = _account(session, visitor, clock, staff_id, error=exc, form=form)
    status = 403 if isinstance(exc, Forbidden) else 422
    return render(request, visitor, "admin/staff_account.html", context, status=status)


def _account_change(
    request: Request, visitor: Visitor, session: DbSession, clock: Now, staff_id: int,
    change: Callable[[], object], done: str, form: FormData | None = None,
) -> Response:  # fmt: skip
    """One change to an account: done, back to the account with a notice; refused, the
    account again with the reason beside the form, nothing written."""
    try:
        change()
    except CareplanError as exc:
        return _refused(request, visitor, session, clock, staff_id, exc, form)
    return redirect(request, f"/admin/staff/{staff_id}?done={done}")


@pages.post("/admin/staff/{staff_id}")
def change_staff(
    request: Request, staff_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    actor = _admin(visitor)

    def change() -> None:
        accounts.change_account(session, actor, staff_id, _account_form(form, with_username=False))

    return _account_change(request, visitor, session, clock, staff_id, change, "changed", form)


@pages.post("/admin/staff/{staff_id}/password")
def reset_password(
    request: Request, staff_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    actor = _admin(visitor)
    try:
        password = accounts.reset_password(session, actor, staff_id, now=clock.now)
    except CareplanError as exc:
        return _refused(request, visitor, session, clock, staff_id, exc)
    context = {"nav": "admin", "tab": "staff", "person": accounts.get_staff(session, staff_id),
               "password": password, "created": False}  # fmt: skip
    return _once(render(request, visitor, "admin/one_time_password.html", context))


@pages.post("/admin/staff/{staff_id}/unlock")
def unlock(
    request: Request, staff_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    actor = _admin(visitor)
    unlocking = partial(accounts.unlock_account, session, actor, staff_id)
    return _account_change(request, visitor, session, clock, staff_id, unlocking, "unlocked")


@pages.post("/admin/staff/{staff_id}/close")
def close_account(
    request: Request, staff_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    actor = _admin(visitor)

    def close() -> None:
        if form.get("confirm") != "on":
            raise InvalidInput(N_("tick the box to confirm"), field="confirm")
        accounts.close_account(session, actor, staff_id, now=clock.now)

    return _account_change(request, visitor, session, clock, staff_id, close, "closed")


# --- Stores ----------------------------------------------------------------------------


@pages.get("/admin/stores")
def store_list(request: Request, visitor: User, session: DbSession, done: str = "") -> Response:
    _admin(visitor)
    context = {"nav": "admin", "tab": "stores", "stores": stores.list_stores(session),
               "counts": stores.active_staff_counts(session), "done": done or None}  # fmt: skip
    return render(request, visitor, "admin/store_list.html", context)


def _store_form(form: FormData) -> StoreForm:
    return StoreForm(**{name: text_of(form, name) for name in STORE_FIELDS})


def _store_page(
    session: DbSession, visitor: Visitor, store_id: int | None, **extra: Any
) -> dict[str, Any]:
    actor = _admin(visitor)
    store = stores.get_store(session, store_id) if store_id is not None else None
    context: dict[str, Any] = {"nav": "admin", "tab": "stores", "store": store, "error": None,
                               "regions": stores.regions(session), "done": None}  # fmt: skip
    if store is not None:
        context |= _changes(session, visitor, actor, "store", store.id)
        values = (store.code, store.name, store.region, store.address, store.phone)
        context["form"] = dict(zip(STORE_FIELDS, values, strict=True))
    else:
        context |= {"form": {}, "entries": []}
    return context | extra


@pages.get("/admin/stores/new")
def new_store_page(request: Request, visitor: User, session: DbSession) -> Response:
    return render(request, visitor, "admin/store_form.html", _store_page(session, visitor, None))


@pages.post("/admin/stores")
def create_store(request: Request, form: Form, visitor: User, session: DbSession) -> Response:
    actor = _admin(visitor)
    try:
        store = stores.create_store(session, actor, _store_form(form))
    except CareplanError as exc:
        session.rollback()
        context = _store_page(session, visitor, None, error=exc, form=form)
        return render(request, visitor, "admin/store_form.html", context, status=422)
    return redirect(request, f"/admin/stores/{store.id}?done=created")


@pages.get("/admin/stores/{store_id}")
def store_page(
    request: Request, store_id: int, visitor: User, session: DbSession, done: str = ""
) -> Response:
    context = _store_page(session, visitor, store_id, done=done or None)
    return render(request, visitor, "admin/store_form.html", context)


@pages.post("/admin/stores/{store_id}")
def change_store(
    request: Request, store_id: int, form: Form, visitor: User, session: DbSession
) -> Response:
    actor = _admin(visitor)
    try:
        stores.update_store(session, actor, store_id, _store_form(form))
    except CareplanError as exc:
        session.rollback()
        context = _store_page(session, visitor, store_id, error=exc, form=form)
        return render(request, visitor, "admin/store_form.html", context, status=422)
    return redirect(request, f"/admin/stores/{store_id}?done=saved")


# --- Protocols -------------------------------------------------------------------------


def _signature(visitor: Visitor, file_name: str, data: bytes) -> str:
    """Binds the held upload to the person who uploaded it: the confirm step publishes
    exactly the file that was checked and shown, and only for them."""
    assert visitor.staff is not None
    key = get_settings().secret_key.encode()
    message = f"protocol-upload:{visitor.staff.id}:{file_name}:".encode() + data
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _protocols_page(session: DbSession, **extra: Any) -> dict[str, Any]:
    rows = protocols.list_versions(session)
    context = {"nav": "admin", "tab": "protocols", "versions": rows,
               "definitions": {r.id: protocols.definition_of(r) for r in rows},
               "issues": None, "file_name": "", "upload_error": None}  # fmt: skip
    return context | extra


@pages.get("/admin/protocols")
def protocol_list(request: Request, visitor: User, session: DbSession) -> Response:
    _admin(visitor)
    context = _protocols_page(session)
    return render(request, visitor, "admin/protocols.html", context)


@pages.get("/admin/protocols/{protocol_id}/{version}")
def protocol_page(
    request: Request, protocol_id: str, version: int, visitor: User, session: DbSession, clock: Now,
    start: str = "", published: bool = False,
) -> Response:  # fmt: skip
    _admin(visitor)
    row = protocols.get_version(session, protocol_id, version)
    context: dict[str, Any] = {"nav": "admin", "tab": "protocols", "row": row,
                               "definition": protocols.definition_of(row), "start": start,
                               "planned": None, "error": None, "published": published}  # fmt: skip
    if start:
        try:
            on = date_of({"start_date": start}, "start_date")
            assert on is not None
            context["planned"] = lifecycle.preview(session, protocol_id, version, on,
                                               today=clock.today)[1]  # fmt: skip
        except CareplanError as exc:
            context["error"] = exc
    return render(request, visitor, "admin/protocol.html", context)


@pages.post("/admin/protocols/upload")
def upload_protocol(request: Request, form: Form, visitor: User, session: DbSession) -> Response:
    """Checked and shown; nothing is stored until the confirm step posts it back."""
    _admin(visitor)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        error = InvalidInput(N_("choose a protocol file (YAML)"), field="file")
        context = _protocols_page(session, upload_error=error)
        return render(request, visitor, "admin/protocols.html", context, status=422)
    name = file.filename.replace("\\", "/").rsplit("/", 1)[-1][:100]
    data = file.file.read(protocols.MAX_FILE_BYTES + 1)
    try:
        loaded = protocols.check_upload(session, data, name)
    except ProtocolFileError as exc:
        context = _protocols_page(session, issues=exc.issues, file_name=name)
        return render(request, visitor, "admin/protocols.html", context, status=422)
    # Held in the confirm form as base64 (a browser would turn its line ends into CRLF),
    # signed, so what comes back is the very file that was checked.
    context = {"nav": "admin", "tab": "protocols", "loaded": loaded, "file_name": name,
               "held": base64.b64encode(data).decode(),
               "signature": _signature(visitor, name, data),
               "already": protocols.is_published(session, loaded)}  # fmt: skip
    return render(request, visitor, "admin/protocol_confirm.html", context)


@pages.post("/admin/protocols/publish")
def publish_protocol(request: Request, form: Form, visitor: User, session: DbSession) -> Response:
    actor = _admin(visitor)
    name, signature = text_of(form, "file_name"), text_of(form, "signature")
    try:
        data = base64.b64decode(text_of(form, "held"), validate=True)
    except ValueError:
        data = b""
    if not signature.isascii() or not hmac.compare_digest(
        signature, _signature(visitor, name, data)
    ):
        raise InvalidInput(N_("the upload has expired: upload the file again"), field="file")
    try:
        loaded = protocols.publish_upload(session, actor, data, name)
    except ProtocolFileError as exc:
        session.rollback()
        context = _protocols_page(session, issues=exc.issues, file_name=name)
        return render(request, visitor, "admin/protocols.html", context, status=422)
    d = loaded.definition
    return redirect(request, f"/admin/protocols/{d.id}/{d.version}?published=1")
