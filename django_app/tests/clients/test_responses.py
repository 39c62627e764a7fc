"""Response bodies: JSON, text, empty; non-JSON errors from a gateway in front of a service.

A small http.server on a real socket plays a service (or the proxy before it) answering with
bodies the stubs never produce.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.testing import services_settings_for
from django_interlink.exceptions import ContractViolation, ServiceUnavailable
from shop.clients.users import UserServiceClient

REPLIES: dict[str, tuple[int, str, bytes]] = {
    "/text": (200, "text/plain; charset=utf-8", b"pong"),
    "/json": (200, "application/json", b'{"a": [1, 2]}'),
    "/empty": (204, "", b""),
    "/broken-json": (200, "application/json", b'{"a": '),
}


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def do_GET(self) -> None:
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        if self.path.startswith("/users/"):  # a gateway's HTML error page
            status, ctype, body = 502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>"
        else:
            status, ctype, body = REPLIES[self.path]
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_DELETE(self) -> None:
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def plain_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def plain_client(plain_server) -> Iterator[ServiceClient]:
    conf = services_settings_for({"plain": plain_server}, "token", validation="off")
    with override_settings(INTERLINK=conf), ServiceClient("plain") as client:
        yield client


def test_text_body_is_returned_as_str(plain_client):
    """A text/plain body comes back as str."""
    assert plain_client.get("/text", operation="text").data == "pong"


def test_json_body_is_parsed(plain_client):
    """An application/json body comes back parsed."""
    assert plain_client.get("/json", operation="json").data == {"a": [1, 2]}


def test_empty_body_is_none(plain_client):
    """A 204 without body comes back as None."""
    response = plain_client.get("/empty", operation="empty")
    assert (response.status_code, response.data) == (204, None)


def test_delete_is_sent_and_its_empty_answer_is_none(plain_client):
    """delete() issues a DELETE; a 204 answer has no data."""
    response = plain_client.delete("/things/1", operation="deleteThing")
    assert (response.status_code, response.data, _Handler.hits["/things/1"]) == (204, None, 1)


def test_unparsable_json_is_a_contract_violation_even_unvalidated(plain_client):
    """A body announced as JSON that does not parse is a ContractViolation, validation or not."""
    with pytest.raises(ContractViolation) as info:
        plain_client.get("/broken-json", operation="broken")
    assert info.value.field == "<body>"


def test_gateway_html_error_is_service_unavailable_not_a_violation(plain_server, stub_token):
    """A 502 HTML page from a proxy is ServiceUnavailable (retry later), though off-contract."""
    conf = services_settings_for({"users": plain_server}, stub_token)
    user_id = str(uuid.uuid4())
    with (
        override_settings(INTERLINK=conf),
        UserServiceClient() as client,
        pytest.raises(ServiceUnavailable) as info,
    ):
        client.get_user(user_id=user_id)
    assert info.value.status_code == 502
    assert "Bad Gateway" in info.value.payload
    assert isinstance(info.value.__cause__, ContractViolation)
    assert _Handler.hits[f"/users/{user_id}"] == 4  # retried like any 502
