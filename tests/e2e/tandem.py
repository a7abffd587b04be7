"""The one helper module of the end-to-end tests: a real `tandem` node on real sockets,
tokens and media URLs minted the way the node makes them, the people of a test (REST and
WebSocket clients), and the base test cases the test modules build on. Test modules
import from here (the cluster tests also from cluster.py and history.py), never from each
other.

The test command (scripts/test) provides PostgreSQL, Redis and the binary through
TANDEM_TEST_* variables; a missing variable fails the test loudly, never skips it.

Tokens are HS256 over the claims sub, email, iat, exp, iss, aud and jti, signed with the
key the test gives the node (TANDEM_AUTH_JWT_KEY), so that a test needs neither the
register nor the login route; media URLs are signed as media_url_signer does, with the
node's TANDEM_MEDIA_URL_KEY.
"""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
import zlib


# How ASan, LeakSanitizer and UBSan start a report.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def required_env(name):
    value = os.environ.get(name)
    if not value:
        raise AssertionError(f"{name} is not set: run the tests with scripts/test")
    return value


def create_database():
    """An empty database of its own for one node; returns its DSN."""
    admin = required_env("TANDEM_TEST_PG_DSN")
    name = "tandem_e2e_" + uuid.uuid4().hex[:12]
    psql(admin, f'CREATE DATABASE "{name}"')
    return f"{admin} dbname={name}"


def psql(dsn, sql):
    """Runs `sql` on the database `dsn`; fails loudly on any error."""
    subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True,
                   capture_output=True)


def services(verb):
    """Stops or starts the test's PostgreSQL or Redis (pg-stop, pg-start, ...)."""
    subprocess.run(required_env("TANDEM_TEST_SERVICES") + " " + verb, shell=True, check=True,
                   capture_output=True)


def served_routes(env=None):
    """The lines of `tandem routes` (`METHOD PATTERN GUARD`, `WS PATH token`, `FRAME ACTION`):
    what the binary serves with the configuration `env` adds."""
    out = subprocess.run([required_env("TANDEM_TEST_BIN"), "routes"], capture_output=True,
                         text=True, timeout=30, env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise AssertionError(f"tandem routes failed ({out.returncode}): {out.stderr}")
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if len(set(lines)) != len(lines):
        raise AssertionError(f"tandem routes lists a line twice: {lines}")
    return lines


def http_request(port, method, path, body=None, headers=None, timeout=10):
    """One request to 127.0.0.1:`port` on a fresh connection: (status, headers dict, body
    text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read().decode()
    finally:
        conn.close()


def read_head(s):
    """What a socket receives until the end of an HTTP head (with what came after it in the
    same reads), or until the peer closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class Node:
    """A tandem process on a free port, with its JSON log lines collected."""

    def __init__(self, extra_env=None, args=("serve",)):
        env = dict(os.environ)
        # Profile images go to a directory of the node's own, removed with this object,
        # never to media.dir's default below the working directory (the source tree).
        self._media_dir = tempfile.TemporaryDirectory(prefix="tandem-e2e-media-")
        extra_env = extra_env or {}
        env.update({
            "TANDEM_HTTP_PORT": "0",
            # A database of its own unless the test shares one between nodes.
            "TANDEM_DB_DSN": extra_env.get("TANDEM_DB_DSN") or create_database(),
            "TANDEM_MEDIA_DIR": self._media_dir.name,
            "TANDEM_REDIS_HOST": required_env("TANDEM_TEST_REDIS_HOST"),
            "TANDEM_REDIS_PORT": required_env("TANDEM_TEST_REDIS_PORT"),
            # Every node of a run shares one Redis, where the per-address registration
            # counter would carry one test class's sign-ups (all from 127.0.0.1) into the
            # next; the tests of that budget set their own.
            "TANDEM_AUTH_REGISTER_MAX_PER_ADDRESS": "1000000",
        })
        env.update(extra_env)
        # The node's own database, for tests that arrange rows no route writes.
        self.db_dsn = env["TANDEM_DB_DSN"]
        self.media_dir = env["TANDEM_MEDIA_DIR"]
        self._command = ([required_env("TANDEM_TEST_BIN"), *args], env)
        self._start()

    def _start(self):
        command, env = self._command
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.logs = []
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read_logs, daemon=True)
        self._reader.start()
        # stderr is read as it comes, so that a long report can never block the node.
        self._stderr = []
        self._stderr_reader = threading.Thread(target=self._stderr.extend, args=(self.proc.stderr,),
                                               daemon=True)
        self._stderr_reader.start()
        if not self._listening.wait(30):
            self.stop()
            raise AssertionError("node did not start listening: " + "".join(self._stderr))

    def _read_logs(self):
        for line in self.proc.stdout:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            self.logs.append(entry)
            if entry.get("msg") == "listening":
                self.port = entry["port"]
                self._listening.set()

    def request(self, method, path, body=None, headers=None):
        return http_request(self.port, method, path, body, headers)

    def metric(self, name):
        """The value of the unlabelled sample `name` on /metrics."""
        status, _, text = self.request("GET", "/metrics")
        if status != 200:
            raise AssertionError(f"/metrics answered {status}")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
        raise AssertionError("no metric " + name)

    def raw(self, data, timeout=5):
        """Sends raw bytes and returns everything the server sends until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")

    def counted_connection(self, timeout=10):
        """A kept-alive connection the node has accepted and answered, so that it counts
        against http.max_connections. A connection of an earlier request may still be counted
        for a moment after its close, and the node refuses this one meanwhile: try again."""
        deadline = time.monotonic() + timeout
        while True:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
            reply = read_head(s)
            if reply.startswith(b"HTTP/1.1 200 "):
                return s
            s.close()
            if time.monotonic() > deadline:
                raise AssertionError("the node kept refusing a connection: %r" % reply[:200])
            time.sleep(0.05)

    def wait_for(self, predicate, timeout=20, interval=0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(interval)
        raise AssertionError("condition not met within %ss" % timeout)

    def terminate(self, timeout=15):
        """SIGTERM and wait; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._check_sanitizers()
        return code

    def crash_and_restart(self):
        """SIGKILL (no shutdown of any kind), then the same node again: same database,
        media directory and configuration, on a new port once it listens."""
        self.proc.kill()
        self.proc.wait()
        self._check_sanitizers()
        self._reader.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self._start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._check_sanitizers()

    def _check_sanitizers(self):
        """Fails on a report of the sanitized build (scripts/test) on the node's stderr,
        whatever the node's exit code was."""
        self._stderr_reader.join(10)
        text = "".join(self._stderr)
        if any(mark in text for mark in SANITIZER_MARKS):
            raise AssertionError("sanitizer report on the node's stderr:\n" + text)


