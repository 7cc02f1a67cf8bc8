"""Prefect tasks for the Haoee gateway: submit, wait, generate, download, upload, produce."""

from prefect_haoee.tasks.gateway import generate_image, submit_generation, wait_for_generation
from prefect_haoee.tasks.item_runner import produce_item
from prefect_haoee.tasks.media import produce_media
from prefect_haoee.tasks.produce import produce_image
from prefect_haoee.tasks.records import ImageRecord, StoredObject
from prefect_haoee.tasks.storage import download_image, upload_image_to_s3

__all__ = [
    "ImageRecord",
    "StoredObject",
    "download_image",
    "generate_image",
    "produce_image",
    "produce_item",
    "produce_media",
    "submit_generation",
    "upload_image_to_s3",
    "wait_for_generation",
]
