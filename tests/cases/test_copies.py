"""A cross-province transfer form is copied to both provincial bureaus: each finds it under 抄送我单位, opens it
and prints it; a bureau it does not name sees nothing of it."""

from __future__ import annotations

import re

from tests.cases.test_loop import post
from tests.cases.test_notifications import log_case


def test_both_provinces_open_the_form_they_are_copied_on(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    case_id = log_case(inspector)
    made = post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    transfer_url = made.headers["Location"]
    number = re.search(r"(YJ-\d{4}-500153-\d{4})", inspector.get(transfer_url).get_data(as_text=True)).group(1)

    for user in (world.cq_staff, world.sc_staff):
        client = login_as(user, app.test_client())
        listed = client.get("/cases/copied").get_data(as_text=True)
        assert number in listed and "抄送我单位" in client.get("/cases/").get_data(as_text=True)
        page = client.get(transfer_url)
        assert page.status_code == 200, (user.username, page.status_code)
        copied = re.search(r'data-testid="copied-to">(.*?)</dd>', page.get_data(as_text=True)).group(1)
        assert "重庆市生态环境局" in copied and "四川省生态环境厅" in copied
        assert client.get(transfer_url + ".pdf").data.startswith(b"%PDF")

    zg = login_as(world.zg_staff, app.test_client())
    assert zg.get(transfer_url).status_code == 404
    assert number not in zg.get("/cases/copied").get_data(as_text=True)
    # A city bureau has no copies to look at: the entry is not in its navigation.
    assert "抄送我单位" not in login_as(world.nj_staff, app.test_client()).get("/cases/").get_data(as_text=True)
