"""The admin console: only admins reach it; staff accounts get one-time passwords that
must be replaced before anything else; stores and protocols are changed through it, and
every change is in the change log."""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import AuthSession, ChangeLog, ProtocolVersion, Staff, Store
from careplan.plans import protocols
from careplan.sign_in import MAX_FAILURES
from careplan.vocab import Role
from tests.factories import HASHED, ROOT, World, csrf_of, make_member, make_staff, sign_in_page
from tests.web.test_languages import chinese_left, english_left, visible
from web.i18n import gettext_for

OTP = re.compile(r'id="one-time-password">([a-z2-9-]+)<')
NEW_PASSWORD = "my-own-password-2026"


@pytest.fixture
def admin(world: World) -> Staff:
    staff = make_staff(world.session, username="admin.x", role=Role.admin, store=None)
    staff.password_hash = HASHED
    world.session.commit()
    return staff


def as_admin(client: TestClient, admin: Staff) -> str:
    client.cookies.clear()
    return sign_in_page(client, admin.username)


def entries(world: World, entity: str, entity_id: int) -> list[ChangeLog]:
    world.session.expire_all()
    stmt = select(ChangeLog).where(ChangeLog.entity == entity, ChangeLog.entity_id == entity_id)
    return list(world.session.scalars(stmt.order_by(ChangeLog.id)))


def says(field: str, message: str, page: str) -> bool:
    """The page names the field, then gives the message (whichever colon joins them)."""
    text = re.sub(r"<[^>]+>", "", page)  # parameters come marked translate="no"
    return re.search(re.escape(field) + r"\s*[:：]\s*" + re.escape(message), text) is not None


def sign_in_with(client: TestClient, username: str, password: str) -> str:
    """Signs in through the form; returns where the sign-in sends the person."""
    client.cookies.clear()
    token = csrf_of(client)
    form = {"csrf_token": token, "username": username, "password": password, "next": "/"}
    r = client.post("/sign-in", data=form)
    assert r.status_code == 303, r.text
    return r.headers["location"]


@pytest.mark.parametrize("username", ["clerk.a", "manager.a", "super"])
def test_only_admins_reach_the_console_and_see_it_in_the_header(
    client: TestClient, world: World, admin: Staff, username: str
):
    sign_in_page(client, username)
    assert "系统管理" not in client.get("/settings").text
    for url in ("/admin/staff", "/admin/stores", "/admin/protocols",
                f"/admin/staff/{world.clerk_a.id}", "/admin/protocols/osteoporosis/3"):  # fmt: skip
        r = client.get(url)
        assert r.status_code == 403, url
        assert "只有系统管理员可以执行此操作" in r.text
    token = csrf_of(client, "/settings")
    form = {"csrf_token": token, "store_code": "X1", "store_name": "偷开的店", "region": "华东"}
    r = client.post("/admin/stores", data=form)
    assert r.status_code == 403
    assert world.session.scalar(select(Store).where(Store.code == "X1")) is None

    as_admin(client, admin)
    page = client.get("/settings")
    assert '<a href="/admin"' in page.text and "系统管理" in page.text


