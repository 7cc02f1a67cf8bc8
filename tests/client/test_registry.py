"""The model registry: each adapter declares its models; campaigns and the client ask it."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import httpx
import pytest

from prefect_haoee.client import AsyncHaoeeClient, HaoeeClient, registry
from prefect_haoee.client.catalog import CATALOG
from prefect_haoee.client.errors import TransportError
from prefect_haoee.client.families import FamilyRequest, base, jobs
from prefect_haoee.client.transport import map_httpx_errors


@pytest.mark.parametrize(
    ("name", "family", "kind", "modes"),
    [
        ("high_aes_general_v20_L", "visual", "image", ("sync", "async")),
        ("jimeng_t2i_v40", "visual", "image", ("async",)),
        ("sora-2-pro", "sora", "video", ("async",)),
        ("sora_image", "openai_images", "image", ("sync", "async")),
        ("MiniMax-Hailuo-2.3-Fast", "minimax", "video", ("async",)),
        ("KLING-v2-6", "kling", "video", ("async",)),
        ("chirp-v4", "suno", "music", ("async",)),
        ("doubao-seedream-4-5", "openai_images", "image", ("sync", "async")),
    ],
)
def test_every_family_is_found_by_its_model_names(
    name: str, family: str, kind: str, modes: tuple[str, ...]
) -> None:
    info = registry.resolve_model(name)
    assert info is not None
    assert (info.family, info.kind, info.modes) == (family, kind, modes)


def test_unknown_names_and_prices() -> None:
    assert registry.resolve_model("no-such-model") is None
    assert registry.resolve_model("sora-2").default_price == 2.0  # type: ignore[union-attr]
    assert registry.resolve_model("high_aes").default_price == 0.14  # type: ignore[union-attr]
    assert set(registry.examples()) == {
        "sora-2",
        "MiniMax-Hailuo-2.3-Fast",
        "kling-v2-6",
        "chirp-v4",
        "nano-banana",
    }


def test_the_visual_family_follows_the_live_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CATALOG, "made_up_v1", CATALOG["high_aes"])
    info = registry.resolve_model("made_up_v1")
    assert info is not None and info.family == "visual"


def test_a_new_family_needs_only_its_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))

    class EchoRequest(FamilyRequest):
        family: ClassVar[Any] = "echo"
        kind: ClassVar[Any] = "music"
        prompt: str

    class EchoAdapter(base.FamilyAdapter):
        request_types = (EchoRequest,)
        submit_path = "/echo/submit"
        poll_path = "/echo/{job_id}"
        model_patterns = (r"^echo-\d+$",)
        price = 0.01

    adapter = EchoAdapter()
    info = registry.resolve_model("echo-7")
    assert info is not None and (info.family, info.kind, info.default_price) == (
        "echo",
        "music",
        0.01,
    )
    assert jobs.adapter_named("echo") is adapter
    call = jobs.submit_call(EchoRequest(prompt="hi"))
    assert (call.method, call.path, call.json, call.paid) == (
        "POST",
        "/echo/submit",
        {"prompt": "hi"},
        True,
    )


def test_unknown_family_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        jobs.adapter_named("nope")


def test_sync_and_async_clients_offer_the_same_calls() -> None:
    names = [
        "generate",
        "submit",
        "get_result",
        "wait",
        "generate_images",
        "submit_job",
        "get_job",
        "wait_job",
        "wait_generation",
        "download",
        "download_media",
    ]
    for name in names:
        sync, aio = getattr(HaoeeClient, name), getattr(AsyncHaoeeClient, name)
        assert inspect.iscoroutinefunction(aio) and not inspect.iscoroutinefunction(sync)
        assert sync.__doc__ and sync.__doc__ == aio.__doc__ or name.startswith("download")


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.PoolTimeout("pool"), False),
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("dropped"), True),
    ],
)
def test_httpx_errors_are_mapped_at_the_boundary(exc: httpx.HTTPError, sent: bool) -> None:
    with pytest.raises(TransportError) as caught, map_httpx_errors(lambda t: t.replace("e", "*")):
        raise exc
    assert caught.value.request_sent is sent
    assert type(exc).__name__.replace("e", "*") in caught.value.message
