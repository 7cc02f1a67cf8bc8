"""The distributed suite's cluster: servers, two workers, campaigns, runs and ledgers."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from tests.distributed.services import BIN, Service, base_env, start_worker, wait_for
from tests.support import SIM_KEY

POOL = "haoee-dist"
RESULTS_BLOCK = "haoee-dist-results"
WORKERS: dict[str, tuple[list[str], int]] = {
    # name: (work queues, flow runs at a time). Placement is fixed so that every scenario
    # spans both "machines": a campaign's parent run goes to queue "coord" (worker-a
    # only), and then each worker has exactly one free slot for a shard; "qa"/"qb" pin one
    # deployment to each worker.
    "worker-a": (["default", "qa", "coord"], 2),
    "worker-b": (["default", "qb"], 1),
}
PREFETCH_S = 20
"""Workers start a scheduled run this long before its time (so runs can start together)."""
MODEL = "high_aes_general_v20_L"
"""A sync model: one billable CVProcess call per image, so calls == images."""


def campaign_yaml(
    name: str, bucket: str, prompts: int, *, variants: int = 2, qps: float = 5, concurrency: int = 3
) -> str:
    """``prompts`` x ``variants`` images; explicit seeds, so two campaigns with the same
    prompts share request hashes (and so their paid calls)."""
    lines = [
        f"name: {name}",
        f"model: {MODEL}",
        "params: {width: 512, height: 512}",
        f"variants: {variants}",
        "prompts:",
    ]
    for index in range(prompts):
        lines += [f"  - id: p{index:02d}", f'    prompt: "a red running shoe, view {index}"']
        lines += [f"    seed: {1000 + 10 * index}"]
    lines += ["output:", f"  bucket: {bucket}", "budget:", f"  max_images: {prompts * variants}"]
    lines += [f"concurrency: {concurrency}", f"qps: {qps}"]
    return "\n".join(lines) + "\n"


@dataclass
class Ledger:
    """What the simulator billed since its last reset."""

    billable: int
    distinct: int
    duplicates: int
    peak_qps: int
    peak_concurrency: int
    by_hash: Counter[str]

    def as_dict(self) -> dict[str, int]:
        return {
            "billable": self.billable,
            "distinct": self.distinct,
            "duplicates": self.duplicates,
            "peak_qps": self.peak_qps,
            "peak_concurrency": self.peak_concurrency,
        }


@dataclass
class Cluster:
    root: Path
    api: str
    redis_url: str
    s3: str
    sim: Any
    pool: str = POOL
    results_bucket: str = "haoee-dist-results"
    bucket: str = ""
    workers: dict[str, Service] = field(default_factory=dict)
    must_live: set[str] = field(default_factory=lambda: {"worker-a", "worker-b"})

    # -- set-up ------------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, api: str, redis_url: str, s3: str, sim: Any) -> Cluster:
        cluster = cls(root, api, redis_url, s3, sim)
        cluster.s3_client().create_bucket(Bucket=cluster.results_bucket)
        with cluster.api_settings():
            from prefect.client.orchestration import get_client
            from prefect.client.schemas.actions import WorkPoolCreate

            cluster.results_block().save(RESULTS_BLOCK, overwrite=True)
            with get_client(sync_client=True) as client:
                client.create_work_pool(
                    WorkPoolCreate(name=cluster.pool, type="process"), overwrite=True
                )
                for queue in ("qa", "qb", "coord"):
                    client.create_work_queue(queue, work_pool_name=cluster.pool)
        return cluster

    def start_worker(self, name: str) -> None:
        home = self.root / name
        (home / "locks").mkdir(parents=True, exist_ok=True)
        env = base_env(home, **self.worker_env(home))
        queues, limit = WORKERS[name]
        self.workers[name] = start_worker(name, self.pool, self.root, env, queues, limit)

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.s3,
        }

    def worker_env(self, home: Path) -> dict[str, str]:
        """What a worker machine is configured with (and its flow runs inherit)."""
        return {
            "PREFECT_API_URL": self.api,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": str(PREFETCH_S),
            "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": f"s3-bucket/{RESULTS_BLOCK}",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "HAOEE_API_KEY": SIM_KEY,
            "HAOEE_BASE_URL": self.sim.base_url,
            "HAOEE_BACKOFF_BASE": "0.05",
            "HAOEE_BACKOFF_MAX": "0.3",
            "HAOEE_RETRY_AFTER_MAX": "1.5",
            "HAOEE_LOCK_DIR": str(home / "locks"),
            "HAOEE_LOCK_URL": self.redis_url,
            **self.aws_env(),
        }

    def cli_env(self) -> dict[str, str]:
        home = self.root / "cli-home"
        home.mkdir(exist_ok=True)
        return base_env(home, **self.worker_env(home))

    @contextmanager
    def api_settings(self) -> Iterator[None]:
        """This test process talks to the cluster's server (and its S3) meanwhile."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        saved = {k: os.environ.get(k) for k in self.aws_env()}
        os.environ.update(self.aws_env())
        try:
            with temporary_settings({PREFECT_API_URL: self.api}):
                yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def s3_client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def results_block(self, bucket: str | None = None) -> Any:
        from prefect_aws import AwsClientParameters, AwsCredentials
        from prefect_aws.s3 import S3Bucket

        credentials = AwsCredentials(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
            aws_client_parameters=AwsClientParameters(endpoint_url=self.s3),
        )
        return S3Bucket(bucket_name=bucket or self.results_bucket, credentials=credentials)

    def new_output_bucket(self, name: str) -> None:
        self.s3_client().create_bucket(Bucket=name)
        self.bucket = name

    def forget_committed_steps(self, name: str) -> None:
        """A new result storage bucket behind the same block name (workers load the block
        at each run), and an empty Redis: a scenario never reuses another's paid steps
        (whose image URLs died with the simulator's reset)."""
        import redis

        self.s3_client().create_bucket(Bucket=name)
        self.results_bucket = name
        with self.api_settings():
            self.results_block().save(RESULTS_BLOCK, overwrite=True)
        with redis.Redis.from_url(self.redis_url) as db:
            db.flushdb()

    # -- workers -----------------------------------------------------------------------

    def wait_workers_online(self, names: list[str] | None = None, timeout: float = 120) -> None:
        wanted = set(names or self.workers)

        def online() -> bool:
            for name in wanted:
                if not self.workers[name].alive():
                    raise RuntimeError(f"{name} exited:\n{self.workers[name].tail()}")
            with self.api_settings():
                from prefect.client.orchestration import get_client

                with get_client(sync_client=True) as client:
                    workers = client.read_workers_for_work_pool(self.pool)
            return wanted <= {w.name for w in workers if w.status.value == "ONLINE"}

        wait_for(online, "workers online", timeout, interval=0.5)

    def restart_worker(self, name: str) -> None:
        self.start_worker(name)
        self.wait_workers_online([name])

    def set_queue(self, deployment: str, queue: str) -> None:
        """Pin a deployment to a work queue (see ``WORKERS``)."""
        with self.api_settings():
            from prefect.client.orchestration import get_client
            from prefect.client.schemas.actions import DeploymentUpdate

            with get_client(sync_client=True) as client:
                found = client.read_deployment_by_name(deployment)
                client.update_deployment(found.id, DeploymentUpdate(work_queue_name=queue))

    def runs_in(self, pids: list[int]) -> list[Any]:
        """Unfinished flow runs whose process is one of ``pids``."""
        wanted = set(pids)
        out = []
        for run in self.read_runs():
            if run.state is None or run.state.is_final() or not run.infrastructure_pid:
                continue
            if int(str(run.infrastructure_pid).rsplit(":", 1)[-1]) in wanted:
                out.append(run)
        return out

    def mark_crashed(self, runs: list[Any]) -> None:
        """What Prefect's worker does when a flow run's process dies - done here because
        the worker died with it (in production: an operator, or a zombie-run automation)."""
        from prefect.states import Crashed

        with self.api_settings():
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                for run in runs:
                    client.set_flow_run_state(
                        run.id, Crashed(message="its worker was killed"), force=True
                    )

    def active_slots(self, limit: str) -> int:
        with self.api_settings():
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                return int(client.read_global_concurrency_limit_by_name(limit).active_slots)

    def redis_keys(self) -> dict[str, int]:
        """Every Redis key with its time to live in ms (-1: never expires)."""
        import redis

        with redis.Redis.from_url(self.redis_url) as db:
            return {key.decode(): int(db.pttl(key)) for key in db.scan_iter()}

    def committed_generations(self) -> set[str]:
        """Request hashes whose paid ``generate`` step is committed to result storage."""
        client = self.s3_client()
        out: set[str] = set()
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.results_bucket, Prefix="haoee-generate-"
        )
        for page in pages:
            out |= {o["Key"].removeprefix("haoee-generate-") for o in page.get("Contents", [])}
        return out

    # -- campaigns and runs --------------------------------------------------------------

    def write_campaigns(self, folder: str, texts: dict[str, str]) -> Path:
        directory = self.root / folder
        directory.mkdir(parents=True, exist_ok=False)
        for name, text in texts.items():
            (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
        return directory

    def haoee(self, *args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(BIN / "haoee"), *(str(a) for a in args)],
            env=self.cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        output = f"{done.stdout}\n{done.stderr}"
        assert done.returncode == 0, f"haoee {args} -> {done.returncode}\n{output}"
        return done

    def start_runs(
        self,
        deployments: list[str],
        parameters: dict[str, Any] | None = None,
        in_seconds: float = 0.0,
    ) -> list[UUID]:
        """One flow run of each deployment (``flow/deployment``).

        ``in_seconds``: all of them scheduled for the same moment. The workers pick them
        up early (prefetch) and Prefect's engine holds each run until its scheduled time,
        so the runs start together however long each process took to spawn.
        """
        from datetime import datetime, timedelta, timezone

        from prefect.states import Scheduled

        at = datetime.now(timezone.utc) + timedelta(seconds=in_seconds)
        with self.api_settings():
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                ids = []
                for name in deployments:
                    deployment = client.read_deployment_by_name(name)
                    run = client.create_flow_run_from_deployment(
                        deployment.id,
                        parameters=parameters or {},
                        state=Scheduled(scheduled_time=at) if in_seconds else None,
                    )
                    ids.append(run.id)
                return ids

    def read_runs(self, ids: list[UUID] | None = None) -> list[Any]:
        with self.api_settings():
            from prefect.client.orchestration import get_client
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

            with get_client(sync_client=True) as client:
                if ids is None:
                    return list(client.read_flow_runs(limit=200))
                flt = FlowRunFilter(id=FlowRunFilterId(any_=ids))
                return list(client.read_flow_runs(flow_run_filter=flt, limit=200))

    def wait_final(self, ids: list[UUID], timeout: float = 150) -> list[Any]:
        def final() -> list[Any] | None:
            runs = self.read_runs(ids)
            if len(runs) == len(ids) and all(r.state and r.state.is_final() for r in runs):
                return runs
            return None

        try:
            return wait_for(final, "flow runs final", timeout, interval=0.5)
        except TimeoutError:
            states = [(r.name, r.state_name) for r in self.read_runs(ids)]
            logs = "\n".join(w.tail(3000) for w in self.workers.values())
            raise AssertionError(f"runs not final: {states}\n{logs}") from None

    def wait_billed(self, count: int, timeout: float = 120) -> None:
        wait_for(
            lambda: self.sim.stats()["billable_generations"] >= count,
            f"{count} billed generations",
            timeout,
            interval=0.05,
        )

    # -- what happened -------------------------------------------------------------------

    def ledger(self) -> Ledger:
        stats = self.sim.stats()
        by_hash = Counter(entry["hash"] for entry in self.sim.ledger())
        return Ledger(
            billable=stats["billable_generations"],
            distinct=len(by_hash),
            duplicates=stats["duplicates"],
            peak_qps=stats["peak_qps"],
            peak_concurrency=stats["concurrency_peak"],
            by_hash=by_hash,
        )

    def stored_images(self, prefix: str = "") -> dict[str, str]:
        """Image key -> the request hash in its metadata, for the output bucket."""
        client = self.s3_client()
        out: dict[str, str] = {}
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith(".json") or "/thumbs/" in key:  # manifests, gallery thumbnails
                    continue
                head = client.head_object(Bucket=self.bucket, Key=key)
                out[key] = head["Metadata"].get("request-hash", "")
        return out

    def manifest(self, key: str) -> dict[str, Any]:
        import json

        body = self.s3_client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        data: dict[str, Any] = json.loads(body)
        return data


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 1)
