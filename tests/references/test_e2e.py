"""Reference images end to end: ``haoee`` subprocesses against the simulator, moto S3 and a
Prefect server, with a local file, an S3 object and a URL served on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import run_haoee
from tests.references.support import (
    BLUE,
    GREEN,
    RED,
    campaign_file,
    dominant,
    http_server,
    mean_colour,
    noisy_png,
    png,
)

pytestmark = pytest.mark.integration

DAY = "2026-12-02"


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    """The session's ``haoee`` environment; the URL reference is served on 127.0.0.1."""
    return {**cli_env, "HAOEE_REFERENCES_ALLOW_LOOPBACK_HTTP": "1", "COLUMNS": "200"}


def output_colours(client: Any, bucket: str, result: dict[str, Any]) -> dict[str, str]:
    """The dominant colour of each produced image, by prompt id."""
    out = {}
    for row in result["items"]:
        data = client.get_object(Bucket=bucket, Key=row["s3_key"])["Body"].read()
        out[row["prompt_id"]] = dominant(mean_colour(data))
    return out


def test_file_object_and_url_references(
    env: dict[str, str],
    sim: Any,
    s3_bucket: Any,
    tmp_path: Path,
) -> None:
    bucket = s3_bucket.bucket_name
    client = s3_bucket.credentials.get_s3_client()
    client.put_object(Bucket=bucket, Key="refs/green.png", Body=png(GREEN))
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "red.png").write_bytes(png(RED))
    served = tmp_path / "public"
    served.mkdir()
    (served / "blue.png").write_bytes(png(BLUE))
    with http_server(served) as base_url:
        prompts = [
            {"id": "file", "prompt": "the hero on a beach", "images": ["refs/red.png"]},
            {
                "id": "object",
                "prompt": "the hero in a forest",
                "images": [f"s3://{bucket}/refs/green.png"],
            },
            {"id": "url", "prompt": "the hero at sea", "images": [f"{base_url}/blue.png"]},
        ]
        path = campaign_file(tmp_path, prompts, bucket=bucket)

        planned = run_haoee("plan", str(path), "--json", "--date", DAY, env=env)
        assert planned.returncode == 0, planned.stderr
        plan = json.loads(planned.stdout)
        refs = {r["source"]: r for r in plan["references"]}
        assert refs["refs/red.png"]["sha256"] and refs["refs/red.png"]["bytes"] == len(png(RED))
        assert refs[f"s3://{bucket}/refs/green.png"]["via"] == "base64"
        assert refs[f"{base_url}/blue.png"]["via"] == "url"
        assert sim.stats()["calls_total"] == 0

        ran = run_haoee("run", str(path), "--json", "--date", DAY, env=env)
        assert ran.returncode == 0, ran.stderr[-3000:]
        result = json.loads(ran.stdout)
        assert (result["done"], result["paid_calls"]) == (3, 3)
        assert sim.stats()["billable_generations"] == 3
        # Each output carries its reference's colour: the simulator got and used the image.
        assert output_colours(client, bucket, result) == {"file": "r", "object": "g", "url": "b"}

        manifest = json.loads(
            client.get_object(Bucket=bucket, Key=result["manifest_key"])["Body"].read()
        )
        by_prompt = {e["prompt_id"]: e for e in manifest["items"]}
        assert by_prompt["file"]["references"][0]["sha256"] == refs["refs/red.png"]["sha256"]
        assert "binary_data_base64" not in json.dumps(by_prompt["file"]["references"])
        assert png(RED).hex()[:32] not in json.dumps(manifest)

        table = run_haoee("run", str(path), "--date", DAY, env=env)  # the rerun
        assert table.returncode == 0, table.stderr[-3000:]
        assert "3 already stored, 0 paid call(s)" in table.stdout
        assert f"reference refs/red.png (file, via base64): {len(png(RED))} bytes" in table.stdout
        assert sim.stats()["billable_generations"] == 3
        print(table.stdout)

        (tmp_path / "refs" / "red.png").write_bytes(png((230, 40, 40)))  # the file changes
        again = json.loads(run_haoee("run", str(path), "--json", "--date", DAY, env=env).stdout)
        assert (again["done"], again["paid_calls"]) == (3, 1)
        stats = sim.stats()
        assert stats["billable_generations"] == 4 and stats["duplicates"] == 0
        print(json.dumps({"rerun_billable": 3, "changed_file_billable": 4, **stats}))


def test_presigned_links_fetched_from_loopback_and_rerun_pays_nothing(
    env: dict[str, str],
    sim: Any,
    s3_bucket: Any,
    tmp_path: Path,
) -> None:
    bucket = s3_bucket.bucket_name
    client = s3_bucket.credentials.get_s3_client()
    client.put_object(Bucket=bucket, Key="brand/green.png", Body=png(GREEN))
    prompts = [{"id": "linked", "prompt": "the hero", "images": [f"s3://{bucket}/brand/green.png"]}]
    path = campaign_file(
        tmp_path, prompts, bucket=bucket, name="refs-presigned", references={"via": "presigned"}
    )
    first = json.loads(run_haoee("run", str(path), "--json", "--date", DAY, env=env).stdout)
    assert (first["done"], first["paid_calls"]) == (1, 1)
    assert output_colours(client, bucket, first) == {"linked": "g"}
    manifest = client.get_object(Bucket=bucket, Key=first["manifest_key"])["Body"].read()
    assert b"X-Amz-Signature" not in manifest and b"presigned" in manifest
    # A new run makes a new link; the content (and so the request) is the same.
    client.delete_object(Bucket=bucket, Key=first["manifest_key"])
    for row in first["items"]:
        client.delete_object(Bucket=bucket, Key=row["s3_key"])
    second = json.loads(run_haoee("run", str(path), "--json", "--date", DAY, env=env).stdout)
    assert second["items"][0]["s3_key"] == first["items"][0]["s3_key"]  # named by hash
    assert sim.stats()["billable_generations"] == 1  # same content, new link: nothing paid


BROKEN = {
    "missing file": ({"images": ["gone.png"]}, "prompts[0].images[0]", "file not found"),
    "not an image": ({"images": ["text.png"]}, "prompts[0].images[0]", "not an image"),
    "too large": ({"images": ["huge.png"]}, "prompts[0].images[0]", "limit of 4700000 bytes"),
    "wrong count": ({"images": ["ok.png", "ok.png"]}, "prompts[0].images", "exactly 1"),
    "unknown bucket": (
        {"images": ["s3://no-such-bucket-refs/a.png"]},
        "prompts[0].images[0]",
        "does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_references_exit_2_and_call_nothing(
    case: str,
    env: dict[str, str],
    sim: Any,
    s3_bucket: Any,
    tmp_path: Path,
) -> None:
    extra, where, rule = BROKEN[case]
    (tmp_path / "ok.png").write_bytes(png(RED))
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "huge.png").write_bytes(noisy_png(1300))
    path = campaign_file(
        tmp_path, [{"id": "p", "prompt": "x", **extra}], bucket=s3_bucket.bucket_name
    )
    commands = [["run", str(path)], ["plan", str(path), "--json"]]
    commands.append(["validate", str(path), "--check-objects"])
    if case != "unknown bucket":
        commands.append(["validate", str(path)])
    else:  # without --check-objects, validate does not reach S3
        assert run_haoee("validate", str(path), env=env).returncode == 0
    for command in commands:
        out = run_haoee(*command, env=env)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        text = out.stdout + out.stderr
        assert where in text and rule in text, text
    assert sim.stats()["calls_total"] == 0
