"""A body far over the limit (50 MB against 1 MB) over real HTTP on loopback: the client gets
the 413 problem — never a broken pipe or a reset — whether the body declares its length, is
streamed (chunked), or waits for ``100 Continue``; and the server goes on serving."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aegntix.server.limits import MAX_BODY_BYTES
from tests.server.api_support import assert_problem
from tests.server.conftest import LiveServer

FIFTY_MB = 50 * 2**20
CHUNK = 2**20


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client(live_server.make_key("limits", "owner")) as c:
        yield c


def _is_413(r: httpx.Response) -> None:
    body = assert_problem(r, 413)
    assert body["errors"] == [{"field": "body", "reason": f"at most {MAX_BODY_BYTES:,} bytes"}]
    assert f"{MAX_BODY_BYTES:,}" in body["detail"]


def test_fifty_megabytes_with_content_length_get_413(client: httpx.Client) -> None:
    big = b"#" * FIFTY_MB
    for path in ("/v1/scenarios", "/v1/keys", "/v1/no-such-route"):
        r = client.post(path, content=big, headers={"content-type": "application/yaml"})
        _is_413(r)
    assert client.get("/v1/health").status_code == 200


def test_fifty_megabytes_chunked_get_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts streamed bytes
        for _ in range(FIFTY_MB // CHUNK):
            yield b"#" * CHUNK

    for path, ctype in (("/v1/scenarios", "application/yaml"), ("/v1/keys", "application/json")):
        r = client.post(path, content=chunks(), headers={"content-type": ctype})
        _is_413(r)
    assert client.get("/v1/scenarios").status_code == 200


def test_expect_continue_is_answered_without_the_body(live_server: LiveServer) -> None:
    host, port = live_server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/scenarios HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
            + f"Content-Length: {FIFTY_MB}\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"100 Continue" not in answer
    assert b'"field": "body"' in answer


def _post_http_client(live_server: LiveServer, *, chunked: bool) -> tuple[int, bytes]:
    """The standard library's client, which — unlike httpx — does not hide a failed upload:
    a server that closes before reading the body makes ``request`` raise a broken pipe."""
    host, port = live_server.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {
        "Content-Type": "application/yaml",
        "Authorization": f"Bearer {live_server.make_key('limits', 'owner')}",
    }
    try:
        if chunked:
            body: Any = (b"#" * CHUNK for _ in range(FIFTY_MB // CHUNK))
            conn.request("POST", "/v1/scenarios", body=body, headers=headers, encode_chunked=True)
        else:
            conn.request("POST", "/v1/scenarios", body=b"#" * FIFTY_MB, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_upload_completes_and_reads_413(live_server: LiveServer, chunked: bool) -> None:
    status, body = _post_http_client(live_server, chunked=chunked)
    assert status == 413
    assert json.loads(body)["errors"][0]["field"] == "body"
