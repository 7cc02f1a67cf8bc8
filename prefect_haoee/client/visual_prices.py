"""Default prices of the Volcengine visual models, in CNY per request (GUESSES).

!!! THESE PRICES ARE GUESSES !!! (see ``prefect_haoee.campaigns.pricing`` for the tiers and
how a campaign overrides them). The visual adapter's price hook reads this table.
"""

from __future__ import annotations

from collections.abc import Mapping

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
