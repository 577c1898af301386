"""Where alert tests send to: a Slack-compatible webhook receiver on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """An incoming-webhook server on 127.0.0.1 (a free port) that records every POST as
    {"path", "body" (the decoded JSON), "type" (Content-Type)} in `posts` and answers 200.

    `url` ends in /services/<token>, like a Slack webhook URL whose token is the secret.
    Use it as a context manager; it serves from a daemon thread.
    """

    def __init__(self, token: str) -> None:
        self.posts: list[dict] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append({"path": self.path, "body": json.loads(body),
                              "type": self.headers["Content-Type"]})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/services/{token}"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def texts(self) -> list[str]:
        return [post["body"]["text"] for post in self.posts]
