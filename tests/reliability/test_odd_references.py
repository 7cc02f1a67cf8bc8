"""Odd reference files, URLs with credentials, big references, and a closed stdout.

Every case is a campaign file (and its references) made in a temp dir, checked with
``haoee validate`` as a user runs it (a child process; validate calls no service), or
loaded in a memory-capped child that reports its own peak RSS (VmHWM):

* a symlink loop, a directory and a name with a NUL byte are "not a regular file", exit 2
  and located; a name with an ESC byte is printed escaped; ``file://`` is told which
  sources are allowed (measured before: exit 1 with ``haoee failed: RuntimeError`` /
  ``IsADirectoryError`` / ``ValueError``, the ESC byte raw on the terminal);
* a URL's password, signature and token never reach a message (before: the password);
* a valid 4096x4096 RGBA PNG within the model's limit is taken; one above it is refused
  with the limit named;
* a reference above the model's per-image limit is refused from its size, unread, and
  the campaign's references together are capped (``HAOEE_REFERENCES_MAX_TOTAL_BYTES``);
* ``haoee models`` into a pipe whose reader is gone exits quietly.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.cli_support import clean_env, haoee, run_haoee
from tests.reliability.support import load_in_child, sparse_png, write_yaml

pytestmark = pytest.mark.reliability

FACE_MODEL = "high_aes_ip_v20"  # one base64 or URL reference; a guessed 4.7 MB limit
MB = 1_000_000


def campaign(prompts: list[dict[str, Any]], model: str = FACE_MODEL) -> dict[str, Any]:
    return {"name": "odd-refs", "model": model, "prompts": prompts, "output": {"bucket": "b-out"}}


def refs(*images: str) -> list[dict[str, Any]]:
    return [{"id": f"p{i}", "prompt": "the same face", "images": [s]} for i, s in enumerate(images)]


def validate(path: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_haoee("validate", str(path), *flags, env=clean_env(tmp_path), timeout=120)


def test_odd_reference_files_exit_2_located_and_printed_escaped(tmp_path: Path) -> None:
    (tmp_path / "loop-a.png").symlink_to("loop-b.png")
    (tmp_path / "loop-b.png").symlink_to("loop-a.png")
    (tmp_path / "folder.png").mkdir()
    esc_name = "red\x1b[31mALERT\x07.png"
    (tmp_path / esc_name).mkdir()  # a directory too: its name reaches the message
    images = ("loop-a.png", "folder.png", "nul\0byte.png", esc_name, "file:///etc/passwd")
    path = write_yaml(tmp_path / "odd.yaml", campaign(refs(*images)))
    for flags in ((), ("--json",)):
        done = validate(path, tmp_path, *flags)
        text = done.stdout + done.stderr
        assert done.returncode == 2, text
        assert "Traceback" not in text and "haoee failed" not in text, text
        assert "\x1b" not in text and "\x07" not in text and "\0" not in text, repr(text)
    problems = {p["path"]: p["message"] for p in json.loads(done.stdout)["problems"]}
    for i in range(3):
        assert "not a regular file" in problems[f"prompts[{i}].images[0]"], problems
    assert "symlink loop" in problems["prompts[0].images[0]"]
    assert "directory" in problems["prompts[1].images[0]"]
    assert "NUL" in problems["prompts[2].images[0]"]
    assert problems["prompts[3].images[0]"].startswith(r"red\x1b[31mALERT\x07.png: not a regular")
    assert (
        "only https:// URLs, s3://bucket/key objects and local paths"
        in (problems["prompts[4].images[0]"])
    )
    plain = validate(path, tmp_path)
    assert r"prompts[3].images[0]: red\x1b[31mALERT\x07.png" in plain.stderr, plain.stderr


def test_a_url_reference_never_shows_its_password_or_token(tmp_path: Path) -> None:
    images = (
        "https://alice:pw-Zq8Vw2Lp5Nx7@cdn.example/ref.png",
        "ftp://bob:pw-Kd4Rt9Mm3Jq1@cdn.example/ref.png?token=tok-Hh6Yy0Bb2Cc4",
    )
    path = write_yaml(tmp_path / "creds.yaml", campaign(refs(*images)))
    for flags in ((), ("--json",)):
        done = validate(path, tmp_path, *flags)
        text = done.stdout + done.stderr
        assert done.returncode == 2, text
        for secret in ("pw-Zq8Vw2Lp5Nx7", "pw-Kd4Rt9Mm3Jq1", "tok-Hh6Yy0Bb2Cc4"):
            assert secret not in text, text
        assert "https://alice:***@cdn.example/ref.png" in text, text
        assert "must not carry credentials" in text


def _rgba_4096(path: Path, noisy_rows: int) -> Path:
    """A valid 4096x4096 RGBA PNG: flat, but for ``noisy_rows`` rows of random pixels
    (which set its size: ~16 kB a row)."""
    image = Image.new("RGBA", (4096, 4096), (10, 20, 30, 200))
    noise = Image.frombytes("RGBA", (4096, noisy_rows), os.urandom(4096 * 4 * noisy_rows))
    image.paste(noise, (0, 0))
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    path.write_bytes(buf.getvalue())
    return path


def test_a_4096_rgba_png_is_taken_within_the_limit_and_a_refusal_names_it(
    tmp_path: Path,
) -> None:
    """docs/gateway.md: inputs up to 4096 px a side; high_aes_ip_v20's page states no byte
    limit, so the guessed 4.7 MB applies, and the refusal says it is that guess."""
    fits = _rgba_4096(tmp_path / "fits.png", 200)  # ~3.3 MB
    over = _rgba_4096(tmp_path / "over.png", 400)  # ~6.6 MB
    assert fits.stat().st_size < 4_700_000 < over.stat().st_size
    for model in (FACE_MODEL, "seededit_v3.0", "jimeng_i2i_v30"):
        ok = write_yaml(tmp_path / "ok.yaml", campaign(refs("fits.png"), model))
        done = validate(ok, tmp_path)
        assert done.returncode == 0, (model, done.stdout + done.stderr)
    path = write_yaml(tmp_path / "over.yaml", campaign(refs("over.png")))
    done = validate(path, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"prompts[0].images[0]: over.png: {over.stat().st_size} bytes, above "
        "high_aes_ip_v20's guessed limit of 4700000 bytes per image"
    ) in done.stderr, done.stderr


def test_references_over_the_model_limit_are_refused_unread(tmp_path: Path) -> None:
    """40 distinct valid 15 MB PNGs (the 即梦4.0 limit, under the 16 MiB read cap) for a
    4.7 MB model: each is refused from its size. Measured before: each read whole and
    kept (~1.3 GB in the child, or out of its 1.5 GB address space)."""
    names = [sparse_png(tmp_path / f"big-{i}.png", 15 * MB, (i, 40, 80)).name for i in range(40)]
    path = write_yaml(tmp_path / "big.yaml", campaign(refs(*names)))
    result = load_in_child(path)
    print(f"\nodd refs: 40 x 15 MB refused at {result['max_rss_kb'] // 1024} MB peak RSS")
    assert result["max_rss_kb"] < 250_000, result["max_rss_kb"]
    assert result["ok"] is False
    messages = {p["path"]: p["message"] for p in result["problems"]}
    assert len(messages) == 40
    assert all("limit of 4700000 bytes per image" in m for m in messages.values()), messages


def test_all_references_together_are_capped(tmp_path: Path) -> None:
    """30 distinct 4.5 MB references (each within the model's limit) with a 40 MB total:
    the ninth and later are refused before they are read, naming the setting."""
    names = [sparse_png(tmp_path / f"ref-{i}.png", 4_500_000, (i, 9, 9)).name for i in range(30)]
    path = write_yaml(tmp_path / "many.yaml", campaign(refs(*names)))
    result = load_in_child(path, {"HAOEE_REFERENCES_MAX_TOTAL_BYTES": str(40 * MB)})
    assert result["ok"] is False
    refused = [p for p in result["problems"] if "HAOEE_REFERENCES_MAX_TOTAL_BYTES" in p["message"]]
    assert len(refused) == 30 - 8 == len(result["problems"]), result["problems"]
    assert refused[0]["path"] == "prompts[8].images[0]"
    print(f"\nodd refs: 30 x 4.5 MB, 40 MB total cap: {result['max_rss_kb'] // 1024} MB peak RSS")
    assert result["max_rss_kb"] < 250_000, result


@pytest.mark.parametrize("flags", [(), ("--json",)])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, flags: tuple[str, ...]) -> None:
    """``haoee models | head -1``: the reader is gone before the command writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            haoee("models", *flags),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(tmp_path),
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == "", done.stderr
    assert done.returncode == 141  # as a process SIGPIPE ends: the shell's 128 + 13
