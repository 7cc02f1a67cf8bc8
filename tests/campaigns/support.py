"""Helpers of the campaign tests: a valid base campaign and a writer for variants of it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DELETE = object()

BASE: dict[str, Any] = {
    "name": "spring-launch",
    "model": "high_aes_general_v20_L",
    "params": {"width": 512, "height": 512},
    "variants": 2,
    "prompts": [
        {"id": "hero-shot", "prompt": "a red running shoe on wet asphalt"},
        {
            "id": "keep-face",
            "model": "high_aes_ip_v20",
            "prompt": "the same person hiking at sunrise",
            "image_urls": ["https://example.com/ref.jpg"],
            "params": {"ref_id_weight": 0.3},
            "variants": 4,
        },
    ],
    "output": {"bucket": "marketing-assets"},
    "budget": {"max_images": 200, "max_cost": 30.0},
}


def campaign_dict(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A deep copy of ``BASE`` with ``changes`` applied (see ``changed``)."""
    return changed(BASE, changes or {})


def changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``changes`` applied: dotted paths (list indexes as
    numbers) to new values, or to ``DELETE``. Shared with the reliability suite's broken
    files, which start from a base of their own."""
    data = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        key: Any = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        elif isinstance(node, list) and key == len(node):
            node.append(value)
        else:
            node[key] = value
    return data


def write_campaign(tmp_path: Path, data: dict[str, Any] | str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path
