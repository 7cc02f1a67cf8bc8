"""``produce_media``: one item of another family (OpenAI-style images, video, music).

The same task as ``produce_image`` (:func:`~prefect_haoee.tasks.item_runner.produce_item`,
the one item runner of every kind) without its record cache: S3 first, each paid step
committed on its own (``haoee-job-submit-<hash>``, ``haoee-images-generate-<hash>``) so a
crash resumes by polling, a job the gateway forgot resubmitted once. Video and audio are
streamed into S3 (:mod:`~prefect_haoee.tasks.item_files`), never held whole in memory.
"""

from __future__ import annotations

from prefect.cache_policies import NO_CACHE

from prefect_haoee.tasks.item_files import SPOOL_BYTES
from prefect_haoee.tasks.produce import produce_image

__all__ = ["SPOOL_BYTES", "produce_media"]

produce_media = produce_image.with_options(name="haoee-produce-media", cache_policy=NO_CACHE)
"""Generate (images) or submit and wait (images, video, music), then store in S3; the
record of the first file (``extra_keys`` names the rest)."""