def test_a_new_account_gets_a_one_time_password_that_must_be_changed_first(
    client: TestClient, world: World, admin: Staff
):
    token = as_admin(client, admin)
    form = {"csrf_token": token, "username": "xh.wang", "name": "王芳",
            "role": "clerk", "store_id": str(world.store_a.id)}  # fmt: skip
    r = client.post("/admin/staff", data=form)
    assert r.status_code == 200 and "只显示这一次" in r.text
    assert r.headers["cache-control"] == "no-store"
    found = OTP.search(r.text)
    assert found
    password = found.group(1)
    created = world.session.scalar(select(Staff).where(Staff.username == "xh.wang"))
    assert created is not None and created.must_change_password
    assert created.store_id == world.store_a.id and created.role is Role.clerk
    (entry,) = entries(world, "staff", created.id)
    assert entry.actor_id == admin.id and entry.action == "create"
    assert entry.changes["password_hash"] == [None, "(changed)"]  # never the hash

    # The owner signs in with it and is sent to choose their own, before anything else.
    assert sign_in_with(client, "xh.wang", password) == "/change-password?next=/"
    for url in ("/", "/members", "/settings"):
        r = client.get(url)
        assert r.status_code == 303 and r.headers["location"].startswith("/change-password")
    api = client.post("/api/v1/auth/token", json={"username": "xh.wang", "password": password})
    bearer = {"Authorization": f"Bearer {api.json()['token']}"}
    assert client.get("/api/v1/members", headers=bearer).status_code == 403
    page = client.get("/change-password?next=/")
    assert "您使用一次性密码登录" in page.text
    token = csrf_of(client, "/change-password")
    refused = client.post("/change-password", data={"csrf_token": token, "next": "/",
                          "new_password": password, "repeat_password": password})  # fmt: skip
    assert refused.status_code == 422 and says("新密码", "不能与原密码相同", refused.text)
    refused = client.post("/change-password", data={"csrf_token": token, "next": "/",
                          "new_password": NEW_PASSWORD, "repeat_password": "other"})  # fmt: skip
    assert refused.status_code == 422 and "两次输入的密码不一致" in refused.text
    r = client.post("/change-password", data={"csrf_token": token, "next": "/",
                    "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/members", headers=bearer).status_code == 200
    # The one-time password opens nothing any more.
    client.cookies.clear()
    token = csrf_of(client)
    r = client.post("/sign-in", data={"csrf_token": token, "username": "xh.wang",
                                      "password": password, "next": "/"})  # fmt: skip
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"username": "王 芳"}, ("用户名", "须为 2 至 64 个字母、数字、点、连字符或下划线")),
        ({"username": "clerk.a"}, ("用户名", "clerk.a 已被占用")),
        ({"name": ""}, ("姓名", "必填")),
        ({"role": "boss"}, ("岗位", "请从列表中选择")),
        ({"store_id": ""}, ("门店", "门店员工须选择所属门店")),
        ({"store_id": "99999"}, ("门店", "请选择门店")),
    ],
)
def test_a_bad_new_account_is_refused_naming_the_field(
    client: TestClient, world: World, admin: Staff, change: dict[str, str], shown: tuple[str, str]
):
    token = as_admin(client, admin)
    form = {"csrf_token": token, "username": "xh.new", "name": "新人", "role": "clerk",
            "store_id": str(world.store_a.id)} | change  # fmt: skip
    r = client.post("/admin/staff", data=form)
    assert r.status_code == 422
    assert says(*shown, r.text)
    assert world.session.scalar(select(Staff).where(Staff.username == "xh.new")) is None


def test_role_and_store_change_in_the_change_log_but_not_while_members_are_owned(
    client: TestClient, world: World, admin: Staff
):
    token = as_admin(client, admin)
    url = f"/admin/staff/{world.clerk_a2.id}"
    form = {"csrf_token": token, "name": "测试员工", "role": "pharmacist",
            "store_id": str(world.store_b.id)}  # fmt: skip
    r = client.post(url, data=form)
    assert r.status_code == 303
    assert "账号已修改" in client.get(r.headers["location"]).text
    (entry,) = [e for e in entries(world, "staff", world.clerk_a2.id) if e.actor_id == admin.id]
    assert entry.action == "update"
    assert entry.changes == {"role": ["clerk", "pharmacist"],
                             "store_id": [world.store_a.id, world.store_b.id]}  # fmt: skip
    page = re.sub(r"<[^>]+>", "", client.get(url).text)
    assert "客服专员 → 药师" in page and "徐汇店 → 浦东店" in page

    make_member(world, owner=world.clerk_a)
    world.session.commit()
    form = {"csrf_token": token, "name": "测试员工", "role": "clerk",
            "store_id": str(world.store_b.id)}  # fmt: skip
    r = client.post(f"/admin/staff/{world.clerk_a.id}", data=form)
    assert r.status_code == 422 and says("门店", "请先移交此人负责的 1 位会员", r.text)
    world.session.expire_all()
    assert world.clerk_a.store_id == world.store_a.id
    # Nobody changes their own account here (an admin could lock themselves out).
    r = client.post(f"/admin/staff/{admin.id}", data=form | {"role": "clerk"})
    assert r.status_code == 403 and "不能在这里修改自己的账号" in r.text