class NodeTestCase(unittest.TestCase):
    """One node for the whole class; `node_env` adds configuration."""
    node_env = {}

    @classmethod
    def setUpClass(cls):
        cls.node = Node(cls.node_env)

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def get_json(self, path, headers=None):
        status, hdrs, body = self.node.request("GET", path, headers=headers)
        self.assertEqual(hdrs.get("content-type"), "application/json", body)
        return status, hdrs, json.loads(body)


# -- tokens and signed URLs ---------------------------------------------------------------
# The signing keys of the nodes that the helpers below start or talk to.
JWT_KEY = "e2e-signing-key-" + "k" * 32
MEDIA_KEY = "e2e-media-url-key-" + "m" * 32
# Argon2 parameters that make a registration or login cheap.
FAST_ARGON2 = {"TANDEM_AUTH_ARGON2_MEMORY_KIB": "1024", "TANDEM_AUTH_ARGON2_ITERATIONS": "1"}

ISSUER = "tandem"
AUDIENCE = "tandem-clients"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(key, user_id, email, ttl_s=600, issued_at=None):
    """`issued_at` (epoch seconds) defaults to now; exp is `ttl_s` after it."""
    now = int(time.time()) if issued_at is None else issued_at
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": user_id, "email": email, "iat": now, "exp": now + ttl_s, "iss": ISSUER,
              "aud": AUDIENCE, "jti": uuid.uuid4().hex}
    signing_input = (b64url(json.dumps(header).encode()) + "."
                     + b64url(json.dumps(claims).encode()))
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def sign_media_url(key, port, method, object_key, expires):
    """A URL of the node on `port` for `object_key`, valid for `method` until `expires`."""
    message = "tandem-media-url-v1\n%s\n%s\n%d" % (method, object_key, expires)
    sig = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return "http://127.0.0.1:%d/media/%s?expires=%d&signature=%s" % (port, object_key, expires,
                                                                      sig)


