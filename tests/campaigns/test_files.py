"""The safe reader of files a campaign names (``prefect_haoee.campaigns.files``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_haoee.campaigns.files import (
    CampaignFileError,
    excerpt,
    read_campaign_file,
    read_regular_file,
    resolve_campaign_path,
    scrub_secrets,
)

SECRET = "sk-unit-9Hq2Lx7Vb4Nc"


def test_a_file_inside_the_root_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    data = read_campaign_file(
        "a.txt", base_dir=tmp_path, roots=[tmp_path], max_bytes=5, what="reference image"
    )
    assert data == b"hello"


def test_the_cap_is_checked_before_reading(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello!")
    with pytest.raises(CampaignFileError, match="has 6 bytes, above the limit of 5 bytes"):
        read_regular_file(tmp_path / "a.txt", max_bytes=5)


def test_a_final_symlink_is_not_followed_by_the_reader(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "a.txt")
    with pytest.raises(CampaignFileError, match="cannot be opened"):
        read_regular_file(tmp_path / "link", max_bytes=5)
    # resolving first (as read_campaign_file does) reads the target, if inside the root
    assert read_campaign_file(
        "link", base_dir=tmp_path, roots=[tmp_path], max_bytes=5, what="file"
    ) == (b"x")


def test_not_found_and_outside_messages_name_the_file_as_written(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match="^CSV file not found: 'nope.csv'$"):
        resolve_campaign_path("nope.csv", base_dir=tmp_path, roots=[tmp_path], what="CSV file")
    with pytest.raises(CampaignFileError, match="outside the allowed directories"):
        resolve_campaign_path("/etc/hostname", base_dir=tmp_path, roots=[tmp_path])
    with pytest.raises(CampaignFileError, match="is in /proc"):
        resolve_campaign_path("/proc/self/environ", base_dir=tmp_path, roots=[Path("/")])


def test_secrets_are_masked_by_any_run_of_8_characters() -> None:
    text = f"a {SECRET} b {SECRET[3:12]} c {SECRET[:7]}"
    out = scrub_secrets(text, [SECRET])
    assert SECRET[:8] not in out and SECRET[3:11] not in out and SECRET[-8:] not in out
    assert out.startswith("a ****") and out.endswith(f"c {SECRET[:7]}")  # 7 is not a leak


def test_the_environment_secrets_are_masked_in_excerpts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_API_TOKEN", SECRET)
    shown = excerpt(f"id={SECRET},prompt\nsecond line")
    assert SECRET[:8] not in shown and "second" not in shown
    assert excerpt("a\x00b\x1b[31m" + "x" * 100).startswith("a?b?[31m")
    assert len(excerpt("y" * 100)) == 40
