"""Fixtures of the reliability suite.

``exposed`` collects every text a user could see during the suite (captured log lines,
subprocess output, exception messages): the secrets test scans it at the end, with the
result storage, the artifacts, the flow-run logs and every manifest on the S3 server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

# Importing prefect-aws (re)configures logging and replaces the root logger's handlers,
# pytest's capture handler included: do it once here, before any test captures logs.
import prefect_aws  # noqa: F401  # isort: skip


@dataclass
class Exposed:
    """Texts seen during the suite, by where they came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    buckets: set[str] = field(default_factory=set)
    """Buckets (on the session S3 server) whose objects the secrets test reads back."""

    def add(self, where: str, text: str | bytes | None) -> None:
        if text is None:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.texts.append((where, text))


_EXPOSED = Exposed()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The secrets scan runs last in the session, after every other test wrote its logs,
    results, artifacts and manifests (it scans the whole session's state, not only ours)."""
    items.sort(key=lambda item: item.path.name == "test_secrets.py")


@pytest.fixture(scope="session")
def exposed() -> Exposed:
    return _EXPOSED


@pytest.fixture
def record_logs(caplog: pytest.LogCaptureFixture, exposed: Exposed) -> Iterator[None]:
    """Capture the test's log records (INFO and up, DEBUG for prefect_haoee) into ``exposed``."""
    caplog.set_level("INFO")
    caplog.set_level("DEBUG", logger="prefect_haoee")
    yield
    for record in caplog.records:
        exposed.add(f"log:{record.name}", caplog.handler.format(record))
        if record.exc_info and record.exc_info[1] is not None:
            exposed.add(f"log-exc:{record.name}", repr(record.exc_info[1]))