# -- people: REST calls with a token, and their sockets -----------------------------------
BASE_ENV = {"TANDEM_AUTH_JWT_KEY": JWT_KEY}
DELIVERY_S = 1.0   # a push reaches its sockets within this
QUIET_S = 0.5      # how long "nothing arrives" is watched, after a marker

URL = "https://www.example.co.uk/x"
TITLE = "Example page"
PROFILE_KEYS = ("first_name", "last_name", "description", "share_mode", "domain_allow_array",
                "domain_deny_array", "gender", "school", "work", "location", "email_public",
                "gender_public", "school_public", "work_public", "location_public")


def path_of(*segments, **query):
    path = "/" + "/".join(urllib.parse.quote(s, safe="") for s in segments)
    return path + ("?" + urllib.parse.urlencode(query) if query else "")


class Person:
    """A user of the node: id, email, token (for a node started with JWT_KEY), a profile
    unless register=False, calls made with that token, and sockets. `via` is where the
    calls and sockets go (anything with `port` and `request`, as Node): the test's current
    node unless set; a cluster test moves a person between nodes by setting it."""

    def __init__(self, test, first="Test", last="User", email=None, register=True, via=None):
        self.test = test
        self._via = via
        self.id = str(uuid.uuid4())
        self.email = email or f"{self.id}@example.com"
        self.first, self.last = first, last
        self.token = mint_token(JWT_KEY, self.id, self.email)
        self.headers = {"Authorization": "Bearer " + self.token}
        if register:
            self.ok("POST", "/users/me", {"first_name": first, "last_name": last})

    @property
    def via(self):
        return self._via or self.test.node

    @via.setter
    def via(self, target):
        self._via = target

    def call(self, method, path, body=None):
        """(status, parsed JSON body); the body as text when it is not JSON."""
        data = body if isinstance(body, str) or body is None else json.dumps(body)
        status, _, text = self.via.request(method, path, body=data, headers=self.headers)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def ok(self, method, path, body=None):
        status, reply = self.call(method, path, body)
        self.test.assertEqual(status, 200, f"{method} {path}: {reply}")
        return reply

    def status(self, method, path, body=None):
        return self.call(method, path, body)[0]

    # -- the routes, by what they do --------------------------------------------------
    def request(self, other):
        return self.ok("POST", "/friendship/requests", {"user_id2": other.id})

    def accept(self, other):
        return self.ok("POST", "/friendship/accept", {"user_id1": other.id})

    def befriend(self, other):
        self.request(other)
        other.accept(self)

    def check(self, other):
        return self.ok("GET", path_of("friendship", "check", other.id))

    def incoming(self):
        return self.ok("GET", "/friendship/requests")

    def friends_of(self, other, **query):
        return self.ok("GET", path_of("users", "id", other.id, "friends", **query))

    def unread(self):
        return self.ok("GET", "/notifications/share?is_read=false")

    # -- privacy and presence ----------------------------------------------------------
    def set_sharing(self, share_mode, allow=None, deny=None):
        """U4 with the whole profile: share_mode and (optionally) both domain lists."""
        profile = self.ok("GET", "/users/me")
        body = {k: profile[k] for k in PROFILE_KEYS}
        body["share_mode"] = share_mode
        if allow is not None:
            body["domain_allow_array"] = list(allow)
        if deny is not None:
            body["domain_deny_array"] = list(deny)
        updated = self.ok("PUT", "/users/me", body)
        self.test.assertEqual(updated["share_mode"], share_mode)

    def share_all(self):
        self.set_sharing("default_all", deny=[])

    def presence_of(self, other):
        """P2: (status, body); the body is '' when the server sent an empty one."""
        return self.call("GET", "/presence/" + urllib.parse.quote(other.id, safe=""))

    # -- WebSocket ----------------------------------------------------------------------
    async def connect(self, path="/ws", name=None):
        """A socket authenticated by ?Authorization=<token> (the extension's way)."""
        query = "?Authorization=" + urllib.parse.quote(self.token, safe="")
        return await self.test.open_socket(path + query, name=name or f"{self.first}{path}",
                                           port=self.via.port)


