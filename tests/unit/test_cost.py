"""The cost column: free locally, priced by the longest model-name prefix, else unknown."""

from __future__ import annotations

import pytest

from prompt_playground.llm import Endpoint
from prompt_playground.settings import DEFAULT_PRICES


def endpoint(*, local: bool = False) -> Endpoint:
    return Endpoint(
        base_url=None,
        api_key=None,
        model="gpt-4o-mini",
        mode="tools",
        local=local,
        description="",
        prices=DEFAULT_PRICES,
    )


def test_the_longest_matching_prefix_sets_the_price() -> None:
    # "gpt-4o-mini-2024-07-18" starts with both "gpt-4o" and "gpt-4o-mini".
    cost = endpoint().cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000)
    assert cost == pytest.approx(0.15 + 0.60)


def test_an_unknown_model_has_no_cost() -> None:
    assert endpoint().cost_usd("mistral-large", 100, 100) is None


def test_missing_token_counts_leave_the_cost_unknown() -> None:
    assert endpoint().cost_usd("gpt-4o", None, 100) is None


def test_the_local_model_costs_nothing() -> None:
    assert endpoint(local=True).cost_usd("SmolLM2", 100, 100) == 0.0
