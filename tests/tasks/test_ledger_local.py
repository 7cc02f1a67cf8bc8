"""This machine's part of the ledger: lock files (no ``fcntl`` needed, released by the kernel
on death), the directory store, and ``HAOEE_LOCK_*`` read as one located line."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from prefect_haoee.tasks.errors import LockConfigurationError
from prefect_haoee.tasks.ledger import ledger_settings
from prefect_haoee.tasks.ledger_local import DirStore, LocalLocks


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
        from prefect_haoee.tasks.ledger_local import LocalLocks
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
                from prefect_haoee.tasks.ledger_local import LocalLocks
                assert LocalLocks(Path({str(tmp_path)!r})).try_lock("k")
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
        locks = LocalLocks(tmp_path)
        assert not locks.try_lock("k")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert locks.try_lock("k")  # the kernel released the dead holder's lock
    locks.unlock("k")


def test_local_locks_exclude_coroutines_and_processes_alike(tmp_path: Path) -> None:
    one, two = LocalLocks(tmp_path), LocalLocks(tmp_path)
    assert one.try_lock("k")
    assert not one.try_lock("k")  # another coroutine of this process
    assert not two.try_lock("k")  # another manager (as another process)
    assert two.try_lock("other")
    one.unlock("k")
    one.unlock("k")  # unlocking twice is a no-op
    assert two.try_lock("k")
    assert one.domain() == two.domain() == LocalLocks(tmp_path).domain()
    assert one.new_holder().startswith(one.domain() + "/")


def test_directory_store_keeps_done_answers_and_replaces_a_version(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "entries")
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    step = {"format": "prefect-haoee/step", "version": 1, "type": "T", "value": {}}
    assert store.take("haoee-generate-a", "h1", None).state == "held"
    assert store.finish("haoee-generate-a", "h1", step, expires, "run-1")
    done = store.take("haoee-generate-a", "h2", None)
    assert (done.state, done.step, done.paid_by) == ("done", step, "run-1")
    assert store.take("haoee-generate-a", "h2", "another-version").state == "done"
    assert store.take("haoee-generate-a", "h2", done.version).state == "held"
    store.finish("haoee-generate-a", "h2", step, expires - timedelta(hours=2), "run-2")
    assert store.take("haoee-generate-a", "h3", None).state == "held"  # expired
    (tmp_path / "entries" / "haoee-generate-b.json").write_text("{not json")
    assert store.take("haoee-generate-b", "h1", None).state == "held"  # not ours
    with pytest.raises(ValueError, match="plain file name"):
        store.take("../x", "h1", None)


def test_ledger_settings_name_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cases = {
        "": "auto",
        "auto": "auto",
        "s3": "s3",
        "file": "file",
        "redis://:pw@h:6379/2": "redis",
    }
    for url, backend in cases.items():
        monkeypatch.setenv("HAOEE_LOCK_URL", url)
        settings = ledger_settings()
        assert settings.backend == backend
        assert "pw" not in repr(settings)  # a Redis URL may hold a password
    monkeypatch.setenv("HAOEE_LOCK_URL", f"file://{tmp_path}/locks")
    assert ledger_settings().directory == tmp_path / "locks"
    monkeypatch.setenv("HAOEE_LOCK_URL", "zookeeper://h")
    with pytest.raises(LockConfigurationError, match="zookeeper"):
        _ = ledger_settings().backend
    monkeypatch.delenv("HAOEE_LOCK_URL")
    monkeypatch.setenv("HAOEE_LOCK_LEASE_SECONDS", "-3")
    with pytest.raises(LockConfigurationError, match="^HAOEE_LOCK_LEASE_SECONDS: "):
        ledger_settings()
