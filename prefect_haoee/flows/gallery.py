"""The gallery artifact of a run: a grid of thumbnails with the facts under each.

Each image of the gallery gets a thumbnail, a JPEG at most ``THUMB_PX`` on its longer side
made with Pillow and stored next to the image (``{folder}/thumbs/{name}.jpg``; a rerun
reuses it). The grid is a Markdown table, ``COLUMNS`` wide: a row of thumbnails, each
linking to its full image, then a row of facts (prompt, variant, size, format and the
object's file name, shortened so that a long S3 key cannot overflow the page; the full
key is the link's title). The Prefect UI renders Markdown tables but no HTML, so the grid
is built of table rows only. A thumbnail that cannot be made (a file too big or not an
image, an S3 error) leaves a text link in its cell; the run is not failed for it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, UnidentifiedImageError
from prefect_aws.s3 import S3Bucket

from prefect_haoee.campaigns import WorkItem
from prefect_haoee.tasks.records import ImageRecord
from prefect_haoee.tasks.storage import s3_client

logger = logging.getLogger("prefect_haoee.flows")

GALLERY_MAX = 60
COLUMNS = 3
THUMB_PX = 240
THUMB_SOURCE_MAX_BYTES = 32 * 1024 * 1024
"""Images above this are not read back for a thumbnail (their cell links the file)."""
LINK_SECONDS = 7 * 24 * 3600
NAME_CHARS = 12


def thumb_key(key: str) -> str:
    """``a/b/9be8….png`` -> ``a/b/thumbs/9be8….jpg``: next to the image, apart from it."""
    folder, _, name = key.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    return f"{folder}/thumbs/{stem}.jpg" if folder else f"thumbs/{stem}.jpg"


def thumbnail_bytes(image: bytes, size: int = THUMB_PX) -> bytes:
    """A JPEG of ``image`` at most ``size`` px on its longer side (Pillow's pixel cap holds)."""
    with Image.open(io.BytesIO(image)) as opened:
        opened.thumbnail((size, size))
        out = io.BytesIO()
        opened.convert("RGB").save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue()


def ensure_thumbnail(bucket: S3Bucket, record: ImageRecord) -> str | None:
    """The thumbnail's key in the bucket, made and stored when missing; None when it
    cannot be made (logged)."""
    if record.kind != "image" or record.bytes > THUMB_SOURCE_MAX_BYTES:
        return None
    client, name = s3_client(bucket), bucket.bucket_name
    key = thumb_key(record.key)  # a record's key is the object's key in the bucket
    try:
        try:
            client.head_object(Bucket=name, Key=key)
            return key
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        answer = client.get_object(Bucket=name, Key=record.key)
        body = answer["Body"].read(THUMB_SOURCE_MAX_BYTES + 1)
        small = thumbnail_bytes(body)
        client.put_object(Bucket=name, Key=key, Body=small, ContentType="image/jpeg")
    except (BotoCoreError, ClientError, OSError, UnidentifiedImageError, ValueError) as exc:
        logger.warning("no thumbnail for %s: %s", record.key, type(exc).__name__)
        return None
    return key


def presigned(bucket: S3Bucket, key: str) -> str:
    """A link to ``key`` (a key in the bucket) that a browser opens for ``LINK_SECONDS``."""
    url: str = s3_client(bucket).generate_presigned_url(
        "get_object", Params={"Bucket": bucket.bucket_name, "Key": key}, ExpiresIn=LINK_SECONDS
    )
    return url


def short_name(key: str) -> str:
    """``9be89f74ea37….png`` for ``campaigns/x/2027-03-01/9be89f74ea37<52 more>.png``."""
    name = key.rsplit("/", 1)[-1]
    stem, dot, ext = name.partition(".")
    return f"{stem[:NAME_CHARS]}…{dot}{ext}" if len(stem) > NAME_CHARS else name


def _cell(text: str) -> str:
    """Outside text inside a table cell: no pipe or newline ends the cell early."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def gallery_markdown(
    campaign: str,
    bucket: S3Bucket,
    done: Sequence[tuple[WorkItem, ImageRecord]],
    files: int | None = None,
) -> str:
    """The gallery's Markdown: heading, count, then the grid of the first ``GALLERY_MAX``."""
    shown = list(done[:GALLERY_MAX])
    files = len(done) if files is None else files
    lines = [
        f"# {campaign}",
        "",
        f"{files} file(s) in `s3://{bucket.bucket_name}`. Each thumbnail opens its file;"
        " links are presigned for 7 days.",
        "",
    ]
    for start in range(0, len(shown), COLUMNS):
        row = shown[start : start + COLUMNS]
        pictures, facts = [], []
        for item, record in row:
            url = presigned(bucket, record.key)
            label = _cell(item.label)
            thumb = ensure_thumbnail(bucket, record)
            if thumb is not None:
                pictures.append(f"[![{label}]({presigned(bucket, thumb)})]({url})")
            else:
                pictures.append(f"[{record.kind} ({record.format})]({url})")
            size = f"{record.width}x{record.height}" if record.width else ""
            length = f"{record.duration_s:.1f} s" if record.duration_s else ""
            details = " ".join(part for part in (size, record.format, length) if part)
            name = short_name(record.key)
            facts.append(
                f"**{_cell(item.prompt_id)}** v{item.variant} · {details} · "
                f'[`{_cell(name)}`]({url} "{_cell(record.key)}")'
            )
        blank = [""] * (COLUMNS - len(row))
        if start == 0:
            lines += ["| " + " | ".join([" "] * COLUMNS) + " |", "|" + "---|" * COLUMNS]
        lines.append("| " + " | ".join(pictures + blank) + " |")
        lines.append("| " + " | ".join(facts + blank) + " |")
    if files > len(shown):
        lines.append(f"\n... and {files - len(shown)} more (see the table artifact).")
    return "\n".join(lines)
