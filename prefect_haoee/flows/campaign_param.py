"""A campaign as a flow-run parameter: by reference, never by value.

Prefect stores every flow run's parameters in its database and refuses more than 512 KB
of them; a campaign of 5,000 prompts is about 1 MB as JSON. So what reaches the server is
small and the same size whatever the campaign holds:

* a campaign file's path (deployments, ``haoee serve``): the flow loads and checks it;
* a ``Campaign`` object given in Python (``run_campaign(spec)``, ``haoee run``): the run
  gets the object itself, in this process; the server keeps only its summary (name,
  source, sha256 of its JSON, prompt count), which is what the UI's Parameters tab shows;
* to a run in another process (the shards of a sharded run): ``s3://bucket/key`` of the
  campaign's JSON, stored once per content under ``.haoee-campaigns/`` in the output
  bucket (the key names its sha256; the reader checks it and the size cap).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import ClientError
from prefect import Flow
from prefect_aws.s3 import S3Bucket
from pydantic import BaseModel, ValidationError

from prefect_haoee.campaigns import Campaign
from prefect_haoee.campaigns.references import ReferenceReader
from prefect_haoee.tasks.storage import full_key, s3_client

STORED_FOLDER = ".haoee-campaigns"
STORED_MAX_BYTES = 64 * 1024 * 1024
"""The largest stored campaign read back (a campaign file is capped far below this)."""


class CampaignReferenceError(ValueError):
    """A campaign reference that does not lead to the campaign it names."""


class _Stored(BaseModel):
    """A stored campaign: the campaign, its source (for messages) and the folder its local
    reference files are relative to (the same path on every worker)."""

    source: str
    base_dir: str
    campaign: Campaign


def campaign_json(spec: Campaign) -> bytes:
    stored = _Stored(source=spec.source, base_dir=str(spec.reader.base_dir), campaign=spec)
    return stored.model_dump_json().encode()


def summary(spec: Campaign) -> dict[str, Any]:
    """What the server keeps of a campaign given as an object (a few hundred bytes)."""
    return {
        "campaign": spec.name,
        "source": spec.source,
        "sha256": hashlib.sha256(campaign_json(spec)).hexdigest(),
        "prompts": len(spec.prompts),
        "note": "given as a Campaign object in Python: the run holds it in memory",
    }


P = ParamSpec("P")
R = TypeVar("R")


class CampaignFlow(Flow[P, R]):
    """A flow whose ``Campaign`` parameters reach the server as their :func:`summary`
    (``Flow.serialize_parameters`` is what every run's creation calls)."""

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        plain = {k: v for k, v in parameters.items() if not isinstance(v, Campaign)}
        out = super().serialize_parameters(plain)
        for name, value in parameters.items():
            if isinstance(value, Campaign):
                out[name] = summary(value)
        return {name: out[name] for name in parameters if name in out}

    def with_options(self, **options: Any) -> CampaignFlow[P, R]:
        """``Flow.with_options`` builds a plain ``Flow``: keep this class (it adds no
        state, so the copy is re-classed as it is), or ``run_campaign.with_options(
        task_runner=...)`` would send a ``Campaign`` by value again."""
        copy = super().with_options(**options)
        copy.__class__ = CampaignFlow
        return copy  # type: ignore[return-value]


def campaign_flow(**options: Any) -> Callable[[Callable[P, R]], CampaignFlow[P, R]]:
    """``@flow(**options)`` that makes a :class:`CampaignFlow`."""

    def make(fn: Callable[P, R]) -> CampaignFlow[P, R]:
        return CampaignFlow(fn=fn, **options)

    return make


def store_campaign(bucket: S3Bucket, spec: Campaign) -> str:
    """``s3://bucket/key`` of ``spec``'s JSON in the bucket (written when not there yet)."""
    data = campaign_json(spec)
    digest = hashlib.sha256(data).hexdigest()
    key = full_key(bucket, f"{STORED_FOLDER}/{digest}.json")
    client = s3_client(bucket)
    try:
        client.head_object(Bucket=bucket.bucket_name, Key=key)
    except ClientError:
        client.put_object(
            Bucket=bucket.bucket_name, Key=key, Body=data, ContentType="application/json"
        )
    return f"s3://{bucket.bucket_name}/{key}"


def is_stored_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith("s3://")


def load_stored_campaign(bucket: S3Bucket, uri: str) -> Campaign:
    """The campaign :func:`store_campaign` wrote at ``uri``; CampaignReferenceError when it
    is missing, too large, not the content its key names, or not a campaign."""
    name, _, key = uri.removeprefix("s3://").partition("/")
    digest = key.rsplit("/", 1)[-1].removesuffix(".json")
    if name != bucket.bucket_name or len(digest) != 64 or f"{STORED_FOLDER}/" not in key:
        raise CampaignReferenceError(f"{uri}: not a campaign stored in {bucket.bucket_name!r}")
    try:
        answer = s3_client(bucket).get_object(Bucket=name, Key=key)
    except ClientError as exc:
        raise CampaignReferenceError(f"{uri}: cannot read it ({exc})") from None
    body = answer["Body"]
    try:
        data = body.read(STORED_MAX_BYTES + 1)
    finally:
        body.close()
    if len(data) > STORED_MAX_BYTES:
        raise CampaignReferenceError(f"{uri}: over {STORED_MAX_BYTES} bytes")
    if hashlib.sha256(data).hexdigest() != digest:
        raise CampaignReferenceError(f"{uri}: its content is not the one its name holds")
    try:
        doc = _Stored.model_validate_json(data)
    except ValidationError as exc:
        problems = exc.error_count()
        raise CampaignReferenceError(f"{uri}: not a campaign ({problems} problems)") from None
    reader = ReferenceReader(Path(doc.base_dir))
    return doc.campaign.with_source(doc.source).with_reader(reader)
