"""The error tree: every documented code maps to the right class and retryable flag."""

from __future__ import annotations

import pickle

import pytest

from prefect_haoee.client.errors import (
    HaoeeError,
    RateLimitedError,
    error_for,
)
from tests.client.support import CODE_TABLE


@pytest.mark.parametrize(("http", "code", "cls", "retryable"), CODE_TABLE)
def test_code_table(http: int, code: int | None, cls: type[HaoeeError], retryable: bool) -> None:
    err = error_for(http_status=http, code=code, message="m", request_id="rid")
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.code == code and err.http_status == http and err.request_id == "rid"
    assert isinstance(err, HaoeeError)


def test_rate_limit_code_wins_over_http_status() -> None:
    # A business code of 50429 is a rate limit even if a proxy rewrote the status to 400.
    err = error_for(http_status=400, code=50429, message="m", retry_after=3)
    assert isinstance(err, RateLimitedError) and err.retry_after == 3


def test_str_carries_code_and_request_id() -> None:
    err = error_for(http_status=400, code=50413, message="Post Text Risk Not Pass", request_id="r1")
    assert str(err) == "Post Text Risk Not Pass code=50413 http=400 request_id=r1"


@pytest.mark.parametrize(("http", "code", "cls", "retryable"), CODE_TABLE[:6])
def test_errors_survive_pickling(
    http: int, code: int, cls: type[HaoeeError], retryable: bool
) -> None:
    err = error_for(http_status=http, code=code, message="m", request_id="rid", retry_after=2)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and back.code == code and back.retryable is retryable
    assert back.request_id == "rid" and str(back) == str(err)