def test_reset_unlock_and_close(client: TestClient, world: World, admin: Staff):
    sign_in_page(client, "clerk.a2")
    for _ in range(MAX_FAILURES):
        client.cookies.clear()
        token = csrf_of(client)
        client.post("/sign-in", data={"csrf_token": token, "username": "clerk.a2",
                                      "password": "wrong", "next": "/"})  # fmt: skip
    token = as_admin(client, admin)
    url = f"/admin/staff/{world.clerk_a2.id}"
    assert "锁定至" in client.get(url).text
    assert "已锁定" in client.get("/admin/staff").text
    assert "已锁定" in client.get("/admin/staff?store=").text  # "every store"
    assert "已锁定" in client.get(f"/admin/staff?store={world.store_a.id}").text
    assert "已锁定" not in client.get(f"/admin/staff?store={world.store_b.id}").text
    r = client.post(url + "/unlock", data={"csrf_token": token})
    assert r.status_code == 303
    assert "已解除锁定" in client.get(r.headers["location"]).text
    by_admin = [e for e in entries(world, "staff", world.clerk_a2.id) if e.actor_id == admin.id]
    assert [e.action for e in by_admin] == ["unlock"]

    r = client.post(url + "/password", data={"csrf_token": token})
    assert r.status_code == 200 and "所有设备上退出登录" in r.text
    found = OTP.search(r.text)
    assert found
    world.session.expire_all()
    assert world.clerk_a2.must_change_password
    live = select(AuthSession).where(AuthSession.staff_id == world.clerk_a2.id,
                                     AuthSession.ended_at.is_(None))  # fmt: skip
    assert world.session.scalars(live).all() == []  # the session before the lock ended
    assert sign_in_with(client, "clerk.a2", found.group(1)).startswith("/change-password")

    token = as_admin(client, admin)
    r = client.post(url + "/close", data={"csrf_token": token})
    assert r.status_code == 422 and "请勾选确认" in r.text
    r = client.post(url + "/close", data={"csrf_token": token, "confirm": "on"})
    assert r.status_code == 303
    assert "已办理离职" in client.get(r.headers["location"]).text
    world.session.expire_all()
    assert not world.clerk_a2.active and world.clerk_a2.left_on is not None
    assert "离职" in client.get("/admin/staff").text
    client.cookies.clear()
    token = csrf_of(client)
    r = client.post("/sign-in", data={"csrf_token": token, "username": "clerk.a2",
                                      "password": found.group(1), "next": "/"})  # fmt: skip
    assert r.status_code == 401

    # Someone who still owns members is not closed: they would be left uncalled.
    make_member(world, owner=world.clerk_a)
    world.session.commit()
    token = as_admin(client, admin)
    r = client.post(f"/admin/staff/{world.clerk_a.id}/close",
                    data={"csrf_token": token, "confirm": "on"})  # fmt: skip
    assert r.status_code == 422 and "请先移交此人负责的 1 位会员" in r.text


