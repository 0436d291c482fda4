"""What counts as degenerate output: the loops and repeated items a small model produces."""

from __future__ import annotations

import pytest

from prompt_playground.degenerate import degenerate_cells, degenerate_reason


@pytest.mark.parametrize(
    "text",
    [
        "nega-tres-de-lo-de-lo-de-lo",
        "Sí, sí, sí, sí, sí",
        "1.1.1.1.1.1.1.1",
        "Billing, Billing, Billing, Billing",
        "I'm glad to hear that. I'm glad to hear that. I'm glad to hear that you like it.",
        "aaaaaaaaaaaa",
    ],
)
def test_loops_in_text_are_degenerate(text: str) -> None:
    assert degenerate_reason(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "The parcel arrived two days late; the customer wants to know where it is.",
        "Charged twice, 2 × 14,99 €, refund of one payment requested.",
        "Wait...",
        "www.example.com",
        "Mississippi",
        "",
        "Customer asks about the Pro plan vs the Max plan and the Max plan's storage.",
    ],
)
def test_ordinary_text_is_not_degenerate(text: str) -> None:
    assert degenerate_reason(text) is None


def test_a_list_holding_an_item_twice_is_degenerate_case_and_spaces_ignored() -> None:
    assert degenerate_reason(["delivery", "refund"]) is None
    assert "occurs twice" in (degenerate_reason(["delivery", " Delivery"]) or "")
    assert degenerate_reason(["ok", "1.1.1.1.1.1"]) is not None


def test_degenerate_cells_names_each_bad_field() -> None:
    output = {
        "sentiment": "negative",
        "topics": ["photo", "photo"],
        "summary": "nega-n nega-n nega-n",
        "nested": {"inner": "lo-de-lo-de-lo-de"},
        "count": 3,
        "product": None,
    }
    found = degenerate_cells(output)
    assert set(found) == {"topics", "summary", "nested"}
    assert degenerate_cells(None) == {}
