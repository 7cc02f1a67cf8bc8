"""An ``S3Bucket`` block with a ``bucket_folder``: every file lands where the manifest says.

Video and audio went through the block's own upload (which joins the folder in
its own way) while images, HEADs, LISTs and the manifest went through ``full_key``; with a
folder that the campaign prefix also starts with, video and audio landed one folder deeper
than the manifest said, and a rerun did not see what it had stored (LIST keys carried the
folder, plan stems did not). One key function now serves every write, read and record.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import (
    campaign_doc,
    list_keys,
    prompt,
    read_json,
    run_doc,
)

pytestmark = pytest.mark.reliability

DAY = date(2026, 5, 5)


def mixed_prompts(tag: str) -> list[dict[str, Any]]:
    """One item of each kind; ``tag`` keeps their request hashes (and committed steps in the
    session's result storage) apart from other tests'."""
    return [
        prompt("still", f"a red kite ({tag})"),
        {"id": "teaser", "kind": "video", "model": "sora-2", "prompt": f"a kite, bay ({tag})"},
        {"id": "jingle", "kind": "music", "model": "chirp-v4", "prompt": f"a kite jingle ({tag})"},
    ]


@pytest.mark.parametrize("folder", ["campaigns", "team/renders/"])
def test_every_kind_lands_where_the_manifest_says_and_a_rerun_is_free(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path, folder: str
) -> None:
    bucket = s3_bucket.model_copy(update={"bucket_folder": folder})
    name = "folder-" + folder.strip("/").replace("/", "-")
    doc = campaign_doc(name, bucket.bucket_name, mixed_prompts(name))
    del doc["params"]  # image sizes only; video and music take none
    state, result = run_doc(tmp_path, doc, DAY, bucket)
    assert state.is_completed(), state.message
    s3 = bucket.credentials.get_s3_client()
    everything = set(list_keys(s3, bucket.bucket_name))
    root = folder.strip("/") + "/"
    assert all(key.startswith(root) for key in everything), sorted(everything)
    # The ledger of paid steps lives in the same folder, apart from the outputs, and so do
    # the gallery's thumbnails (under thumbs/ next to the images, not manifest entries).
    assert any("/thumbs/" in key for key in everything)
    stored = {key for key in everything if "/.haoee-ledger/" not in key and "/thumbs/" not in key}
    assert result.manifest_key in stored
    manifest = read_json(s3, bucket.bucket_name, result.manifest_key)
    keys = {k for e in manifest["items"] for k in [e["key"], *e["extra_keys"]]}
    kinds = {e["kind"] for e in manifest["items"]}
    assert kinds == {"image", "video", "music"}
    # The manifest names exactly the objects that were written, of every kind.
    assert keys == stored - {result.manifest_key}, (sorted(keys), sorted(stored))
    first = sim.stats()["billable_generations"]
    print(f"\nbucket_folder {folder!r}: {sorted(stored)}; billable {first}")
    assert first == 3

    # The rerun sees every object at plan time: nothing to produce, nothing paid.
    state2, rerun = run_doc(tmp_path, doc, DAY, bucket)
    assert state2.is_completed(), state2.message
    assert rerun.stored_before == 3 and rerun.paid_calls == 0
    assert {r.source for r in rerun.records} == {"s3"}
    assert {r.key for r in rerun.records} <= stored
    assert sim.stats()["billable_generations"] == first
    assert set(list_keys(s3, bucket.bucket_name)) == everything
