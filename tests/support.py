"""Constants and builders shared by every test folder."""

from __future__ import annotations

import io

from PIL import Image

SIM_KEY = "sim-test-key-0123456789"


def png_bytes(
    width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


# The request body shown on the Haoee page for 通用2.0-角色特征保持 (shared/api README §1).
SEED_EXAMPLE: dict[str, object] = {
    "req_key": "high_aes_ip_v20",
    "image_urls": ["https://xxx"],
    "prompt": "千军万马",
    "desc_pushback": True,
    "seed": -1,
    "scale": 3.5,
    "ddim_steps": 9,
    "width": 512,
    "height": 512,
    "cfg_rescale": 0.7,
    "ref_ip_weight": 0.7,
    "ref_id_weight": 0.36,
    "use_sr": True,
    "return_url": True,
    "logo_info": {
        "add_logo": False,
        "position": 0,
        "language": 0,
        "opacity": 0.3,
        "logo_text_content": "...",
    },
}
