"""How a cell reads on the pages: an empty list is an answer, a missing value is not."""

from __future__ import annotations

from prompt_playground.ui.run_view import display_value


def test_an_empty_list_reads_as_one_and_differs_from_no_answer() -> None:
    assert display_value([]) == "[]"
    assert display_value(None) == ""
    assert display_value(["delivery", "refund"]) == "delivery, refund"
    assert display_value({"b": 1, "a": [1]}) == '{"a": [1], "b": 1}'
