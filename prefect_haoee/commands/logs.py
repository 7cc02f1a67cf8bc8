"""Where the CLI's logs go: a debug log file, and the terminal only with ``--verbose``.

Prefect's console log lines, moto's access log, telemetry warnings and tracebacks would
tear the progress bar apart. A command sends every log record to the debug log
(``HAOEE_LOG_FILE``, default ``$PREFECT_HOME/haoee.log``, i.e. ``~/.prefect/haoee.log``)
and, with ``--verbose``, also to the terminal through the progress bar's console (printed
above the bar). A failure the CLI reports in one line keeps its traceback in that file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from rich.console import Console

VERBOSE = False
"""``--verbose`` given (set by the CLI before a command runs)."""

NOISY = ("werkzeug", "botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore")
_FILE_HANDLER: logging.Handler | None = None
_PATH: Path | None = None


def log_path() -> Path:
    """The debug log of this user (resolved once: before the demo moves PREFECT_HOME)."""
    global _PATH
    if _PATH is None:
        explicit = os.environ.get("HAOEE_LOG_FILE")
        home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
        _PATH = Path(explicit).expanduser() if explicit else home / "haoee.log"
    return _PATH


def server_log_path() -> Path:
    """Where the output of a Prefect server the CLI starts goes."""
    return log_path().with_name("haoee-prefect-server.log")


def file_handler() -> logging.Handler | None:
    """The debug log's handler (created once; None when the file cannot be written)."""
    global _FILE_HANDLER
    if _FILE_HANDLER is None:
        path = log_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=5_000_000, backupCount=1, encoding="utf-8"
            )
        except OSError:
            return None
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(process)d %(levelname)-7s %(name)s - %(message)s")
        )
        handler.setLevel(logging.DEBUG)
        _FILE_HANDLER = handler
    return _FILE_HANDLER


def _is_terminal_handler(handler: logging.Handler) -> bool:
    if isinstance(handler, logging.FileHandler):
        return False
    if isinstance(handler, logging.StreamHandler):
        return True
    return type(handler).__name__ in ("PrefectConsoleHandler", "RichHandler")


def route_logs(console: Console) -> None:
    """Send every log record to the debug log, and to ``console`` only when verbose.

    Call it after Prefect (and prefect-aws) configured logging: their console handlers
    (root, ``uvicorn``, ``prefect._internal``...) are taken off and ours put in their place.
    """
    from rich.logging import RichHandler

    ours: list[logging.Handler] = []
    handler = file_handler()
    if handler is not None:
        ours.append(handler)
    if VERBOSE:
        terminal = RichHandler(
            console=console, markup=False, show_path=False, rich_tracebacks=False
        )
        terminal.setLevel(logging.INFO)
        ours.append(terminal)
    loggers = [logging.getLogger()] + [
        value
        for value in logging.root.manager.loggerDict.values()
        if isinstance(value, logging.Logger)
    ]
    for logger in loggers:
        found = [h for h in logger.handlers if _is_terminal_handler(h) or h in ours]
        for old in found:
            logger.removeHandler(old)
        if found or logger is logging.root:
            for new in ours:
                logger.addHandler(new)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("prefect_haoee").setLevel(logging.DEBUG)
    logging.captureWarnings(True)


def log_failure(message: str, exc: BaseException, console: Console) -> None:
    """Keep ``exc``'s traceback in the debug log (and print it with ``--verbose``)."""
    logger = logging.getLogger("prefect_haoee.cli")
    handler = file_handler()
    if (
        handler is not None
        and handler not in logger.handlers
        and handler not in logging.root.handlers
    ):
        logger.addHandler(handler)
    logger.error("%s", message, exc_info=(type(exc), exc, exc.__traceback__))
    if VERBOSE:
        from rich.traceback import Traceback

        console.print(Traceback.from_exception(type(exc), exc, exc.__traceback__))


def where_logged() -> str:
    return f"details in {log_path()}" + ("" if VERBOSE else " (or run with --verbose)")


def flush() -> None:
    if _FILE_HANDLER is not None:
        _FILE_HANDLER.flush()
    sys.stderr.flush()
