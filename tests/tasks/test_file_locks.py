"""The one-machine paid-step lock: imports without ``fcntl``, released by the kernel on death."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from prefect_haoee.tasks.locks import FlockLockManager


def test_tasks_import_where_fcntl_does_not_exist(tmp_path: Path) -> None:
    """As on Windows: ``import fcntl`` raises ImportError; the tasks still import and lock
    (here the platform primitive still exists underneath, so the lock works)."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["fcntl"] = None  # any later "import fcntl" raises ImportError
        try:
            import fcntl  # noqa: F401
        except ImportError:
            pass
        else:
            raise SystemExit("fcntl still importable")
        import prefect_haoee.tasks
        from prefect_haoee.tasks.locks import FlockLockManager
        print("imported", prefect_haoee.tasks.produce_image.name)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "imported haoee-produce-image" in out.stdout


def test_lock_of_a_killed_holder_is_released_by_the_kernel(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from prefect_haoee.tasks.locks import FlockLockManager
                assert FlockLockManager(Path({str(tmp_path)!r})).acquire_lock("k", "dead")
                print("held", flush=True)
                sys.stdin.read()  # hold until killed
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        locks = FlockLockManager(tmp_path)
        assert locks.is_locked("k")
        assert not locks.acquire_lock("k", "alive", acquire_timeout=0.05)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert locks.acquire_lock("k", "alive", acquire_timeout=5)
    locks.release_lock("k", "alive")


def test_lock_settings_name_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from prefect_haoee.tasks.errors import LockConfigurationError
    from prefect_haoee.tasks.lock_settings import LockSettings

    cases = {
        "": "auto",
        "auto": "auto",
        "s3": "s3",
        "file": "file",
        "redis://:pw@h:6379/2": "redis",
    }
    for url, backend in cases.items():
        monkeypatch.setenv("HAOEE_LOCK_URL", url)
        settings = LockSettings()
        assert settings.backend == backend
        assert "pw" not in repr(settings)  # a Redis URL may hold a password
    monkeypatch.setenv("HAOEE_LOCK_URL", f"file://{tmp_path}/locks")
    assert LockSettings().directory == tmp_path / "locks"
    monkeypatch.setenv("HAOEE_LOCK_URL", "zookeeper://h")
    with pytest.raises(LockConfigurationError, match="zookeeper"):
        _ = LockSettings().backend
