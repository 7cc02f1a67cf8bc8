"""Default prices per ``req_key``, in CNY per image (one paid request).

!!! THESE PRICES ARE GUESSES !!!
No price list of the Haoee gateway was available when this table was written. The values
are plausible orders of magnitude for the Volcengine visual family, kept in this one place
so that they are easy to find and to correct:

- 0.14  legacy and older models (通用1.4, XL pro, 通用1.1, 动漫1.3)
- 0.20  general 2.x text-to-image (通用2.0/2.0Pro/2.1, 即梦2.1, controlnet, inpainting edit)
- 0.25  Jimeng 3.x (即梦3.0/3.1 text-to-image, 3.0 image-to-image, inpainting)
- 0.30  Jimeng 4.0/4.6 and SeedEdit (byteedit 2.0, seededit 3.0)
- 0.35  character and portrait keeping (角色特征保持, 人像保持)

A campaign overrides any of them with ``prices: {req_key: price}`` in its file; use that
with the gateway's real prices before trusting a budget.

Models that can return several images per request (即梦4.0/4.6 without ``force_single``)
are billed here per *request*: the price per request is the price per image of one image.
Budgets therefore count requests (work items), not returned images.
"""

from __future__ import annotations

from collections.abc import Mapping

from prefect_haoee.client.registry import families, resolve_model
from prefect_haoee.client.visual_prices import DEFAULT_PRICES

CURRENCY = "CNY"
PRICES_GUESSED = True

__all__ = [
    "CURRENCY",
    "DEFAULT_PRICES",
    "FAMILY_PRICES",
    "PRICES_GUESSED",
    "UnknownPriceError",
    "is_guessed",
    "price_for",
]


class UnknownPriceError(LookupError):
    """No default price and no override for a ``req_key``."""

    def __init__(self, req_key: str) -> None:
        self.req_key = req_key
        super().__init__(
            f"no price for req_key {req_key!r}: add it under 'prices' in the campaign file"
        )


# Other families, per request: each adapter's guess (openai_images 0.30, video 2.00, music
# 0.50), declared next to its calls in ``prefect_haoee.client.families``.
FAMILY_PRICES: Mapping[str, float] = {
    f.family: f.price for f in families() if isinstance(f.price, (int, float))
}


def price_for(req_key: str, overrides: Mapping[str, float] | None = None) -> float:
    """Price of one request of ``req_key`` (or another family's model) in CNY: the
    override, else the model's adapter's default (a GUESS)."""
    if overrides and req_key in overrides:
        return float(overrides[req_key])
    info = resolve_model(req_key)
    price = info.default_price if info is not None else None
    if price is None:
        raise UnknownPriceError(req_key)
    return price


def is_guessed(req_key: str, overrides: Mapping[str, float] | None = None) -> bool:
    """True when the price of ``req_key`` comes from the guessed default table."""
    return not (overrides and req_key in overrides)
