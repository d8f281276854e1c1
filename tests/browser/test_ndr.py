"""The NDR queue in the browser: a failed delivery selected, "Reattempt delivery…" with a date and a comment, and the
merchant's decision recorded on the NDR."""

from datetime import timedelta

import pytest

from shipping.dashboard import merchant_today
from shipping.models import NDR, NDRStatus
from shipping.models import ShipmentStatus as S
from tests.shipping.factories import make_shipment

pytestmark = pytest.mark.browser
NDRS = "/admin/shipping/ndr/"


def test_a_reattempt_requested_from_the_ndr_queue_is_recorded(visit, owner, merchant):
    ndr = NDR.objects.get(shipment=make_shipment(merchant, S.NDR))
    other = NDR.objects.get(shipment=make_shipment(merchant, S.NDR))
    day = merchant_today(merchant) + timedelta(days=2)
    desk = visit("ndr")
    page = desk.page
    desk.log_in(owner)
    desk.open(NDRS, "queue")

    assert sorted(desk.rows()) == sorted([ndr.pk, other.pk])
    desk.run_action([ndr.pk], "Reattempt delivery…")
    desk.shot("reattempt-form")

    assert page.locator("h1").inner_text() == "Reattempt delivery"
    assert page.locator("#content table tbody tr td").first.inner_text() == ndr.shipment.awb
    page.get_by_label("Reattempt date").fill(day.isoformat())
    page.get_by_label("Comment").fill("Call before noon; the gate is on the lane behind.")
    desk.follow(page.get_by_role("button", name="Reattempt delivery"))
    desk.shot("queue-after")

    assert page.url == f"{desk.base_url}{NDRS}"
    assert desk.messages() == [("success", "Requested a reattempt for 1 NDR.")]
    ndr.refresh_from_db()
    assert (ndr.status, ndr.action, ndr.reattempt_date, ndr.action_comment, ndr.action_by) == (
        NDRStatus.REATTEMPT, "reattempt", day, "Call before noon; the gate is on the lane behind.",
        f"user:{owner.pk}")  # fmt: skip
    other.refresh_from_db()
    assert (other.status, other.action, other.reattempt_date) == (NDRStatus.OPEN, "", None)
    row = page.locator("#result_list tbody tr", has=page.locator(f'input.action-select[value="{ndr.pk}"]'))
    assert row.locator("td.field-status").inner_text() == "Reattempt requested"
