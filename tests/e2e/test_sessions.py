"""A WebSocket does not outlive its session (issue 15, item 5): logout closes the sockets
opened with that session's tokens (4002) and no others; a socket whose access token
expires is told so (token-expiring) and closes ws.reauth_grace_s after the expiry (4001)
unless an authenticate frame brings a fresh token of the same user and session.

Accounts come from /auth/register and /auth/login, so that tokens carry the session (the
refresh token family) as the node issues it. Waits are bounded by deadlines derived from
the tokens' own expiry times, never sleeps.
"""
import asyncio
import json
import time
import unittest
import urllib.parse
import uuid

import websockets

from tandem import DELIVERY_S, FAST_ARGON2, NodeTestCase, Socket

JWT_KEY = "e2e-sessions-signing-key-" + "s" * 32
PASSWORD = "correct horse battery"
URL, TITLE = "https://www.example.org/a", "A page"

SESSION_ENDED = 4002
TOKEN_EXPIRED = 4001


class Account:
    """One login of a user: its token pair, refreshed in place."""

    def __init__(self, test, pair):
        self.test, self.pair = test, pair

    @property
    def user_id(self):
        return self.pair["user_id"]

    @property
    def access(self):
        return self.pair["access_token"]

    def refresh(self):
        status, body = self.test.call("POST", "/auth/refresh",
                                      {"refresh_token": self.pair["refresh_token"]})
        self.test.assertEqual(status, 200, body)
        self.pair = body
        return body["access_token"]

    def logout(self):
        status, body = self.test.call("POST", "/auth/logout",
                                      {"refresh_token": self.pair["refresh_token"]})
        self.test.assertEqual(status, 204, body)


