"""A worker's blocks chosen by name: credentials, output bucket, result storage.

A worker has no ``HAOEE_API_KEY`` or ``AWS_*`` of its own here: the campaign file (or the
``HAOEE_*_BLOCK`` environment a deployment sets) names saved blocks, and the run uses them.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.abstract import CredentialsBlock
from prefect_aws.s3 import S3Bucket
from typer.testing import CliRunner

from prefect_haoee.blocks import BlockNotFoundError, HaoeeCredentials, named_bucket
from prefect_haoee.campaigns.spec import OutputSpec
from prefect_haoee.cli import _block_env, app

pytestmark = pytest.mark.integration


def campaign_file(tmp_path: Path, bucket: str, credentials: str, bucket_block: str) -> Path:
    path = tmp_path / "named.yaml"
    path.write_text(
        f"""
name: named-blocks
model: high_aes_general_v20_L
credentials_block: {credentials}
prompts:
  - id: shoe
    prompt: "a shoe named by blocks"
output:
  bucket: {bucket}
  bucket_block: {bucket_block}
  prefix: named/{{date}}
"""
    )
    return path


def test_credentials_block_is_a_prefect_credentials_block() -> None:
    block = HaoeeCredentials(api_key="k", base_url="http://127.0.0.1:1")
    assert isinstance(block, CredentialsBlock)
    with block.get_client() as client:
        assert "k" not in repr(client)


def test_campaign_names_its_blocks_and_the_run_needs_no_key_in_its_environment(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_haoee.flows import run_campaign

    tag = uuid.uuid4().hex[:8]
    HaoeeCredentials(api_key=sim.config.api_keys[0], base_url=sim.base_url).save(
        f"gw-{tag}", overwrite=True
    )
    s3_bucket.save(f"out-{tag}", overwrite=True)
    monkeypatch.delenv("HAOEE_API_KEY")
    path = campaign_file(tmp_path, s3_bucket.bucket_name, f"gw-{tag}", f"out-{tag}")
    state = asyncio.run(run_campaign(str(path), run_date=date(2026, 3, 4), return_state=True))
    result = state.result()
    assert (result.done, result.failed, result.paid_calls) == (1, 0, 1)
    assert sim.stats()["billable_generations"] == 1


def test_worker_environment_names_blocks(
    prefect_server: str, sim: Any, s3_bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect_haoee.blocks import resolve_settings

    tag = uuid.uuid4().hex[:8]
    HaoeeCredentials(api_key="from-the-block", base_url=sim.base_url).save(
        f"env-{tag}", overwrite=True
    )
    s3_bucket.save(f"env-out-{tag}", overwrite=True)
    monkeypatch.setenv("HAOEE_CREDENTIALS_BLOCK", f"env-{tag}")
    monkeypatch.setenv("HAOEE_BUCKET_BLOCK", f"env-out-{tag}")
    assert resolve_settings(None).api_key.get_secret_value() == "from-the-block"
    bucket = named_bucket()
    assert isinstance(bucket, S3Bucket) and bucket.bucket_name == s3_bucket.bucket_name
    monkeypatch.setenv("HAOEE_CREDENTIALS_BLOCK", f"missing-{tag}")
    with pytest.raises(BlockNotFoundError, match=f"missing-{tag}"):
        resolve_settings(None)


def test_block_names_in_campaign_files_are_checked() -> None:
    with pytest.raises(ValueError, match="bucket_block"):
        OutputSpec(bucket="b-ok", bucket_block="Not A Name/../x")


def test_cli_takes_block_options() -> None:
    assert _block_env("gw", None) == {"HAOEE_CREDENTIALS_BLOCK": "gw"}
    runner = CliRunner()
    for command in ("run", "deploy"):
        out = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert "--credentials-block" in out.output and "--bucket-block" in out.output
