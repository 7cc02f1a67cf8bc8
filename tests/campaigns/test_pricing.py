"""The default price table (guesses, in one place) and overrides."""

from __future__ import annotations

import pytest

from prefect_haoee.campaigns import pricing
from prefect_haoee.campaigns.pricing import (
    CURRENCY,
    DEFAULT_PRICES,
    UnknownPriceError,
    is_guessed,
    price_for,
)
from prefect_haoee.client.catalog import CATALOG
from prefect_haoee.client.requests import REQUEST_CLASSES


def test_every_known_req_key_has_a_positive_default_price() -> None:
    assert set(DEFAULT_PRICES) == set(CATALOG) == set(REQUEST_CLASSES)
    assert all(price > 0 for price in DEFAULT_PRICES.values())
    assert CURRENCY == "CNY"


def test_prices_are_marked_as_guesses() -> None:
    assert pricing.__doc__ is not None
    assert "GUESSES" in pricing.__doc__
    assert pricing.PRICES_GUESSED


@pytest.mark.parametrize(
    ("req_key", "price"),
    [
        ("high_aes_general_v20_L", 0.2),
        ("high_aes_general_v20", 0.2),
        ("jimeng_t2i_v30", 0.25),
        ("jimeng_t2i_v31", 0.25),
        ("jimeng_t2i_v40", 0.3),
        ("jimeng_seedream46_cvtob", 0.3),
        ("seededit_v3.0", 0.3),
        ("byteedit_v2.0", 0.3),
        ("high_aes_general_v14", 0.14),
        ("t2i_xl_sft", 0.14),
        ("high_aes_ip_v20", 0.35),
        ("img2img_anime_accelerated_maintain_id", 0.35),
    ],
)
def test_price_tiers(req_key: str, price: float) -> None:
    assert price_for(req_key) == price


def test_overrides_win() -> None:
    assert price_for("jimeng_t2i_v30", {"jimeng_t2i_v30": 0.5}) == 0.5
    assert price_for("jimeng_t2i_v30", {"jimeng_t2i_v30": 0}) == 0.0
    assert price_for("jimeng_t2i_v30", {"other": 9}) == 0.25
    assert price_for("custom_model", {"custom_model": 1}) == 1.0
    assert not is_guessed("jimeng_t2i_v30", {"jimeng_t2i_v30": 0.5})
    assert is_guessed("jimeng_t2i_v30", None)


def test_unknown_req_key_without_override_is_an_error() -> None:
    with pytest.raises(UnknownPriceError, match="add it under 'prices'") as info:
        price_for("custom_model")
    assert info.value.req_key == "custom_model"
    assert isinstance(info.value, LookupError)