def test_stores_are_opened_and_edited_with_every_change_logged(
    client: TestClient, world: World, admin: Staff
):
    token = as_admin(client, admin)
    form = {"csrf_token": token, "store_code": "C009", "store_name": "静安店", "region": "华东",
            "store_address": "南京西路1号", "store_phone": "021-6288 0000"}  # fmt: skip
    r = client.post("/admin/stores", data=form)
    assert r.status_code == 303
    store = world.session.scalar(select(Store).where(Store.code == "C009"))
    assert store is not None and store.phone == "021-6288 0000"
    assert "门店已创建" in client.get(r.headers["location"]).text
    assert "静安店" in client.get("/admin/stores").text

    refused = client.post("/admin/stores", data=form | {"store_code": "a001"})
    assert refused.status_code == 422 and says("门店编码", "已有门店使用编码 a001", refused.text)
    refused = client.post("/admin/stores", data=form | {"store_code": "C 10"})
    assert refused.status_code == 422 and says("门店编码", "须为 1 至 32 个字母", refused.text)
    refused = client.post("/admin/stores", data=form | {"store_code": "C10", "store_name": " "})
    assert refused.status_code == 422 and says("门店名称", "必填", refused.text)
    refused = client.post(f"/admin/stores/{store.id}", data=form | {"store_phone": "abc"})
    assert refused.status_code == 422 and says("电话", "只能包含数字", refused.text)

    r = client.post(f"/admin/stores/{store.id}", data=form | {"store_name": "静安寺店"})
    assert r.status_code == 303
    assert "门店已保存" in client.get(r.headers["location"]).text
    actions = [(e.action, e.actor_id) for e in entries(world, "store", store.id)]
    assert actions == [("create", admin.id), ("update", admin.id)]
    assert "静安店 → 静安寺店" in re.sub(
        r"<[^>]+>", "", client.get(f"/admin/stores/{store.id}").text
    )


def test_a_protocol_version_shows_its_steps_in_both_languages_and_dates(
    client: TestClient, admin: Staff
):
    as_admin(client, admin)
    listing = client.get("/admin/protocols").text
    assert "骨质疏松慢病追踪" in listing and "第 3 版" in listing
    page = client.get("/admin/protocols/osteoporosis/3?start=2024-03-04")
    assert page.status_code == 200
    assert "首次联系：用药指导" in page.text and "First contact: medication guidance" in page.text
    # Week 1 of a plan started on Monday 4 March is due by Sunday 10 March.
    assert "2024年3月10日 周日" in page.text
    far = client.get("/admin/protocols/osteoporosis/3?start=2030-01-01")
    assert says("开始日期", "须在今天前后一年之内", far.text)
    assert client.get("/admin/protocols/osteoporosis/99").status_code == 404


def _upload(client: TestClient, token: str, name: str, text: str) -> str:
    files = {"file": (name, text.encode(), "application/yaml")}
    r = client.post("/admin/protocols/upload", data={"csrf_token": token}, files=files)
    return r.text


def test_an_upload_is_checked_as_the_cli_checks_and_published_only_after_confirm(
    client: TestClient, world: World, admin: Staff, tmp_path: Path
):
    token = as_admin(client, admin)
    good = (ROOT / "protocols" / "osteoporosis.yaml").read_text(encoding="utf-8")
    bad = good.replace("version: 3", "version: 4").replace("grace_days: 2", "grace_days: x", 1)
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(bad, encoding="utf-8")
    with pytest.raises(protocols.ProtocolFileError) as cli:
        protocols.read_files([bad_file])
    page = _upload(client, token, "bad.yaml", bad)
    assert "未发布：请修正以下问题" in page
    hostile = _upload(client, token, "<i>x.yaml", bad)  # a name is shown as text
    assert "&lt;i&gt;x.yaml" in hostile and "<i>x" not in hostile
    zh = gettext_for("zh")
    shown = re.sub(r"<[^>]+>", "", page)
    for issue in cli.value.issues:  # the CLI's very messages, file and line, in Chinese
        where = f"{issue.where}：" if issue.where else ""
        said = zh(issue.key, **issue.params)
        assert said != issue.key, f"no Chinese for {issue.key!r}"
        assert escape(f"bad.yaml:{issue.line}: {where}{said}", quote=False) in shown

    changed = good.replace("medication guidance", "medication guidance (changed)", 1)
    assert changed != good
    page = _upload(client, token, "osteoporosis.yaml", changed.replace("Medication", "Meds", 1))
    assert "已以不同内容发布" in page

    same = _upload(client, token, "osteoporosis.yaml", good)
    assert "无需再次发布" in same and "发布此版本" not in same

    v4 = good.replace("version: 3", "version: 4").replace(
        "zh: 骨质疏松慢病追踪", "zh: 骨质疏松慢病追踪（新版）"
    )
    page = _upload(client, token, "osteoporosis-v4.yaml", v4)
    assert "已通过全部检查" in page and "骨质疏松慢病追踪（新版）" in page
    held = dict(re.findall(r'name="(file_name|held|signature)" value="([^"]*)"', page))
    assert base64.b64decode(held["held"]).decode() == v4
    versions = select(ProtocolVersion).where(ProtocolVersion.protocol_id == "osteoporosis")
    assert [r.version for r in world.session.scalars(versions)] == [3]  # nothing published yet

    # A held file changed on its way back is refused: only what was checked is published.
    forged = base64.b64encode(v4.replace("（新版）", "（伪造）").encode()).decode()
    r = client.post("/admin/protocols/publish", data={"csrf_token": token, **held, "held": forged})
    assert r.status_code == 422 and "上传已失效" in r.text
    r = client.post("/admin/protocols/publish", data={"csrf_token": token, **held})
    assert (
        r.status_code == 303
        and r.headers["location"] == "/admin/protocols/osteoporosis/4?published=1"
    )
    assert "已发布" in client.get(r.headers["location"]).text
    world.session.expire_all()
    row = world.session.scalar(versions.where(ProtocolVersion.version == 4))
    assert row is not None and row.source == "osteoporosis-v4.yaml"
    (entry,) = entries(world, "protocol_version", row.id)
    assert entry.action == "publish" and entry.actor_id == admin.id
    # Confirming twice publishes nothing twice.
    again = client.post("/admin/protocols/publish", data={"csrf_token": token, **held})
    assert again.status_code == 303
    assert [r.version for r in world.session.scalars(versions)] == [3, 4]


