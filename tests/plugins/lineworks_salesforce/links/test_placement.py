"""Where a friend's Tasks go: WhoId/WhatId from its 社外連絡先 link (lineworks_salesforce.links.placement)."""

from __future__ import annotations

import pytest

from lineworks_salesforce.links import placement_fields


@pytest.mark.parametrize(
    ("link", "who", "what"),
    [
        ({"lead_id": "00Q1", "contact_sf_id": "0031"}, "0031", "a0X1"),
        ({"lead_id": "00Q1", "account_id": "0011", "person_contact_id": "003P1"}, "003P1", "0011"),
        (
            {"lead_id": "00Q1", "contact_sf_id": "0031", "account_id": "0011", "person_contact_id": "003P1"},
            "003P1",
            "0011",
        ),
        ({"contact_sf_id": "0031", "account_id": "0011", "person_contact_id": "003P1"}, "003P1", "0011"),
    ],
)
def test_should_prefer_person_account_then_contact_then_lead(link, who, what):
    fields = placement_fields({"external_contact_id": "a0X1", **link})
    assert (fields.get("WhoId"), fields.get("WhatId")) == (who, what)


def test_should_treat_empty_and_nan_link_cells_as_missing():
    fields = placement_fields(
        {"external_contact_id": "a0X1", "lead_id": "", "contact_sf_id": float("nan"), "account_id": None}
    )
    assert fields == {"WhatId": "a0X1"}
