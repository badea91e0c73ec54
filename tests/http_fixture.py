"""A local HTTP file server for tests, with switchable misbehaviour (drops, stalls, errors, no Range).

Usage: `with FileServer() as server: url = server.add("/x.bin", Route(data=b"..."))`. Every request
is recorded in `server.log` (path, Range header, status, body bytes sent), so tests can assert what
the client asked for.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_BLOCK = 1 << 18


@dataclass
class Route:
    """What the server answers for one path."""

    data: bytes | None = None
    file: Path | None = None
    status: int = 200
    """A status other than 200 is answered with an empty error page."""
    ranges: bool = True
    """Honour `Range: bytes=N-` with 206; when False, Range is ignored and the whole file sent (200)."""
    limit: int | None = None
    """Serve only the first `limit` bytes, as if that were the whole file (a cut file)."""
    drop_after: int | None = None
    """Announce the full Content-Length but close the connection after this many body bytes."""
    drop_times: int | None = None
    """Drop only the first `drop_times` requests (None: every request)."""
    stall: float | None = None
    """Send the headers, then go silent for this many seconds (or until the server stops)."""
    content_type: str = "application/octet-stream"
    hits: int = field(default=0, init=False)

    def size(self) -> int:
        total = len(self.data) if self.data is not None else self.file.stat().st_size
        return min(total, self.limit) if self.limit is not None else total

    def read(self, start: int, stop: int) -> bytes:
        if self.data is not None:
            return self.data[start:stop]
        with open(self.file, "rb") as f:
            f.seek(start)
            return f.read(stop - start)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-response are part of the tests, not errors


class FileServer:
    """ThreadingHTTPServer on 127.0.0.1 with an ephemeral port, serving `Route`s."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def requests(self, path: str) -> list[dict[str, Any]]:
        return [entry for entry in self.log if entry["path"] == path]

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            entry = {"path": self.path, "range": self.headers.get("Range"), "status": None, "sent": 0}
            server.log.append(entry)
            route = server.routes.get(self.path)
            if route is None or route.status != 200:
                entry["status"] = 404 if route is None else route.status
                self.send_response(entry["status"])
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                return
            route.hits += 1
            size = route.size()
            start, status = 0, 200
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if route.ranges and match:
                start = int(match.group(1))
                if start >= size:
                    entry["status"] = 416
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            entry["status"] = status
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(size - start))
            if route.ranges:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if route.stall is not None:
                self.wfile.flush()
                server.stopping.wait(route.stall)
            drop = route.drop_after is not None and (route.drop_times is None or route.hits <= route.drop_times)
            stop = min(size, start + route.drop_after) if drop else size
            position = start
            try:
                while position < stop:
                    block = route.read(position, min(stop, position + _BLOCK))
                    self.wfile.write(block)
                    position += len(block)
                    entry["sent"] += len(block)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. after its own timeout)

    return Handler
