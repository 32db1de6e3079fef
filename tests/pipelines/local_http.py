"""A throwaway HTTP server on 127.0.0.1 for tests that need a real socket (a proxy, a busy API)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler_answering(answer: Callable[[str], tuple[int, bytes]]) -> type[BaseHTTPRequestHandler]:
    """A quiet request handler whose GETs are answered by `answer(path) -> (status, body)`."""

    class Answering(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Answering


@contextmanager
def local_http_server(answer: Callable[[str], tuple[int, bytes]]) -> Iterator[str]:
    """Serves GETs with `answer` on a free loopback port; yields its base URL; stopped after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_answering(answer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
