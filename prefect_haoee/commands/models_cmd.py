"""``haoee models``: every model a campaign may name, from the client's catalog and the
family registry, with the price a budget uses (``campaigns/pricing.py``: GUESSES until
the gateway publishes prices; a campaign's ``prices:`` overrides them)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from prefect_haoee.campaigns.models import EXAMPLES, resolve_model
from prefect_haoee.campaigns.pricing import CURRENCY, FAMILY_PRICES, PRICES_GUESSED, price_for
from prefect_haoee.client.catalog import CATALOG
from prefect_haoee.client.requests import REQUEST_CLASSES
from prefect_haoee.commands.render import console, print_json

_FAMILY_NAMES = {
    "openai_images": "doubao-seedream-*, gpt-image-*, nano-banana*, flux*, qwen-image* ...",
    "sora": "sora-2, sora-2-pro ...",
    "minimax": "MiniMax-Hailuo-* ...",
    "kling": "kling-v2-6 ...",
    "suno": "chirp-*, suno* ...",
}


def _images(low: int, high: int) -> str:
    if high == 0:
        return "0"
    return str(low) if low == high else f"{low}-{high}"


def model_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for req_key, spec in CATALOG.items():
        cls = REQUEST_CLASSES.get(req_key)
        rows.append(
            {
                "name": req_key,
                "title": spec.title,
                "family": "visual",
                "kind": "image",
                "modes": list(spec.modes),
                "seed": bool(cls is not None and "seed" in cls.model_fields),
                "input_images": _images(spec.min_images, spec.max_images),
                "price": price_for(req_key),
            }
        )
    for example in EXAMPLES:
        info = resolve_model(example)
        if info is None or info.family not in FAMILY_PRICES:
            continue
        rows.append(
            {
                "name": _FAMILY_NAMES.get(info.family, example),
                "title": f"e.g. {example}",
                "family": info.family,
                "kind": info.kind,
                "modes": list(info.modes),
                "seed": False,
                "input_images": "-",  # per request shape: see the family's module
                "price": FAMILY_PRICES[info.family],
            }
        )
    return rows


def show_models(as_json: bool) -> int:
    rows = model_rows()
    if as_json:
        print_json({"currency": CURRENCY, "prices_guessed": PRICES_GUESSED, "models": rows})
        return 0
    table = Table(title=Text(f"{len(rows)} models (prices in {CURRENCY} per request)"))
    table.add_column("model", overflow="fold", max_width=40)
    for column in ("family", "kind", "sync/async", "seed", "input images", "price"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            Text(row["name"]),
            row["family"],
            row["kind"],
            "/".join(row["modes"]),
            "yes" if row["seed"] else "no",
            row["input_images"],
            f"{row['price']:.2f}",
        )
    console.print(table)
    if PRICES_GUESSED:
        console.print(
            "Prices are GUESSES (campaigns/pricing.py): set `prices:` in a campaign file "
            "to the gateway's real prices before trusting a budget."
        )
    return 0
