"""Both documented (and guessed) answer shapes of every family, read by the clients (unit
tests with httpx.MockTransport): submit ids, task objects, file links and error bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from prefect_haoee.client import HaoeeClient, HaoeeSettings, PollPolicy
from prefect_haoee.client.errors import (
    AuthenticationError,
    ContentRejectedError,
    HaoeeError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TaskNotFoundError,
    TransportError,
)
from prefect_haoee.client.families import (
    ImageGenerationRequest,
    JobHandle,
    KlingImage2VideoRequest,
    KlingText2VideoRequest,
    MinimaxVideoRequest,
    SoraVideoRequest,
    SunoCustomRequest,
    SunoInspirationRequest,
)
from prefect_haoee.client.families.base import FamilyRequest

KEY = "sk-variant-0123456789"
BASE = "https://gateway.test"
Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]


class Gateway:
    """Answers each call from a queue per (method, path); records the requests."""

    def __init__(self, routes: dict[tuple[str, str], list[Answer]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes[(request.method, request.url.path)]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        status, body = answer[0], answer[1]
        headers = answer[2] if len(answer) > 2 else {}
        if isinstance(body, (dict, list)):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, content=str(body).encode(), headers=headers)


def make_client(gw: Gateway, sleeps: list[float] | None = None) -> HaoeeClient:
    record = sleeps if sleeps is not None else []
    return HaoeeClient(
        HaoeeSettings(api_key=SecretStr(KEY), base_url=BASE, backoff_base=0.01),
        transport=httpx.MockTransport(gw),
        poll=PollPolicy(initial_interval=0.001, max_interval=0.001, timeout=5),
        sleep=record.append,
    )


def run_job(request: FamilyRequest, routes: dict[tuple[str, str], list[Answer]]) -> Any:
    gw = Gateway(routes)
    with make_client(gw) as client:
        handle = client.submit_job(request)
        return handle, client.wait_job(handle), gw


IMG = ImageGenerationRequest(model="sora_image", prompt="cat", size="1024x1024")
TASK = "3dad96708a77485e97ac7ef652796d7b"


@pytest.mark.parametrize(
    "submit_answer",
    [
        {"task_id": TASK},
        {"code": "success", "message": "", "data": TASK},
        {"code": 0, "data": {"task_id": TASK}},
    ],
    ids=["task_id", "code-message-data", "data-object"],
)
@pytest.mark.parametrize(
    "poll_answer",
    [
        {
            "code": "success",
            "data": {
                "task_id": TASK,
                "status": "SUCCESS",
                "progress": "100%",
                "data": {"created": 1, "data": [{"url": "https://cdn.test/a.png"}]},
            },
        },
        {"task_id": TASK, "status": "completed", "data": [{"url": "https://cdn.test/a.png"}]},
        {"data": {"state": "succeeded", "result": {"image_urls": ["https://cdn.test/a.png"]}}},
    ],
    ids=["gateway-task", "flat-openai", "result-urls"],
)
def test_images_async_variants(submit_answer: Any, poll_answer: Any) -> None:
    handle, state, gw = run_job(
        IMG,
        {
            ("POST", "/v1/images/generations"): [(200, submit_answer)],
            ("GET", f"/v1/images/tasks/{TASK}"): [(200, poll_answer)],
        },
    )
    assert handle.job_id == TASK and handle.variant == "generations"
    assert state.file_urls == ["https://cdn.test/a.png"]
    submit = gw.requests[0]
    assert submit.url.params["async"] == "true"
    assert json.loads(submit.content) == IMG.to_body()
    assert submit.headers["Authorization"] == f"Bearer {KEY}"


def test_images_webhook_goes_in_the_query() -> None:
    gw = Gateway({("POST", "/v1/images/generations"): [(200, {"task_id": TASK})]})
    with make_client(gw) as client:
        client.submit_job(IMG, webhook="https://me.test/hook")
        with pytest.raises(ValueError, match="webhook"):
            client.submit_job(SoraVideoRequest(prompt="x"), webhook="https://me.test/hook")
    assert gw.requests[0].url.params["webhook"] == "https://me.test/hook"


def test_images_task_failure_and_progress() -> None:
    failing = {
        "code": "success",
        "data": {"status": "FAILURE", "fail_reason": "content policy violation"},
    }
    running = {"code": "success", "data": {"status": "IN_PROGRESS", "progress": "45%"}}
    gw = Gateway({("GET", f"/v1/images/tasks/{TASK}"): [(200, running), (200, failing)]})
    handle = JobHandle(
        family="openai_images", kind="image", job_id=TASK, request_hash="h", model="m"
    )
    with make_client(gw) as client:
        first = client.get_job(handle)
        assert first.status == "running" and first.progress == 0.45
        with pytest.raises(ContentRejectedError, match="content policy"):
            client.wait_job(handle)


SORA_ID = "video_123"
SORA = SoraVideoRequest(prompt="a kite", seconds=8, size="1280x720")


@pytest.mark.parametrize(
    ("final", "url"),
    [
        (
            {"id": SORA_ID, "status": "completed", "progress": 100},
            f"{BASE}/v1/videos/{SORA_ID}/content",
        ),
        (
            {"id": SORA_ID, "status": "completed", "video_url": "https://cdn.test/v.mp4"},
            "https://cdn.test/v.mp4",
        ),
        (
            {
                "code": "success",
                "data": {"id": SORA_ID, "status": "completed", "url": "https://cdn.test/w.mp4"},
            },
            "https://cdn.test/w.mp4",
        ),
    ],
    ids=["content-endpoint", "video_url", "enveloped"],
)
def test_sora_variants(final: dict[str, Any], url: str) -> None:
    created = {"id": SORA_ID, "object": "video", "status": "queued", "progress": 0}
    running = {"id": SORA_ID, "status": "in_progress", "progress": 40}
    handle, state, gw = run_job(
        SORA,
        {
            ("POST", "/v1/videos"): [(200, created)],
            ("GET", f"/v1/videos/{SORA_ID}"): [(200, running), (200, final)],
        },
    )
    assert handle.job_id == SORA_ID and state.file_urls == [url]
    assert json.loads(gw.requests[0].content)["seconds"] == "8"


def test_sora_failure_carries_the_error_code() -> None:
    failed = {
        "id": SORA_ID,
        "status": "failed",
        "error": {"code": "moderation_blocked", "message": "no"},
    }
    with pytest.raises(ContentRejectedError):
        run_job(
            SORA,
            {
                ("POST", "/v1/videos"): [(200, {"id": SORA_ID, "status": "queued"})],
                ("GET", f"/v1/videos/{SORA_ID}"): [(200, failed)],
            },
        )


MM = MinimaxVideoRequest(prompt="x", first_frame_image="https://e.test/f.png")
MM_PATHS = ("/minimax/v1/video_generation", "/minimax/v1/query/video_generation")


@pytest.mark.parametrize(
    "submit_answer",
    [
        {"task_id": "77", "base_resp": {"status_code": 0, "status_msg": "success"}},
        {"code": "success", "message": "", "data": {"task_id": "77"}},
        {"code": "success", "data": "77"},
    ],
    ids=["upstream", "gateway-object", "gateway-string"],
)
@pytest.mark.parametrize(
    ("query_answer", "file_answer"),
    [
        (
            {
                "code": "success",
                "data": {
                    "task_id": "77",
                    "status": "SUCCESS",
                    "progress": "100%",
                    "data": {"file": {"file_id": "f9", "bytes": 10}},
                },
            },
            {
                "file": {"file_id": "f9", "download_url": "https://cdn.test/m.mp4"},
                "base_resp": {"status_code": 0},
            },
        ),
        (
            {
                "task_id": "77",
                "status": "Success",
                "file_id": "f9",
                "base_resp": {"status_code": 0},
            },
            {"code": "success", "data": {"file": {"download_url": "https://cdn.test/m.mp4"}}},
        ),
        (
            {
                "code": "success",
                "data": {
                    "status": "SUCCESS",
                    "data": {"file": {"download_url": "https://cdn.test/m.mp4"}},
                },
            },
            {"unused": True},
        ),
    ],
    ids=["gateway-query", "upstream-query", "url-in-query"],
)
def test_minimax_variants(submit_answer: Any, query_answer: Any, file_answer: Any) -> None:
    handle, state, gw = run_job(
        MM,
        {
            ("POST", MM_PATHS[0]): [(200, submit_answer)],
            ("GET", MM_PATHS[1]): [
                (200, {"code": "success", "data": {"status": "Processing"}}),
                (200, query_answer),
            ],
            ("GET", "/minimax/v1/files/retrieve"): [(200, file_answer)],
        },
    )
    assert handle.job_id == "77"
    assert state.file_urls == ["https://cdn.test/m.mp4"]
    polls = [r for r in gw.requests if r.url.path == MM_PATHS[1]]
    assert polls[0].url.params["task_id"] == "77"
    files = [r for r in gw.requests if r.url.path.endswith("/retrieve")]
    assert [r.url.params["file_id"] for r in files] == (
        [] if "file" not in str(query_answer) or "download_url" in str(query_answer) else ["f9"]
    )


def test_minimax_http_200_base_resp_error_is_mapped_and_retried() -> None:
    limited = {"base_resp": {"status_code": 1002, "status_msg": "rate limit exceeded"}}
    accepted = {"task_id": "77", "base_resp": {"status_code": 0, "status_msg": "success"}}
    gw = Gateway({("POST", MM_PATHS[0]): [(200, limited), (200, accepted)]})
    sleeps: list[float] = []
    with make_client(gw, sleeps) as client:
        assert client.submit_job(MM).job_id == "77"
    assert len(sleeps) == 1
    sensitive = {"base_resp": {"status_code": 1026, "status_msg": "input new_sensitive"}}
    gw = Gateway({("POST", MM_PATHS[0]): [(200, sensitive)]})
    with make_client(gw) as client, pytest.raises(ContentRejectedError):
        client.submit_job(MM)


KT = KlingText2VideoRequest(prompt="sea")
KI = KlingImage2VideoRequest(image="https://e.test/f.png")


@pytest.mark.parametrize("wrap", [False, True], ids=["upstream", "gateway-wrapped"])
@pytest.mark.parametrize("request_", [KT, KI], ids=["text2video", "image2video"])
def test_kling_variants(wrap: bool, request_: FamilyRequest) -> None:
    def body(data: dict[str, Any]) -> dict[str, Any]:
        inner = {"code": 0, "message": "SUCCEED", "request_id": "r", "data": data}
        return {"code": "success", "message": "", "data": inner} if wrap else inner

    variant = request_.variant
    done = {
        "task_id": "k1",
        "task_status": "succeed",
        "task_result": {"videos": [{"id": "v", "url": "https://cdn.test/k.mp4", "duration": "5"}]},
    }
    handle, state, gw = run_job(
        request_,
        {
            ("POST", f"/kling/v1/videos/{variant}"): [
                (200, body({"task_id": "k1", "task_status": "submitted"}))
            ],
            ("GET", f"/kling/v1/videos/{variant}/k1"): [
                (200, body({"task_id": "k1", "task_status": "processing"})),
                (200, body(done)),
            ],
        },
    )
    assert handle.variant == variant and state.file_urls == ["https://cdn.test/k.mp4"]
    assert state.extras["durations"] == ["5"]
    assert json.loads(gw.requests[0].content)["model_name"] == "kling-v2-6"


def test_kling_failure_and_error_codes() -> None:
    failed = {
        "code": 0,
        "data": {
            "task_id": "k1",
            "task_status": "failed",
            "task_status_msg": "risk control: sensitive content",
        },
    }
    with pytest.raises(ContentRejectedError):
        run_job(
            KT,
            {
                ("POST", "/kling/v1/videos/text2video"): [
                    (200, {"code": 0, "data": {"task_id": "k1"}})
                ],
                ("GET", "/kling/v1/videos/text2video/k1"): [(200, failed)],
            },
        )
    gw = Gateway(
        {
            ("POST", "/kling/v1/videos/text2video"): [
                (429, {"code": 1302, "message": "limit"}, {"Retry-After": "3"}),
                (200, {"code": 0, "data": {"task_id": "k2"}}),
            ]
        }
    )
    sleeps: list[float] = []
    with make_client(gw, sleeps) as client:
        assert client.submit_job(KT).job_id == "k2"
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 3.3  # Retry-After + <= 10 % jitter


SUNO_ID = "0b2a5c3e-1111-4222-8333-444455556666"
CLIPS = [
    {
        "id": "c1",
        "title": "A",
        "status": "complete",
        "audio_url": "https://cdn.test/1.mp3",
        "metadata": {"duration": 31.5},
    },
    {"id": "c2", "title": "B", "status": "complete", "audio_url": "https://cdn.test/2.mp3"},
]


@pytest.mark.parametrize(
    "fetch_answer",
    [
        {
            "code": "success",
            "message": "",
            "data": {"task_id": SUNO_ID, "status": "SUCCESS", "progress": "100%", "data": CLIPS},
        },
        {"task_id": SUNO_ID, "status": "SUCCESS", "data": CLIPS},
        {"code": "success", "data": {"status": "complete", "clips": CLIPS}},
    ],
    ids=["enveloped", "bare", "clips-key"],
)
@pytest.mark.parametrize(
    "submit_answer",
    [{"code": "success", "message": "", "data": SUNO_ID}, {"task_id": SUNO_ID}],
    ids=["code-data", "task_id"],
)
def test_suno_variants(fetch_answer: Any, submit_answer: Any) -> None:
    running = {
        "code": "success",
        "data": {
            "status": "IN_PROGRESS",
            "progress": "30%",
            "data": [{"id": "c1", "status": "streaming", "audio_url": "https://cdn.test/stream"}],
        },
    }
    handle, state, gw = run_job(
        SunoInspirationRequest(gpt_description_prompt="a song"),
        {
            ("POST", "/suno/submit/music"): [(200, submit_answer)],
            ("GET", f"/suno/fetch/{SUNO_ID}"): [(200, running), (200, fetch_answer)],
        },
    )
    assert handle.job_id == SUNO_ID and handle.kind == "music"
    assert state.file_urls == ["https://cdn.test/1.mp3", "https://cdn.test/2.mp3"]
    assert state.extras["clips"][0]["duration"] == 31.5


def test_suno_failure_and_unknown_status() -> None:
    failing = {"code": "success", "data": {"status": "FAILURE", "fail_reason": "upstream error"}}
    routes: dict[tuple[str, str], list[Answer]] = {
        ("POST", "/suno/submit/music"): [(200, {"code": "success", "data": SUNO_ID})],
        ("GET", f"/suno/fetch/{SUNO_ID}"): [(200, failing)],
    }
    from prefect_haoee.client.errors import TaskFailedError

    with pytest.raises(TaskFailedError, match="upstream error"):
        run_job(SunoCustomRequest(prompt="la"), routes)
    routes[("GET", f"/suno/fetch/{SUNO_ID}")] = [
        (200, {"code": "success", "data": {"status": "WEIRD"}})
    ]
    with pytest.raises(TransportError, match="unknown job status"):
        run_job(SunoCustomRequest(prompt="la"), routes)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            429,
            {
                "error": {
                    "message": "slow down",
                    "type": "rate_limit_error",
                    "code": "rate_limit_exceeded",
                }
            },
            RateLimitedError,
        ),
        (
            400,
            {"error": {"message": "Your request was rejected by the safety system", "code": None}},
            ContentRejectedError,
        ),
        (
            400,
            {
                "error": {
                    "message": "bad size",
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                }
            },
            InvalidRequestError,
        ),
        (
            401,
            {"error": {"message": "Incorrect API key", "code": "invalid_api_key"}},
            AuthenticationError,
        ),
        (500, {"error": {"message": "upstream", "code": "server_error"}}, ServerError),
        (502, "<html>bad gateway</html>", ServerError),
        (200, "not json", TransportError),
        (400, {"code": 50412, "message": "Text Risk Not Pass"}, ContentRejectedError),
    ],
)
def test_error_bodies_map_onto_the_tree(status: int, body: Any, error: type[HaoeeError]) -> None:
    gw = Gateway({("POST", "/v1/images/generations"): [(status, body)]})
    with make_client(gw) as client, pytest.raises(error) as info:
        client.generate_images(IMG)
    assert info.value.http_status == status or error is TransportError
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"code": "rate_limit", "message": "too many", "data": None}, RateLimitedError),
        (429, {"code": "rate_limit", "message": "too many", "data": None}, RateLimitedError),
        (
            400,
            {"code": "sensitive", "message": "lyrics refused", "data": None},
            ContentRejectedError,
        ),
        (200, {"code": "fail", "message": "mv not supported", "data": None}, InvalidRequestError),
        (500, {"code": "server_error", "message": "boom", "data": None}, ServerError),
        (401, {"code": "invalid_api_key", "message": "no", "data": None}, AuthenticationError),
    ],
)
def test_gateway_task_errors_map_onto_the_tree(
    status: int, body: Any, error: type[HaoeeError]
) -> None:
    gw = Gateway({("POST", "/suno/submit/music"): [(status, body)]})
    with make_client(gw) as client, pytest.raises(error):
        client.submit_job(SunoCustomRequest(prompt="la"))


def test_poll_404_is_not_found_and_not_resent() -> None:
    gw = Gateway(
        {("GET", "/suno/fetch/nope"): [(404, {"code": "task_not_exist", "message": "no task"})]}
    )
    handle = JobHandle(
        family="suno", kind="music", job_id="nope", request_hash="h", model="chirp-v4"
    )
    with make_client(gw) as client, pytest.raises(TaskNotFoundError):
        client.get_job(handle)
    assert len(gw.requests) == 1


def test_the_key_is_scrubbed_from_errors() -> None:
    gw = Gateway({("POST", "/v1/videos"): [(400, {"error": {"message": f"bad key {KEY}"}})]})
    with make_client(gw) as client, pytest.raises(InvalidRequestError) as info:
        client.submit_job(SORA)
    assert KEY not in str(info.value) and "***" in str(info.value)


def test_generation_answer_variants() -> None:
    for answer in (
        {"created": 1, "data": [{"url": "https://cdn.test/a.png", "revised_prompt": "a cat"}]},
        {"code": "success", "data": {"created": 1, "data": [{"url": "https://cdn.test/a.png"}]}},
    ):
        gw = Gateway({("POST", "/v1/images/generations"): [(200, answer)]})
        with make_client(gw) as client:
            assert client.generate_images(IMG).urls == ["https://cdn.test/a.png"]
    gw = Gateway({("POST", "/v1/images/generations"): [(200, {"created": 1, "data": []})]})
    with make_client(gw) as client, pytest.raises(TransportError, match="without an image"):
        client.generate_images(IMG)


def test_a_gateway_file_gets_the_key_and_a_cdn_file_does_not() -> None:
    seen: dict[str, str | None] = {}

    def files(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("Authorization")
        from prefect_haoee.simulator.media import mp4_bytes

        return httpx.Response(200, headers={"Content-Type": "video/mp4"}, content=mp4_bytes("k", 1))

    with HaoeeClient(
        HaoeeSettings(api_key=SecretStr(KEY), base_url=BASE),
        download_transport=httpx.MockTransport(files),
    ) as client:
        client.download_media(f"{BASE}/v1/videos/{SORA_ID}/content", lambda b: None, "video")
        client.download_media("https://cdn.test/v.mp4", lambda b: None, "video")
    assert seen == {"gateway.test": f"Bearer {KEY}", "cdn.test": None}
