"""A campaign reaches Prefect by reference, never by value.

Measured before the fix: ``haoee run`` on 5,000 prompts exited 1 with 0 paid, Prefect
refusing the flow run ("Flow run parameters must be less than 524,288 bytes when serialized
(got 938,287 bytes)") and 2 MB of that message on the terminal. Now the server keeps a
summary of a ``Campaign`` object (name, source, sha256, prompt count), a sharded run hands
its shards the campaign stored in the bucket by content, and a command prints no error
longer than one line.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from prefect_haoee.campaigns import load_campaign
from prefect_haoee.commands.render import MESSAGE_MAX, one_line
from prefect_haoee.flows import campaign_param
from prefect_haoee.flows.campaign_param import (
    CampaignReferenceError,
    load_stored_campaign,
    store_campaign,
)
from tests.support import bucket_block

PROMPTS = 20_000


def big_campaign(tmp_path: Path, rows: int, bucket: str) -> Path:
    lines = ["id,prompt"] + [f"p{i:05d},a lighthouse at dusk number {i}" for i in range(rows)]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    path = tmp_path / "big.yaml"
    path.write_text(
        "name: big\nmodel: high_aes_general_v20_L\nprompts:\n  - from_csv: rows.csv\n"
        f"output:\n  bucket: {bucket}\n"
    )
    return path


def test_a_20000_prompt_campaign_object_reaches_the_server_as_a_summary(
    prefect_server: str, s3_server: str, tmp_path: Path
) -> None:
    """The flow run is created (Prefect took its parameters) and its parameters are a few
    hundred bytes; the run then stops at its first step, on a bucket that does not exist,
    with a short message (nothing paid: the simulator is not even configured)."""
    from prefect.client.orchestration import get_client

    from prefect_haoee.flows import run_campaign

    spec = load_campaign(big_campaign(tmp_path, PROMPTS, "no-such-bucket-xyz"))
    assert len(spec.model_dump_json()) > 600_000  # over Prefect's 512 KB parameter limit
    block = bucket_block(s3_server, "no-such-bucket-xyz")
    flow: Any = run_campaign
    state = asyncio.run(flow(spec, bucket=block, return_state=True))
    assert state.is_failed() and "NoSuchBucket" in str(state.message), state.message

    async def parameters() -> dict[str, Any]:
        async with get_client() as client:
            run = await client.read_flow_run(UUID(str(state.state_details.flow_run_id)))
            return run.parameters

    params = asyncio.run(parameters())
    assert len(json.dumps(params)) < 10_000, len(json.dumps(params))
    shown = params["campaign"]
    assert shown["campaign"] == "big" and shown["prompts"] == PROMPTS, shown
    assert shown["source"].endswith("big.yaml") and len(shown["sha256"]) == 64


def test_the_flows_keep_sending_campaigns_by_reference_with_options() -> None:
    from prefect_haoee.flows import run_campaign
    from prefect_haoee.flows.shards import run_campaign_shard

    for flow in (run_campaign, run_campaign_shard, run_campaign.with_options(retries=1)):
        assert isinstance(flow, campaign_param.CampaignFlow), type(flow)


def test_a_stored_campaign_is_read_back_by_content_and_refused_when_changed(
    s3_bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_campaign(big_campaign(tmp_path, 50, s3_bucket.bucket_name))
    uri = store_campaign(s3_bucket, spec)
    assert uri.startswith(f"s3://{s3_bucket.bucket_name}/.haoee-campaigns/")
    assert store_campaign(s3_bucket, spec) == uri  # once per content
    back = load_stored_campaign(s3_bucket, uri)
    assert back.model_dump() == spec.model_dump() and back.source == spec.source
    assert back.reader.base_dir == spec.reader.base_dir

    key = uri.split("/", 3)[3]
    s3 = s3_bucket.credentials.get_s3_client()
    s3.put_object(Bucket=s3_bucket.bucket_name, Key=key, Body=b'{"planted": true}')
    with pytest.raises(CampaignReferenceError, match="not the one its name holds"):
        load_stored_campaign(s3_bucket, uri)
    with pytest.raises(CampaignReferenceError, match="not a campaign stored in"):
        load_stored_campaign(s3_bucket, f"s3://other-bucket/{key}")
    with pytest.raises(CampaignReferenceError, match="cannot read it"):
        load_stored_campaign(s3_bucket, uri.replace(key[-20:], "0" * 15 + ".json"))
    monkeypatch.setattr(campaign_param, "STORED_MAX_BYTES", 10)
    with pytest.raises(CampaignReferenceError, match="over 10 bytes"):
        load_stored_campaign(s3_bucket, uri)


def test_an_error_message_is_one_short_line() -> None:
    huge = "422 Unprocessable Entity:\n" + '{"prompt": "x"}, ' * 100_000
    shown = one_line(huge)
    assert len(shown) <= MESSAGE_MAX and "\n" not in shown
    assert shown.startswith("422 Unprocessable Entity: {") and "characters in all" in shown
    assert one_line("short\nmessage") == "short message"
