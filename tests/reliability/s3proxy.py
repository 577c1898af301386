"""An HTTP proxy on loopback between snoopipe and moto's S3 server that injects S3 faults.

S3 errors are answered as S3 answers them (status code, XML `<Error><Code>...`), and a
"reset" rule sends half of an object's body and then closes the connection. Everything
else is forwarded to moto unchanged. Rules match a method and a regular expression on
the object key; each has a budget of injections (None: until `heal()`).
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection", "content-length", "expect"}


@dataclass
class Rule:
    method: str
    key: str  # regular expression searched in the object key (bucket/prefix/key)
    status: int  # HTTP status of the injected error; 0 for a connection reset mid-body
    code: str = ""
    times: int | None = None  # injections left; None: every matching request

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.key, unquote(path)) is not None


class S3FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.rules: list[Rule] = []
        self.injected: dict[str, int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(parts)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                body = self._body()
                rule = proxy._take(self.command, self.path)
                if rule is not None and rule.status:
                    xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{rule.code}"
                           f"</Code><Message>injected by the reliability suite</Message>"
                           f"</Error>").encode()
                    self.send_response(rule.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(xml)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(xml)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port,
                                                  timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                conn.close()
                self.send_response(reply.status)
                for k, v in reply.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                length = reply.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                if rule is not None:  # a reset: promise the whole body, send half, hang up
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path) and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    name = f"{rule.method} {rule.status or 'reset'} {rule.code}".strip()
                    self.injected[name] = self.injected.get(name, 0) + 1
                    return rule
        return None

    def add(self, rule: Rule) -> None:
        with self._lock:
            self.rules.append(rule)

    def heal(self) -> None:
        with self._lock:
            self.rules.clear()

    def total(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    def start(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
