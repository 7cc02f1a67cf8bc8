"""Which family a campaign's ``model`` names, what kind of media it makes, how it runs.

A thin view of the client's registry (:mod:`prefect_haoee.client.registry`): each gateway
adapter declares its own models, kinds and modes next to its calls.
"""

from __future__ import annotations

from prefect_haoee.client.registry import Family, Kind, ModelInfo, examples, resolve_model

EXAMPLES = examples()

__all__ = ["EXAMPLES", "Family", "Kind", "ModelInfo", "resolve_model"]