def presence(user, url, title, domain, latest=("", "", "")):
    """The update-presence frame the spec prescribes."""
    return {"type": "update-presence", "userId": user.id, "url": url, "title": title,
            "domain": domain, "latestUrl": latest[0], "latestTitle": latest[1],
            "latestDomain": latest[2]}


class Socket:
    """One client WebSocket with JSON helpers that fail the test instead of hanging.

    websockets (Debian's python3-websockets) is imported where a socket is used, so that
    the benchmarks can mint tokens with this module under a Python that lacks it."""

    def __init__(self, test, ws, name):
        self.test, self.ws, self.name = test, ws, name

    async def send(self, frame):
        await self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    async def update(self, url, title):
        await self.send({"action": "update-presence", "url": url, "title": title})

    async def heartbeat(self):
        await self.send({"action": "heartbeat"})

    async def recv(self, timeout=DELIVERY_S):
        """The next frame, parsed; fails if none arrives within `timeout`."""
        import websockets.exceptions
        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            self.test.fail(f"{self.name}: no frame within {timeout} s")
        except websockets.exceptions.ConnectionClosed as e:
            self.test.fail(f"{self.name}: closed ({e.code} {e.reason!r}) while waiting for a frame")
        self.test.assertIsInstance(data, str, f"{self.name}: a binary frame from the server")
        frame = json.loads(data)
        self.test.assertIsInstance(frame, dict, f"{self.name}: {data}")
        return frame

    async def expect(self, kind, timeout=DELIVERY_S):
        frame = await self.recv(timeout)
        self.test.assertEqual(frame.get("type"), kind, f"{self.name}: {frame}")
        return frame

    async def next_of(self, kind, timeout=3.0):
        """The next frame of type `kind`, skipping others; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if frame.get("type") == kind:
                return frame

    async def recv_many(self, count, timeout=DELIVERY_S):
        """`count` frames in the order they arrive, all within `timeout`."""
        deadline = time.monotonic() + timeout
        frames = []
        for _ in range(count):
            frames.append(await self.recv(max(0.01, deadline - time.monotonic())))
        return frames

    async def quiet(self, timeout=QUIET_S):
        """Fails if any frame arrives within `timeout`."""
        import websockets.exceptions
        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            return
        except websockets.exceptions.ConnectionClosed as e:
            self.test.fail(f"{self.name}: closed ({e.code} {e.reason!r}), expected it quiet")
        self.test.fail(f"{self.name}: expected no frame, got {data!r}")

    async def closed(self, timeout):
        """Reads (and drops) frames until the server closes; (code, reason)."""
        import websockets.exceptions

        async def drain():
            try:
                while True:
                    await self.ws.recv()
            except websockets.exceptions.ConnectionClosed:
                pass
        try:
            await asyncio.wait_for(drain(), timeout)
        except asyncio.TimeoutError:
            self.test.fail(f"{self.name}: still open after {timeout} s")
        return self.ws.close_code, self.ws.close_reason

    async def close(self):
        await asyncio.wait_for(self.ws.close(), 5)


class RawSocket:
    """A WebSocket client on a plain TCP socket with a receive buffer of a few KB: after
    the handshake it sends frames but never reads one, like a client that stopped
    reading (issue 14, item 6). Whether the server closed the TCP connection is read
    from the kernel's TCP state, without reading the data."""

    ESTABLISHED = 1

    def __init__(self, port, target, rcvbuf=4096, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                           f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise AssertionError(f"closed during the handshake: {head!r}")
            head += chunk
        status = head.split(b" ", 2)[1]
        if status != b"101":
            raise AssertionError(f"handshake refused: {head!r}")

    def send(self, frame):
        """One masked text frame; False once the server has reset the connection."""
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        else:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(header + mask + masked)
            return True
        except OSError:
            return False

    def heartbeat(self):
        return self.send({"action": "heartbeat"})

    def is_open(self):
        """Whether the connection is still ESTABLISHED (the server closed or reset it
        otherwise)."""
        info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return info[0] == self.ESTABLISHED

    def close(self):
        self.sock.close()


class RealtimeCase(NodeTestCase):
    node_env = BASE_ENV

    def person(self, first="Test", last="User", **kwargs):
        return Person(self, first, last, **kwargs)

    def scenario(self, body, timeout=60):
        """Runs the coroutine function `body` and closes every socket it opened."""
        async def main():
            self.sockets = []
            self.raw_sockets = []
            try:
                await asyncio.wait_for(body(), timeout)
            finally:
                for s in self.raw_sockets:
                    s.close()
                for s in self.sockets:
                    try:
                        await asyncio.wait_for(s.ws.close(), 2)
                    except (asyncio.TimeoutError, OSError):
                        pass
        asyncio.run(main())

    def raw(self, person, path="/ws"):
        """A RawSocket of `person` (closed by the scenario)."""
        query = "?Authorization=" + urllib.parse.quote(person.token, safe="")
        s = RawSocket(self.node.port, path + query)
        self.raw_sockets.append(s)
        return s

    async def open_socket(self, target, headers=None, name=None, port=None):
        import websockets
        ws = await websockets.connect(f"ws://127.0.0.1:{port or self.node.port}{target}",
                                      extra_headers=headers or {}, compression=None,
                                      open_timeout=10, close_timeout=2)
        s = Socket(self, ws, name or target.split("?")[0])
        self.sockets.append(s)
        return s

    def upgrade(self, target, headers=None):
        """A raw WebSocket upgrade request: (status, lower-cased headers, body text). Returns
        at once on 101, so a wrongly accepted handshake fails the test instead of hanging."""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{self.node.port}",
                 "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                 f"Sec-WebSocket-Key: {key}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = read_head(s)
            head, _, body = data.partition(b"\r\n\r\n")
            status_line, *header_lines = head.decode(errors="replace").split("\r\n")
            status = int(status_line.split()[1])
            hdrs = {}
            for line in header_lines:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            if status != 101:
                length = int(hdrs.get("content-length", "0"))
                while len(body) < length:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            return status, hdrs, body.decode(errors="replace")

    def assert_detail(self, body, detail=None):
        reply = json.loads(body)
        self.assertEqual(set(reply), {"detail"}, body)
        self.assertIsInstance(reply["detail"], str)
        if detail is not None:
            self.assertEqual(reply["detail"], detail)


# -- chat ---------------------------------------------------------------------------------
CHAT_S = 3.0        # a chat frame (committed to PostgreSQL first) arrives within this
# sentAt: ISO 8601 UTC with milliseconds and Z.
SENT_AT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
MESSAGE_KEYS = {"messageId", "conversationId", "sentAt", "senderId", "content", "seq"}
NEW_MESSAGE_KEYS = MESSAGE_KEYS | {"type", "tempMessageId"}
LIST_KEYS = {"conversationId", "title", "isGroup", "sentAt", "latestContent", "senderId",
             "isRead", "participantId", "unreadCount"}
# Neither the gateway's per-socket frame limit, the per-user budgets nor the chat rate limit
# in the way.
UNLIMITED = {"TANDEM_WS_RATE_PER_S": "1000", "TANDEM_WS_RATE_BURST": "1000",
             "TANDEM_WS_TYPING_PER_S": "1000", "TANDEM_WS_TYPING_BURST": "1000",
             "TANDEM_WS_RECEIPTS_PER_S": "1000", "TANDEM_WS_RECEIPTS_BURST": "1000",
             "TANDEM_CHAT_RATE_PER_S": "1000", "TANDEM_CHAT_RATE_BURST": "1000"}
ANY = object()


def new_temp():
    return "tmp-" + uuid.uuid4().hex[:12]


def as_stored(frame):
    """The C5 item that a new-message frame stands for."""
    return {k: frame[k] for k in MESSAGE_KEYS}


class Chatter(Person):
    """A Person with the chat routes."""

    def create(self, others, is_group=False, title=""):
        """C1 with these recipients (people or raw ids); the conversation id."""
        ids = [o if isinstance(o, str) else o.id for o in others]
        reply = self.ok("POST", "/conversation",
                        {"recipientIdArr": ids, "isGroup": is_group, "title": title})
        self.test.assertIsInstance(reply, dict, reply)
        self.test.assertEqual(set(reply), {"conversationId"}, reply)
        uuid.UUID(reply["conversationId"])
        return reply["conversationId"]

    def group(self, others, title="Team"):
        return self.create(others, True, title)

    def direct_with(self, other):
        """C2: (status, body); the body is '' when there is no such conversation."""
        return self.call("GET", "/conversation/direct/" + urllib.parse.quote(other.id, safe=""))

    def conversations(self, is_read=None):
        path = "/conversations" + ("" if is_read is None else "?isRead=" + is_read)
        items = self.ok("GET", path)
        self.test.assertIsInstance(items, list, items)
        for item in items:
            self.test.assertEqual(set(item), LIST_KEYS, item)
        return items

    def entry(self, cid, is_read=None):
        """The C3 item of conversation `cid`, or None when it is not listed."""
        found = [c for c in self.conversations(is_read) if c["conversationId"] == cid]
        self.test.assertLessEqual(len(found), 1, f"{cid} listed twice")
        return found[0] if found else None

    def page(self, cid, query):
        items = self.ok("GET", f"/conversations/{cid}/messages?{query}")
        self.test.assertIsInstance(items, list, items)
        for item in items:
            self.test.assertEqual(set(item), MESSAGE_KEYS, item)
        return items

    def history(self, cid):
        """Every message of `cid`, ascending, by after_seq pages."""
        out, after = [], 0
        while True:
            items = self.page(cid, f"after_seq={after}&limit=100")
            if not items:
                return out
            out += items
            after = items[-1]["seq"]


class ChatSocket(Socket):
    """A Socket with chat actions and the (longer) chat delivery time as default."""

    async def recv(self, timeout=CHAT_S):
        return await Socket.recv(self, timeout)

    async def expect(self, kind, timeout=CHAT_S):
        return await Socket.expect(self, kind, timeout)

    async def recv_many(self, count, timeout=CHAT_S):
        return await Socket.recv_many(self, count, timeout)

    async def send_message(self, cid, content, temp=None):
        temp = temp or new_temp()
        await self.send({"action": "send-message", "tempMessageId": temp,
                         "conversationId": cid, "content": content})
        return temp

    async def say(self, cid, content, temp=None):
        """Sends and returns the echo, which must be this socket's next frame."""
        temp = await self.send_message(cid, content, temp)
        echo = await self.expect("new-message")
        self.test.assertEqual(echo.get("tempMessageId"), temp, echo)
        return echo

    async def read(self, cid):
        await self.send({"action": "read-messages", "conversationId": cid})

    async def typing(self, cid):
        await self.send({"action": "typing", "conversationId": cid})


class ChatCase(RealtimeCase):

    def person(self, first="Test", last="User", **kwargs):
        return Chatter(self, first, last, **kwargs)

    async def open_socket(self, target, headers=None, name=None, port=None):
        plain = await super().open_socket(target, headers, name, port)
        s = ChatSocket(self, plain.ws, plain.name)
        self.sockets[self.sockets.index(plain)] = s
        return s

    def assert_refused(self, reply, status, detail=None):
        """A (status, body) of Person.call that is `status` with a JSON {"detail"}."""
        got, body = reply
        self.assertEqual(got, status, body)
        self.assertIsInstance(body, dict, f"not a JSON error body: {body!r}")
        self.assertEqual(set(body), {"detail"}, body)
        self.assertIsInstance(body["detail"], str, body)
        if isinstance(detail, str):
            self.assertEqual(body["detail"], detail)
        elif detail is not None:
            self.assertIn(body["detail"], detail)

    def assert_new_message(self, frame, sender, cid, content, temp=ANY):
        self.assertEqual(set(frame), NEW_MESSAGE_KEYS, frame)
        self.assertEqual(frame["type"], "new-message", frame)
        self.assertEqual((frame["senderId"], frame["conversationId"], frame["content"]),
                         (sender.id, cid, content), frame)
        if temp is not ANY:
            self.assertEqual(frame["tempMessageId"], temp, frame)
        uuid.UUID(frame["messageId"])
        self.assertRegex(frame["sentAt"], SENT_AT)
        self.assertIsInstance(frame["seq"], int, frame)
        self.assertNotIsInstance(frame["seq"], bool, frame)

    def assert_error_frame(self, frame, action, temp=ANY, mentions=None):
        self.assertEqual(frame.get("type"), "error", frame)
        self.assertEqual(frame.get("action"), action, frame)
        self.assertIsInstance(frame.get("detail"), str, frame)
        self.assertTrue(frame["detail"], frame)
        if temp is not ANY:
            self.assertEqual(frame.get("tempMessageId"), temp, frame)
        if mentions is not None:
            self.assertIn(mentions, frame["detail"].lower(), frame)

    async def marker(self, person, *sockets):
        """Each socket's next frame is `person`'s own update-presence echo (a frame every
        socket of the path gets): whatever a socket was sent before it would come first.
        Ends with the sockets quiet."""
        await sockets[0].update("", "")
        for s in sockets:
            frame = await s.expect("update-presence")
            self.assertEqual(frame["userId"], person.id, frame)
        for s in sockets:
            await s.quiet(0.2)


async def until(test, predicate, timeout, what):
    """Waits (polling the event loop) until predicate() holds; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            test.fail(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


# -- media --------------------------------------------------------------------------------
def bearer(user_id):
    """Authorization for `user_id`: an access token as the node issues them."""
    return {"Authorization": "Bearer " + mint_token(JWT_KEY, user_id, "e2e@example.com")}


def png_image(width=4, height=3, padding=0):
    """A real PNG (RGB, filter 0 per row); `padding` bytes of an ancillary chunk make it
    as large as a test needs."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes((40, y * 60, 200)) * width for y in range(height))
    out = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)))
    if padding:
        out += chunk(b"tEXt", b"pad\x00" + b"x" * padding)
    return out + chunk(b"IEND", b"")