class SessionCase(NodeTestCase):

    def call(self, method, path, body=None, token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        status, _, text = self.node.request(method, path, json.dumps(body), headers)
        return status, json.loads(text) if text else None

    def register(self):
        """A new user with a profile: (email, its first session)."""
        email = "e2e-" + uuid.uuid4().hex[:16] + "@example.com"
        status, pair = self.call("POST", "/auth/register", {"email": email, "password": PASSWORD})
        self.assertEqual(status, 201, pair)
        status, body = self.call("POST", "/users/me", {"first_name": "Sam", "last_name": "Lee"},
                                 pair["access_token"])
        self.assertEqual(status, 200, body)
        return email, Account(self, pair)

    def login(self, email):
        """Another session of the same user."""
        status, pair = self.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
        self.assertEqual(status, 200, pair)
        return Account(self, pair)

    async def connect(self, token, name, path="/ws"):
        query = "?Authorization=" + urllib.parse.quote(token, safe="")
        ws = await websockets.connect(f"ws://127.0.0.1:{self.node.port}{path}{query}",
                                      compression=None, open_timeout=10, close_timeout=2)
        self.sockets.append(ws)
        return Socket(self, ws, name)

    async def echo(self, sock, skip=("token-expiring", "authenticated")):
        """update-presence comes back to the user's own sockets: proof that `sock` is open
        and served. Frames of the token's life cycle on the way are skipped."""
        await sock.send({"action": "update-presence", "url": URL, "title": TITLE})
        while True:
            frame = await sock.recv()
            if frame.get("type") not in skip:
                break
        # The page itself is blank: a new profile shares no domain (default_none).
        self.assertEqual(frame.get("type"), "update-presence", frame)

    def scenario(self, body, timeout=60):
        async def main():
            self.sockets = []
            try:
                await asyncio.wait_for(body(), timeout)
            finally:
                for ws in self.sockets:
                    try:
                        await asyncio.wait_for(ws.close(), 2)
                    except (asyncio.TimeoutError, OSError):
                        pass
        asyncio.run(main())


class LogoutClosesSockets(SessionCase):
    node_env = dict(FAST_ARGON2, TANDEM_AUTH_JWT_KEY=JWT_KEY)

    def test_logout_closes_the_sockets_of_its_session_and_no_others(self):
        email, first = self.register()
        second = self.login(email)

        async def body():
            mine = [await self.connect(first.access, "first/ws"),
                    await self.connect(first.access, "first/ws/chat", "/ws/chat")]
            # A token refreshed within the session still belongs to it.
            mine.append(await self.connect(first.refresh(), "first/refreshed"))
            other = await self.connect(second.access, "second/ws")
            await self.echo(other)
            first.logout()
            for sock in mine:
                code, reason = await sock.closed(DELIVERY_S * 3)
                self.assertEqual((code, reason), (SESSION_ENDED, "session signed out"))
            # The same user's other session keeps its socket, served.
            await self.echo(other)
            await other.quiet()

        self.scenario(body)

    def test_a_replayed_refresh_token_closes_the_sockets_of_its_family(self):
        _, account = self.register()
        stolen = account.pair["refresh_token"]

        async def body():
            sock = await self.connect(account.access, "victim")
            account.refresh()
            status, reply = self.call("POST", "/auth/refresh", {"refresh_token": stolen})
            self.assertEqual(status, 401, reply)
            code, _ = await sock.closed(DELIVERY_S * 3)
            self.assertEqual(code, SESSION_ENDED)

        self.scenario(body)


class ExpiringTokens(SessionCase):
    """Access tokens live 3 s; the notice comes 2 s before the expiry and the grace period
    is 2 s, so a socket that does nothing closes about 5 s after its token was issued."""
    TTL_S, NOTICE_S, GRACE_S = 3, 2, 2
    node_env = dict(FAST_ARGON2, TANDEM_AUTH_JWT_KEY=JWT_KEY, TANDEM_AUTH_ACCESS_TTL_S=str(TTL_S),
                    TANDEM_WS_EXPIRY_NOTICE_S=str(NOTICE_S), TANDEM_WS_REAUTH_GRACE_S=str(GRACE_S))

    async def notice(self, sock):
        """The token-expiring frame, within the token's lifetime."""
        frame = await sock.expect("token-expiring", timeout=self.TTL_S + 1)
        self.assertEqual(set(frame), {"type", "expiresAt", "closeAt"})
        self.assertEqual(frame["closeAt"], frame["expiresAt"] + self.GRACE_S)
        return frame

    def test_a_socket_that_does_not_reauthenticate_closes_after_the_grace_period(self):
        _, account = self.register()

        async def body():
            sock = await self.connect(account.access, "silent")
            frame = await self.notice(sock)
            await self.echo(sock)  # inside the grace period it is still served
            code, reason = await sock.closed(frame["closeAt"] - time.time() + 2)
            self.assertEqual(code, TOKEN_EXPIRED)
            self.assertIn("token expired", reason)
            # Not before the grace period was over (one second of the clock's rounding).
            self.assertGreaterEqual(time.time(), frame["closeAt"] - 1)

        self.scenario(body)

    def test_reauthenticating_keeps_the_socket_open_and_receiving(self):
        _, account = self.register()

        async def body():
            sock = await self.connect(account.access, "renewing")
            first = await self.notice(sock)
            # Each notice is answered with a fresh token of the session, past the time the
            # first token's socket would have closed.
            while time.time() < first["closeAt"] + 1.5:
                await sock.send({"action": "authenticate", "token": account.refresh()})
                ack = await sock.expect("authenticated")
                self.assertGreater(ack["expiresAt"], first["expiresAt"])
                await self.notice(sock)
            await self.echo(sock)

        self.scenario(body)

    def test_reauthenticating_with_another_users_token_is_refused(self):
        _, account = self.register()
        _, stranger = self.register()

        async def body():
            sock = await self.connect(account.access, "victim")
            await sock.send({"action": "authenticate", "token": stranger.access})
            frame = await sock.expect("error")
            self.assertEqual(frame, {"type": "error", "action": "authenticate",
                                     "detail": "The token is for another user"})
            await sock.send({"action": "authenticate", "token": "garbage"})
            frame = await sock.expect("error")
            self.assertEqual(frame["action"], "authenticate")
            # The socket keeps its own token's deadline.
            frame = await self.notice(sock)
            code, _ = await sock.closed(frame["closeAt"] - time.time() + 2)
            self.assertEqual(code, TOKEN_EXPIRED)

        self.scenario(body)


if __name__ == "__main__":
    unittest.main()
