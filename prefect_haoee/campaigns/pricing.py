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

CURRENCY = "CNY"
PRICES_GUESSED = True

_LEGACY = 0.14
_GENERAL_2X = 0.20
_JIMENG_3X = 0.25
_JIMENG_4X_EDIT = 0.30
_KEEPING = 0.35

DEFAULT_PRICES: Mapping[str, float] = {
    # general (通用)
    "high_aes_ip_v20": _KEEPING,
    "high_aes_general_v20_L": _GENERAL_2X,
    "high_aes_general_v20": _GENERAL_2X,
    "high_aes_general_v21_L": _GENERAL_2X,
    "high_aes_general_v14": _LEGACY,
    "high_aes_general_v30l_zt2i": _JIMENG_3X,
    # jimeng (即梦)
    "jimeng_high_aes_general_v21_L": _GENERAL_2X,
    "jimeng_t2i_v30": _JIMENG_3X,
    "jimeng_t2i_v31": _JIMENG_3X,
    "jimeng_i2i_v30": _JIMENG_3X,
    "jimeng_t2i_v40": _JIMENG_4X_EDIT,
    "jimeng_seedream46_cvtob": _JIMENG_4X_EDIT,
    "jimeng_image2image_dream_inpaint": _JIMENG_3X,
    # edit
    "byteedit_v2.0": _JIMENG_4X_EDIT,
    "seededit_v3.0": _JIMENG_4X_EDIT,
    "i2i_inpainting_edit": _GENERAL_2X,
    "high_aes_scheduler_svr_controlnet_v2.0": _GENERAL_2X,
    # legacy
    "i2i_xl_sft": _LEGACY,
    "t2i_xl_sft": _LEGACY,
    "high_aes_i2i": _LEGACY,
    "high_aes": _LEGACY,
    # portrait (人像保持)
    "img2img_anime_accelerated_maintain_id": _KEEPING,
    "img2img_stable_accelerated_maintain_id_usage": _KEEPING,
}


class UnknownPriceError(LookupError):
    """No default price and no override for a ``req_key``."""

    def __init__(self, req_key: str) -> None:
        self.req_key = req_key
        super().__init__(
            f"no price for req_key {req_key!r}: add it under 'prices' in the campaign file"
        )


# Other families, per request, by model family (GUESSES, like the table above):
# OpenAI-style images 0.30, video 2.00 (a few seconds of sora/MiniMax/Kling), music 0.50.
FAMILY_PRICES: Mapping[str, float] = {
    "openai_images": 0.30,
    "sora": 2.00,
    "minimax": 2.00,
    "kling": 2.00,
    "suno": 0.50,
}


def price_for(req_key: str, overrides: Mapping[str, float] | None = None) -> float:
    """Price of one request of ``req_key`` (or another family's model) in CNY: the
    override, else the default (a GUESS)."""
    if overrides and req_key in overrides:
        return float(overrides[req_key])
    if req_key in DEFAULT_PRICES:
        return DEFAULT_PRICES[req_key]
    from prefect_haoee.campaigns.models import resolve_model

    info = resolve_model(req_key)
    if info is not None and info.family in FAMILY_PRICES:
        return FAMILY_PRICES[info.family]
    raise UnknownPriceError(req_key)


def is_guessed(req_key: str, overrides: Mapping[str, float] | None = None) -> bool:
    """True when the price of ``req_key`` comes from the guessed default table."""
    return not (overrides and req_key in overrides)