def dir_name(user_id):
    """persistence::media_dir_name for ids short enough to stay plain."""
    return "".join(c if re.match(r"[A-Za-z0-9_-]", c) else "".join("~%02X" % b for b in c.encode())
                   for c in user_id)


# The node's environment for these helpers: its keys and media.dir.
def media_env(media_dir):
    return {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_MEDIA_URL_KEY": MEDIA_KEY,
            "TANDEM_MEDIA_DIR": media_dir}


class MediaClient:
    """Helpers for a test case whose `self.node` runs with `media_env` (no tests here)."""

    def call(self, method, path, headers=None, body=None):
        """(status, parsed JSON body) of a JSON route; `body` is sent as JSON."""
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        status, hdrs, text = self.node.request(method, path, body=body, headers=headers or {})
        self.assertEqual(hdrs.get("content-type"), "application/json", text)
        return status, json.loads(text)

    def new_user(self, user_id=None):
        """A user with a profile (POST /users/me); returns its id."""
        user_id = user_id or "e2e-" + uuid.uuid4().hex
        status, body = self.call("POST", "/users/me", bearer(user_id),
                                 {"first_name": "Grace", "last_name": "Hopper"})
        self.assertEqual(status, 200, body)
        return user_id

    def upload_url(self, user_id, ext="png"):
        status, url = self.call("GET", "/users/me/profile-image-upload-url?image_ext=" + ext,
                                bearer(user_id))
        self.assertEqual(status, 200, url)
        self.assertIsInstance(url, str)
        return url

    def image_url(self, user_id, ext="png"):
        path = "/users/id/%s/profile-image-url?image_ext=%s" % (
            urllib.parse.quote(user_id, safe=""), ext)
        return self.call("GET", path)

    def media(self, method, url, body=None, headers=None):
        """A request to a signed URL of this node: (status, headers, raw body bytes)."""
        parts = urllib.parse.urlsplit(url)
        self.assertEqual(parts.netloc, "127.0.0.1:%d" % self.node.port, url)
        target = parts.path + "?" + parts.query
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, target,
                                                                            parts.netloc)
            for name, value in (headers or {}).items():
                head += "%s: %s\r\n" % (name, value)
            if body is not None:
                head += "Content-Length: %d\r\n" % len(body)
            s.sendall(head.encode() + b"\r\n" + (body or b""))
            return self.read_response(s)

    @staticmethod
    def read_response(s):
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return status, hdrs, body

    def put_image(self, url, data, content_type="image/png"):
        return self.media("PUT", url, data, {"Content-Type": content_type,
                                             "x-amz-acl": "private"})

    def signed(self, method, object_key, expires):
        """A media URL signed with the node's key, as media_url_signer does."""
        return sign_media_url(MEDIA_KEY, self.node.port, method, object_key, expires)

    def stored_files(self, user):
        """The files in the store for `user`, as paths below the media directory."""
        root = self.node.media_dir
        return sorted(os.path.relpath(os.path.join(d, f), root)
                      for d, _, files in os.walk(os.path.join(root, dir_name(user)))
                      for f in files)
