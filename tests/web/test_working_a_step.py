"""Working a step as clerks and pharmacists do it (issue 21): the channel is chosen, never
preselected; the form follows the call; refusals sit beside the box at fault."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from careplan.models import CheckpointResult
from tests.conftest import World
from tests.web.conftest import TravelClock, sign_in_page
from tests.web.test_pages import HX, count, due_step, result_form


def test_no_channel_is_preselected_and_a_save_without_one_is_refused_naming_it(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    form = client.get(f"/checkpoints/{cp.id}/form", headers=HX).text
    radios = re.findall(r'<input type="radio" name="channel"[^>]*>', form)
    assert radios and not any("checked" in r for r in radios)
    data = result_form(token, cp)
    del data["channel"]
    r = client.post(f"/checkpoints/{cp.id}/result", data=data, headers=HX)
    assert r.status_code == 422
    assert re.search(r"回访方式[:：]\s*请选择您是如何联系到会员的", r.text)
    assert count(world, CheckpointResult) == 0
