"""Reference images, unit level: reading once, caps, Pillow checks, located problems, identity."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from prefect_haoee.campaigns import CampaignError, expand, load_campaign
from prefect_haoee.campaigns import references as refs_module
from prefect_haoee.campaigns.references import ReferenceProblem, ReferenceReader, read_local_file
from tests.references.support import BLUE, GREEN, RED, campaign_file, noisy_png, png

DAY = date(2026, 12, 2)


def problems(path: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        load_campaign(path, **kwargs)
    return [str(p) for p in caught.value.problems]


def test_a_reference_is_read_once_for_every_prompt_and_variant(tmp_path: Path) -> None:
    (tmp_path / "face.png").write_bytes(png(RED))
    prompts = [
        {"id": "a", "prompt": "hiking", "images": ["face.png"], "variants": 3},
        {"id": "b", "prompt": "surfing", "variants": 2},  # the campaign's default
    ]
    path = campaign_file(tmp_path, prompts, images=["./face.png"])
    campaign = load_campaign(path)
    items = expand(campaign, DAY)
    assert len(items) == 5 and campaign.reader.reads == 1
    shared = {id(item.request.binary_data_base64[0]) for item in items}  # type: ignore[union-attr,index]
    assert len(shared) == 1  # one string in memory, however many items use it
    ref = items[0].references[0]
    assert ref["source"] == "face.png" and ref["via"] == "base64" and ref["format"] == "PNG"
    assert items[3].references[0]["source"] == "./face.png"
    assert ref["sha256"] == items[3].references[0]["sha256"]


def test_identity_is_the_content_not_the_path(tmp_path: Path) -> None:
    (tmp_path / "one.png").write_bytes(png(RED))
    (tmp_path / "two.png").write_bytes(png(RED))
    (tmp_path / "other.png").write_bytes(png(GREEN))
    prompt = {"id": "a", "prompt": "hiking", "seed": 5}
    hashes = []
    for name in ("one.png", "two.png", "other.png"):
        path = campaign_file(tmp_path, [{**prompt, "images": [name]}])
        item = expand(load_campaign(path), DAY)[0]
        assert name not in item.request.canonical_json()
        assert item.request.binary_data_base64[0] not in item.request.canonical_json()  # type: ignore[union-attr,index]
        hashes.append(item.request_hash)
    assert hashes[0] == hashes[1] != hashes[2]


def test_problems_are_located_and_name_the_rule(tmp_path: Path) -> None:
    (tmp_path / "face.png").write_bytes(png(RED))
    (tmp_path / "notes.png").write_bytes(b"this is text, not an image")
    (tmp_path / "huge.png").write_bytes(noisy_png(1300))  # ~5 MB > 4.7 MB of high_aes_ip_v20
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(png(RED))
    prompts = [
        {"id": "missing", "prompt": "x", "images": ["nope.png"]},
        {"id": "text", "prompt": "x", "images": ["notes.png"]},
        {"id": "big", "prompt": "x", "images": ["huge.png"]},
        {"id": "two", "prompt": "x", "images": ["face.png", "face.png"]},
        {"id": "escape", "prompt": "x", "images": [f"../{outside.name}"]},
        {"id": "http", "prompt": "x", "images": ["http://example.com/a.png"]},
        {"id": "mixed", "prompt": "x", "images": ["face.png", "https://example.com/a.png"]},
    ]
    path = campaign_file(tmp_path, prompts)
    found = problems(path)
    where = {line.split(": ")[1]: line for line in found}
    assert "file not found" in where["prompts[0].images[0]"]
    assert "not an image" in where["prompts[1].images[0]"]
    assert "high_aes_ip_v20's guessed limit of 4700000 bytes" in where["prompts[2].images[0]"]
    assert "exactly 1 input image" in where["prompts[3].images"]
    assert "outside the campaign file's folder" in where["prompts[4].images[0]"]
    assert "https://" in where["prompts[5].images[0]"]
    assert "not both" in where["prompts[6].images"] or "only URLs" in where["prompts[6].images"]
    assert all(line.startswith(f"{path}: ") for line in found)


def test_size_is_capped_before_the_file_is_read(tmp_path: Path) -> None:
    big = tmp_path / "sparse.png"
    with big.open("wb") as handle:
        handle.truncate(refs_module.READ_CAP_BYTES + 1)  # sparse: nothing to read
    with pytest.raises(ReferenceProblem, match="above the"):
        read_local_file(big, refs_module.READ_CAP_BYTES)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ReferenceProblem, match="not a regular file"):
        read_local_file(fifo, 100)  # would block forever if opened for a plain read


def test_csv_column_and_campaign_default(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png(RED))
    (tmp_path / "b.png").write_bytes(png(BLUE))
    (tmp_path / "rows.csv").write_text(
        "id,prompt,model,images\n"
        "r1,first,jimeng_i2i_v30,a.png\n"
        "r2,second,i2i_inpainting_edit,a.png; b.png\n"
        "r3,third,,\n"
    )
    path = campaign_file(tmp_path, [{"from_csv": "rows.csv"}], images=["b.png"])
    items = {item.prompt_id: item for item in expand(load_campaign(path), DAY)}
    assert [r["source"] for r in items["r1"].references] == ["a.png"]
    assert [r["source"] for r in items["r2"].references] == ["a.png", "b.png"]
    assert [r["source"] for r in items["r3"].references] == ["b.png"]  # the default
    broken = tmp_path / "rows.csv"
    broken.write_text("id,prompt,images\nr1,first,gone.png\n")
    assert any(f"{broken}: row 2, column images [0]:" in p for p in problems(path))


def test_validate_reads_s3_only_when_asked(tmp_path: Path) -> None:
    path = campaign_file(tmp_path, [{"id": "a", "prompt": "x", "images": ["s3://no-bucket/a.png"]}])

    def no_s3() -> object:
        raise AssertionError("S3 was contacted")

    campaign = load_campaign(path, check_objects=False)
    assert campaign.reader.deferred == {"s3://no-bucket/a.png"}
    with pytest.raises(ValueError, match="without reading its S3 references"):
        from prefect_haoee.campaigns import make_plan

        make_plan(campaign, DAY)
    reader = ReferenceReader(tmp_path, s3_client=no_s3, read_objects=False)
    assert reader.load("s3://no-bucket/a.png").sha256 is None


def test_presigned_links_are_not_the_identity(tmp_path: Path) -> None:
    from prefect_haoee.client.requests import REQUEST_CLASSES, parse_request
    from prefect_haoee.client.requests.rules import WireImage

    digest = "sha256:" + "ab" * 32
    bodies = []
    links = (
        "https://s3.example/a.png?X-Amz-Signature=1",
        "https://s3.example/a.png?X-Amz-Signature=2",
    )
    for link in links:
        image = WireImage(base64="aGk=", url=link, sha256=digest)
        fields = REQUEST_CLASSES["high_aes_ip_v20"].reference_fields([image])
        request = parse_request({"req_key": "high_aes_ip_v20", "prompt": "x", "seed": 1, **fields})
        assert link not in request.canonical_json() and link in json.dumps(request.to_body())
        assert "image_digests" not in request.to_body()
        bodies.append(request.request_hash)
    assert bodies[0] == bodies[1]


@pytest.mark.integration
def test_s3_objects_are_capped_by_head_before_the_get(
    s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="refs-cap")
    client.put_object(Bucket="refs-cap", Key="big.png", Body=png(RED, (256, 256)))
    client.put_object(Bucket="refs-cap", Key="small.png", Body=png(RED))
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> object:
            calls.append(name)
            return getattr(client, name)

    monkeypatch.setattr(refs_module, "READ_CAP_BYTES", len(png(RED)) + 10)
    reader = ReferenceReader(tmp_path, s3_client=Counting)
    with pytest.raises(ReferenceProblem, match="above the"):
        reader.load("s3://refs-cap/big.png")
    assert calls == ["head_object"]  # refused before any byte was fetched
    assert reader.load("s3://refs-cap/small.png").bytes == len(png(RED))
    with pytest.raises(ReferenceProblem, match="not found"):
        reader.load("s3://refs-cap/missing.png")
    with pytest.raises(ReferenceProblem, match="does not exist"):
        reader.load("s3://no-such-refs-bucket/a.png")
    assert reader.reads == 4 and reader.load("s3://refs-cap/small.png").sha256
    assert reader.reads == 4  # cached, problems included
    with pytest.raises(ReferenceProblem):
        reader.load("s3://refs-cap/big.png")
    assert calls.count("head_object") == 4