def test_a_supervisor_may_not_publish_through_the_console(client: TestClient, world: World):
    token = sign_in_page(client, "super")
    r = client.post("/admin/protocols/publish", data={"csrf_token": token, "file_name": "x",
                                                      "held": "", "signature": "0"})  # fmt: skip
    assert r.status_code == 403


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_admin_page_and_refusal_is_wholly_in_the_admins_language(
    client: TestClient, world: World, admin: Staff, language: str
):
    admin.language = language
    world.session.commit()
    token = as_admin(client, admin)
    pages = {
        url: client.get(url).text
        for url in (
            "/admin/staff", "/admin/staff/new", f"/admin/staff/{world.clerk_a.id}",
            f"/admin/staff/{admin.id}", "/admin/stores", "/admin/stores/new",
            f"/admin/stores/{world.store_a.id}", "/admin/protocols",
            "/admin/protocols/osteoporosis/3?start=2024-03-04",
            "/admin/protocols/osteoporosis/3?start=2030-01-01", "/change-password",
        )
    }  # fmt: skip
    refusals = {
        "/admin/staff": {"username": "a b", "name": "x", "role": "clerk"},
        f"/admin/staff/{world.clerk_a.id}": {"name": "", "role": "clerk"},
        f"/admin/staff/{world.clerk_a.id}/close": {},
        "/admin/stores": {"store_code": "A001", "store_name": "x", "region": "x"},
        f"/admin/stores/{world.store_a.id}": {"store_code": "", "store_name": "", "region": ""},
        "/change-password": {"new_password": "short", "repeat_password": "short"},
    }
    for url, form in refusals.items():
        r = client.post(url, data={"csrf_token": token, **form})
        assert r.status_code == 422, url
        pages[f"POST {url}"] = r.text
    bad = _upload(client, token, "bad.yaml", "id: x\nversion: one\n")
    pages["POST upload"] = bad
    good = (ROOT / "protocols" / "osteoporosis.yaml").read_text(encoding="utf-8")
    pages["POST upload good"] = _upload(
        client, token, "o.yaml", good.replace("version: 3", "version: 5")
    )
    for url, html in pages.items():
        texts = visible(html)
        assert texts, url
        left = english_left(texts) if language == "zh" else chinese_left(texts)
        assert not set(left) - {"YAML"}, f"{url} ({language}): {left}"
