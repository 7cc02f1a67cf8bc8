"""Small real HTTP servers of the tests: a hostile gateway, a held gateway, a file host.

Each test that needs a gateway the simulator cannot play (bodies that lie, echoes of the
key, answers held until the test lets them go) writes only its ``do_POST``/``do_GET``;
the server on 127.0.0.1 (port 0), the quiet handler with its JSON reader and writer, and
the thread that serves it until the fixture ends live here, once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

S = TypeVar("S", bound=ThreadingHTTPServer)


class LoopbackServer(ThreadingHTTPServer):
    """A threaded server on 127.0.0.1 (a free port); ``lock`` guards a subclass's counters."""

    daemon_threads = True

    def __init__(self, handler: Callable[..., BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class QuietHandler(BaseHTTPRequestHandler):
    """No access log on the test's stderr; JSON in, bytes or JSON out."""

    protocol_version = "HTTP/1.0"  # a body without Content-Length ends at close

    def log_message(self, format: str, *args: Any) -> None:
        return

    def read_json(self) -> Any:
        """The request's JSON body (``{}`` when it has none)."""
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def answer(
        self,
        status: int,
        body: bytes,
        ctype: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """One whole answer with its true ``Content-Length`` (no ``Content-Type`` when
        ``ctype`` is None, as for a redirect)."""
        self.head(status, ctype, len(body), headers)
        self.wfile.write(body)

    def head(
        self,
        status: int,
        ctype: str | None,
        length: int | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The status line and headers only, for a body the caller writes itself: a stream
        (``length`` None: it ends at close) or one shorter or longer than announced."""
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def answer_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self.answer(status, json.dumps(payload).encode(), headers=headers)


@contextmanager
def serving(server: S, name: str = "test-http") -> Iterator[S]:
    """Serve ``server`` in a daemon thread until the block ends, then close its socket."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
