"""`X-Content-Type-Options: nosniff` on every response the node writes, so that a browser
takes a body as its declared type only: each HTTP route that `tandem routes` lists, sent
by a client without a token and by a signed-in user (so that handlers' answers, guards'
refusals and handlers' errors all show); what the server answers before any route (404,
405, 413, 431, a malformed request, a CORS preflight, 503 over the connection cap);
/metrics; a profile image; the WebSocket handshake and both of its refusals."""
import select
import socket
import unittest
import urllib.parse
import uuid

from tandem import (
    BASE_ENV, MEDIA_KEY, MediaClient, NodeTestCase, bearer, dir_name, png_image, served_routes,
    services)

NOSNIFF = ("x-content-type-options", "nosniff")
UPGRADE = (b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


def upgrade(user_id):
    """A WebSocket upgrade of /ws with `user_id`'s token."""
    return UPGRADE % b"/ws" + b"Authorization: %s\r\n\r\n" % bearer(user_id)[
        "Authorization"].encode()


def head_of(reply):
    """(status, headers with lower-case names) of a raw HTTP answer."""
    lines = reply.partition("\r\n\r\n")[0].split("\r\n")
    fields = (line.partition(":") for line in lines[1:])
    return int(lines[0].split()[1]), {k.strip().lower(): v.strip() for k, _, v in fields}


def first_answer(node, data):
    """Sends `data` and returns the head of the first answer, without waiting for the
    server to read or close anything more."""
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
        s.sendall(data)
        reply = b""
        while b"\r\n\r\n" not in reply:
            readable, _, _ = select.select([s], [], [], 5)
            chunk = s.recv(65536) if readable else b""
            if not chunk:
                break
            reply += chunk
        return head_of(reply.decode(errors="replace"))


class EveryResponse(MediaClient, NodeTestCase):
    node_env = dict(BASE_ENV, TANDEM_MEDIA_URL_KEY=MEDIA_KEY, TANDEM_HTTP_BODY_LIMIT="1024",
                    TANDEM_HTTP_HEADER_LIMIT="4096")

    def assert_nosniff(self, what, headers):
        self.assertEqual(headers.get(NOSNIFF[0]), NOSNIFF[1], f"{what}: {headers}")

    def test_every_route_answers_nosniff_to_anyone(self):
        user = self.new_user()
        lines = served_routes(self.node_env)
        routes = [line.split() for line in lines if line.split()[0] not in ("WS", "FRAME")]
        self.assertGreater(len(routes), 30, lines)
        values = {"owner": dir_name(user), "file": "profile_image.png"}
        missing, statuses = [], set()
        for method, pattern, _ in routes:
            path = "/".join(urllib.parse.quote(values.get(s[1:-1], user), safe="")
                            if s.startswith("{") else s for s in pattern.split("/"))
            body = "{}" if method in ("POST", "PUT") else None
            for who, headers in (("no token", {}), ("a user", bearer(user))):
                status, got, _ = self.node.request(method, path, body=body, headers=headers)
                statuses.add(status)
                if got.get(NOSNIFF[0]) != NOSNIFF[1]:
                    missing.append(f"{method} {path} as {who}: {status} {got}")
        self.assertEqual(missing, [], "\n".join(missing))
        # Answers of every kind were among them: successes, refusals and errors.
        self.assertTrue({200, 400, 401, 403, 404} <= statuses, statuses)

    def test_answers_of_the_server_before_any_route(self):
        self.assert_nosniff("404", self.node.request("GET", "/no/such/route")[1])
        self.assert_nosniff("405", self.node.request("DELETE", "/ping")[1])
        status, headers, _ = self.node.request("POST", "/ping", body="x" * 4096)
        self.assertEqual(status, 413)
        self.assert_nosniff("413", headers)
        status, headers, _ = self.node.request("OPTIONS", "/ping", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
        self.assertEqual(status, 204)
        self.assert_nosniff("preflight", headers)
        # Refused from the headers alone: the body is never sent.
        status, headers = first_answer(self.node, b"POST /auth/login HTTP/1.1\r\nHost: t\r\n"
                                       b"Content-Length: 100000\r\n\r\n")
        self.assertEqual(status, 413)
        self.assert_nosniff("413 before the body", headers)
        status, headers = first_answer(self.node, b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: "
                                       + b"a" * 4096 + b"\r\n\r\n")
        self.assertEqual(status, 431)
        self.assert_nosniff("431", headers)
        status, headers = first_answer(self.node, b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
        self.assertEqual(status, 400)
        self.assert_nosniff("malformed", headers)

    def test_metrics_and_a_profile_image(self):
        status, headers, _ = self.node.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assert_nosniff("/metrics", headers)
        user = self.new_user()
        status, headers, _ = self.media("PUT", self.upload_url(user), body=png_image(),
                                        headers={"Content-Type": "image/png"})
        self.assertEqual(status, 200)
        self.assert_nosniff("an upload", headers)
        status, url = self.image_url(user)
        self.assertEqual(status, 200, url)
        status, headers, _ = self.media("GET", url)
        self.assertEqual((status, headers.get("content-type")), (200, "image/png"))
        self.assert_nosniff("a profile image", headers)
        # Once: the server sets it, no route adds its own.
        parts = urllib.parse.urlsplit(url)
        head = self.node.raw(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: t\r\n"
                             "Connection: close\r\n\r\n".encode()).partition("\r\n\r\n")[0]
        self.assertEqual(head.lower().count("x-content-type-options:"), 1, head)

    def test_the_websocket_handshake_and_its_refusals(self):
        # Refused by the server from the token, and accepted (the session's own refusal:
        # SessionRefusal below).
        status, headers = first_answer(self.node, UPGRADE % b"/ws"
                                       + b"Authorization: Bearer forged\r\n\r\n")
        self.assertEqual(status, 401)
        self.assert_nosniff("an upgrade with a forged token", headers)
        status, headers = first_answer(self.node, upgrade(self.new_user()))
        self.assertEqual(status, 101)
        self.assert_nosniff("the handshake", headers)
        self.assertRegex(headers.get("x-request-id", ""), r"^[0-9a-f]{16}$", headers)


class SessionRefusal(NodeTestCase):
    node_env = BASE_ENV

    def test_an_upgrade_the_websocket_session_refuses_says_nosniff(self):
        # Without PostgreSQL a new user's actor cannot load: the session refuses (503).
        services("pg-stop")
        try:
            status, headers = first_answer(self.node, upgrade("e2e-" + uuid.uuid4().hex))
        finally:
            services("pg-start")
        self.assertEqual(status, 503, headers)
        self.assertEqual(headers.get(NOSNIFF[0]), NOSNIFF[1], headers)
        # Like every answer: the id that names it in the node's log.
        self.assertRegex(headers.get("x-request-id", ""), r"^[0-9a-f]{16}$", headers)


class OverTheConnectionCap(NodeTestCase):
    node_env = {"TANDEM_HTTP_MAX_CONNECTIONS": "2"}

    def test_the_503_over_the_cap_says_nosniff(self):
        held = [self.node.counted_connection() for _ in range(2)]
        try:
            status, headers = first_answer(self.node, b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        finally:
            for s in held:
                s.close()
        self.assertEqual(status, 503)
        self.assertEqual(headers.get(NOSNIFF[0]), NOSNIFF[1], headers)


if __name__ == "__main__":
    unittest.main()
