"""What an operator sees of a running node: the worker pools (their waits included), the chat
writer's group commits (batch sizes, commit latency), the mailboxes of the node-wide actors,
the actor count, WebSocket connections and deliveries, and presence updates on /metrics after
real traffic, each checked to move with it; and socket errors in the log: a warning with the peer
for a connection that failed (a broken WebSocket frame), none for the ordinary ends of a
connection, and no more than log.socket_errors_per_s of them however many fail.

The WebSocket clients here are raw sockets, so that a test can send what no library would
(an unmasked frame) and end a connection any way it likes (close frame, FIN, reset).
"""
import base64
import json
import os
import re
import socket
import struct
import time
import urllib.parse
import uuid

from tandem import TITLE, URL, NodeTestCase, RealtimeCase, mint_token

JWT_KEY = "e2e-observability-signing-key-" + "o" * 32
POOLS = ("db", "redis", "password_hasher", "media")
POOL_FAMILIES = {"tandem_pool_workers": "gauge", "tandem_pool_busy": "gauge",
                 "tandem_pool_queued": "gauge", "tandem_pool_queue_limit": "gauge",
                 "tandem_pool_jobs_total": "counter", "tandem_pool_rejected_total": "counter",
                 "tandem_pool_expired_total": "counter", "tandem_pool_limited_total": "counter",
                 "tandem_pool_restarts_total": "counter"}
SAMPLE = re.compile(r'^([a-z_]+)(?:\{pool="([a-z_]+)"\})? (\d+)$')
SERIES = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')
# The node-wide actors whose mailboxes are sampled, and the kinds of pushed events.
MAILBOXES = {"user_registry", "conversation_registry", "message_writer"}
PUSH_KINDS = {"presence", "social", "chat"}
# A 1x1 PNG: signature, IHDR, IDAT, IEND.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
                       "hKmMIQAAAABJRU5ErkJggg==")


def scrape(test):
    """/metrics as {(name, pool or None): value} and {name: type}."""
    status, _, text = test.node.request("GET", "/metrics")
    test.assertEqual(status, 200, text)
    values, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            test.assertNotIn(name, types, f"{name} has two TYPE lines")
            types[name] = kind
        elif not line.startswith("#"):
            m = SAMPLE.match(line)
            if m:
                values[(m.group(1), m.group(2))] = int(m.group(3))
    return values, types


def series(test):
    """/metrics as {(name, ((label, value), ...)): value}, labels sorted, every sample."""
    status, _, text = test.node.request("GET", "/metrics")
    test.assertEqual(status, 200, text)
    found = {}
    for line in text.splitlines():
        m = SERIES.match(line)
        if m and not line.startswith("#"):
            labels = tuple(sorted(re.findall(r'([a-z_]+)="([^"]*)"', m.group(2) or "")))
            found[(m.group(1), labels)] = float(m.group(3))
    return found


def value(found, name, **labels):
    return found[(name, tuple(sorted(labels.items())))]


def histogram(test, found, name, **labels):
    """(count, sum) of one histogram series, checked to be well formed: cumulative buckets
    that never fall, the +Inf one equal to the count."""
    key = tuple(sorted(labels.items()))
    buckets = sorted((float(dict(l)["le"]), v) for (n, l), v in found.items()
                     if n == name + "_bucket" and tuple(x for x in l if x[0] != "le") == key)
    test.assertGreater(len(buckets), 1, f"{name}{labels} has no buckets")
    counts = [v for _, v in buckets]
    test.assertEqual(counts, sorted(counts), f"{name}{labels}: buckets must be cumulative")
    count = found[(name + "_count", key)]
    test.assertEqual(buckets[-1], (float("inf"), count))
    return count, found[(name + "_sum", key)]


class User:
    """A user with a token of the node's key and a profile."""

    def __init__(self, test):
        self.test = test
        self.id = str(uuid.uuid4())
        self.token = mint_token(JWT_KEY, self.id, self.id + "@example.com")
        self.ok("POST", "/users/me", {"first_name": "Obs", "last_name": "Erver"})

    def call(self, method, path, body=None):
        status, _, text = self.test.node.request(
            method, path, body=None if body is None else json.dumps(body),
            headers={"Authorization": "Bearer " + self.token})
        return status, text

    def ok(self, method, path, body=None):
        status, text = self.call(method, path, body)
        self.test.assertEqual(status, 200, f"{method} {path}: {text}")
        return json.loads(text)


class RawWebSocket:
    """A WebSocket client on a plain socket: sends frames masked or not, reads text frames."""

    def __init__(self, port, user, path="/ws/chat"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        target = path + "?Authorization=" + urllib.parse.quote(user.token, safe="")
        self.sock.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                           f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n")
                          .encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"closed during the handshake: {self.buffer!r}")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if head.split(b" ", 2)[1] != b"101":
            raise AssertionError(f"handshake refused: {head!r}")
        host, port = self.sock.getsockname()
        self.peer = f"{host}:{port}"  # as the node names this connection

    def send(self, payload, opcode=0x1, masked=True):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        mask = os.urandom(4) if masked else b""
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data)) if masked else data
        bit = 0x80 if masked else 0
        length = (struct.pack("!B", bit | len(data)) if len(data) < 126
                  else struct.pack("!BH", bit | 126, len(data)))
        self.sock.sendall(struct.pack("!B", 0x80 | opcode) + length + mask + body)

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("the node closed the WebSocket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self):
        """The next frame: (opcode, payload)."""
        first, second = self._read(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return first & 0x0F, self._read(n)

    def frame_of_type(self, kind):
        """Reads text frames until one of this `type`; returns it parsed."""
        while True:
            opcode, payload = self.recv()
            if opcode == 0x1 and json.loads(payload).get("type") == kind:
                return json.loads(payload)

    def close_frame(self):
        """A close frame (1000), then the node's close frame, then the end of the stream."""
        self.send(struct.pack("!H", 1000), opcode=0x8)
        while self.recv()[0] != 0x8:
            pass
        self.wait_closed()

    def wait_closed(self):
        """Reads until the node ends the stream (its FIN or reset)."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        self.sock.close()

    def reset(self):
        """Ends the connection with a TCP reset (SO_LINGER 0)."""
        reset(self.sock)


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class MetricsAfterTraffic(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_DB_POOL_SIZE": "3",
                "TANDEM_DB_QUEUE_LIMIT": "77", "TANDEM_REDIS_POOL_SIZE": "2",
                "TANDEM_REDIS_QUEUE_LIMIT": "55", "TANDEM_AUTH_HASHER_THREADS": "2",
                "TANDEM_AUTH_HASHER_QUEUE_LIMIT": "33",
                # Tiny hashing costs: the registration is traffic here, not a benchmark.
                "TANDEM_AUTH_ARGON2_MEMORY_KIB": "1024", "TANDEM_AUTH_ARGON2_ITERATIONS": "1"}

    def traffic(self):
        """A registration (password hasher, database, Redis), a profile image (media
        store) and a chat message acknowledged after its commit (chat writer)."""
        status, _, body = self.node.request(
            "POST", "/auth/register",
            json.dumps({"email": uuid.uuid4().hex + "@example.com",
                        "password": "correct horse battery"}))
        self.assertEqual(status, 201, body)
        ann, bob = User(self), User(self)
        url = urllib.parse.urlsplit(ann.ok("GET", "/users/me/profile-image-upload-url?image_ext=png"))
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            s.sendall((f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                       "Connection: close\r\nContent-Type: image/png\r\n"
                       f"Content-Length: {len(PNG)}\r\n\r\n").encode() + PNG)
            answer = s.recv(65536)
            self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer)
        conversation = ann.ok("POST", "/conversation",
                              {"recipientIdArr": [bob.id], "isGroup": False,
                               "title": ""})["conversationId"]
        ws = RawWebSocket(self.node.port, ann)
        ws.send({"action": "send-message", "tempMessageId": "t-1",
                 "conversationId": conversation, "content": "hello"})
        self.assertEqual(ws.frame_of_type("new-message")["tempMessageId"], "t-1")
        ws.close_frame()

    def test_pools_writer_and_actors_are_on_metrics_with_sane_values(self):
        self.traffic()
        values, types = scrape(self)
        for family, kind in POOL_FAMILIES.items():
            self.assertEqual(types.get(family), kind, family)
            for pool in POOLS:
                self.assertIn((family, pool), values, f"{family} of {pool}")
        workers = {"db": 3, "redis": 2, "password_hasher": 2}
        limits = {"db": 77, "redis": 55, "password_hasher": 33}
        for pool in POOLS:
            with self.subTest(pool=pool):
                v = {family: values[(family, pool)] for family in POOL_FAMILIES}
                self.assertEqual(v["tandem_pool_workers"], workers.get(pool, v["tandem_pool_workers"]))
                self.assertGreaterEqual(v["tandem_pool_workers"], 1)
                self.assertLessEqual(v["tandem_pool_busy"], v["tandem_pool_workers"])
                self.assertEqual(v["tandem_pool_queue_limit"],
                                 limits.get(pool, v["tandem_pool_queue_limit"]))
                self.assertLessEqual(v["tandem_pool_queued"], v["tandem_pool_queue_limit"])
                # Each pool ran the traffic's jobs, and nothing was refused or lost.
                self.assertGreaterEqual(v["tandem_pool_jobs_total"], 1)
                for family in ("tandem_pool_rejected_total", "tandem_pool_expired_total",
                               "tandem_pool_limited_total", "tandem_pool_restarts_total"):
                    self.assertEqual(v[family], 0, family)
        self.assertGreater(values[("tandem_pool_jobs_total", "db")], 3)
        # The message was committed before its echo: nothing waits, nothing was refused.
        self.assertEqual(types.get("tandem_chat_messages_waiting"), "gauge")
        self.assertEqual(values[("tandem_chat_messages_waiting", None)], 0)
        self.assertEqual(types.get("tandem_chat_messages_refused_total"), "counter")
        self.assertEqual(values[("tandem_chat_messages_refused_total", None)], 0)
        self.assertGreaterEqual(values[("tandem_chat_messages_committed_total", None)], 1)
        # The facades and their workers at least; a user actor per user, a conversation...
        self.assertEqual(types.get("tandem_actors_running"), "gauge")
        self.assertGreaterEqual(values[("tandem_actors_running", None)],
                                sum(workers.values()) + 1 + 4)
        self.assertEqual(types.get("tandem_socket_errors_total"), "counter")
        self.assertEqual(values[("tandem_socket_errors_total", None)], 0)

    def test_the_pool_gauges_follow_the_load(self):
        before, _ = scrape(self)
        for _ in range(3):
            self.assertEqual(self.node.request("GET", "/readyz")[0], 200)
        after, _ = scrape(self)
        # /readyz runs two database jobs and one Redis job (the actors may run more).
        self.assertGreaterEqual(after[("tandem_pool_jobs_total", "db")]
                                - before[("tandem_pool_jobs_total", "db")], 6)
        self.assertGreaterEqual(after[("tandem_pool_jobs_total", "redis")]
                                - before[("tandem_pool_jobs_total", "redis")], 3)


    def test_group_commits_pool_waits_and_websocket_deliveries_grow_with_traffic(self):
        before = series(self)
        self.traffic()
        # The WebSocket's close is counted once the node has handled it.
        after = self.node.wait_for(
            lambda: (lambda v: v if value(v, "tandem_websocket_closed_total")
                     > value(before, "tandem_websocket_closed_total") else None)(series(self)))

        def grew(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        # One chat message: one more commit latency observed, in one more batch of one.
        commits, latency = histogram(self, after, "tandem_chat_commit_seconds")
        self.assertEqual(commits - histogram(self, before, "tandem_chat_commit_seconds")[0], 1)
        self.assertGreater(latency, 0)
        self.assertLess(latency, 60)
        batches, messages = histogram(self, after, "tandem_chat_batch_size")
        old_batches, old_messages = histogram(self, before, "tandem_chat_batch_size")
        self.assertEqual((batches - old_batches, messages - old_messages), (1, 1))
        self.assertEqual(batches, value(after, "tandem_chat_batches_total"))

        # Every job a worker answered waited for it first; a job still running has waited.
        for pool in POOLS:
            with self.subTest(pool=pool):
                waits, waited = histogram(self, after, "tandem_pool_wait_seconds", pool=pool)
                jobs = value(after, "tandem_pool_jobs_total", pool=pool)
                self.assertGreaterEqual(waits, jobs)
                self.assertLessEqual(waits, jobs + value(after, "tandem_pool_busy", pool=pool))
                self.assertGreater(
                    waits - histogram(self, before, "tandem_pool_wait_seconds", pool=pool)[0], 0)
                self.assertGreaterEqual(waited, 0)

        # The node-wide mailboxes: exactly these, and drained once the traffic is answered.
        mailboxes = {dict(l)["actor"]: v for (n, l), v in after.items()
                     if n == "tandem_mailbox_depth"}
        self.assertEqual(set(mailboxes), MAILBOXES)
        for actor, depth in mailboxes.items():
            self.assertLess(depth, 100, actor)

        # One socket opened and closed; its send-message read; the echo written and counted
        # as a chat push.
        self.assertEqual(grew("tandem_websocket_opened_total"), 1)
        self.assertEqual(grew("tandem_websocket_closed_total"), 1)
        self.assertEqual(grew("tandem_websocket_frames_received_total"), 1)
        self.assertGreaterEqual(grew("tandem_websocket_frames_sent_total"), 1)
        self.assertGreaterEqual(grew("tandem_websocket_sent_bytes_total"),
                                len('{"type":"new-message"}'))
        kinds = {dict(l)["kind"] for (n, l), _ in after.items() if n == "tandem_ws_pushes_total"}
        self.assertEqual(kinds, PUSH_KINDS)
        self.assertGreaterEqual(grew("tandem_ws_pushes_total", kind="chat"), 1)


class PresenceMetrics(RealtimeCase):

    def test_a_presence_update_delivered_to_a_friend_moves_the_presence_counters(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()
        before = series(self)

        async def body():
            a = await ann.connect("/ws/presence")
            b = await bob.connect("/ws/presence")
            await a.update(URL, TITLE)
            self.assertEqual((await b.expect("update-presence"))["userId"], ann.id)
            self.assertEqual((await a.expect("update-presence"))["userId"], ann.id)
        self.scenario(body)

        # Ann's last socket closed: she is offline, and her friend is told so.
        after = self.node.wait_for(
            lambda: (lambda v: v if value(v, "tandem_presence_offline_total")
                     > value(before, "tandem_presence_offline_total") else None)(series(self)))

        def grew(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        self.assertEqual(grew("tandem_presence_updates_received_total"), 1)
        self.assertEqual(grew("tandem_presence_published_total"), 1)
        self.assertEqual(grew("tandem_presence_offline_total"), 1)
        # Bob's socket and Ann's own got the update.
        self.assertGreaterEqual(grew("tandem_ws_pushes_total", kind="presence"), 2)
        self.assertEqual(grew("tandem_ws_pushes_total", kind="chat"), 0)
        self.assertEqual(grew("tandem_websocket_opened_total"), 2)
        self.assertEqual(grew("tandem_websocket_frames_received_total"), 1)
        self.assertGreaterEqual(grew("tandem_websocket_frames_sent_total"), 2)


def socket_warnings(node):
    return [e for e in node.logs if e.get("msg") == "socket failed"]


class SocketErrorLog(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_HTTP_IDLE_TIMEOUT_MS": "300",
                "TANDEM_HTTP_HEADER_TIMEOUT_MS": "300"}

    def settle(self):
        """Waits until the only connection open is the one asking (the node has handled
        every earlier close), and returns /metrics."""
        def idle():
            values, _ = scrape(self)
            quiet = (values[("tandem_http_open_connections", None)] == 1
                     and values[("tandem_websocket_connections", None)] == 0)
            return values if quiet else None
        return self.node.wait_for(idle)

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.node.port), timeout=10)

    def test_the_ordinary_ends_of_a_connection_log_no_warning(self):
        errors = self.settle()[("tandem_socket_errors_total", None)]
        logged = len(self.node.logs)
        user = User(self)
        # HTTP: a request answered, then FIN; a keep-alive connection closed when idle;
        # headers cut short by the header deadline, by FIN, by a reset.
        with self.connect() as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
        with self.connect() as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"pong" not in answer:
                answer += s.recv(65536)
            self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer)
            self.assertEqual(s.recv(65536), b"")  # http.idle_timeout_ms
        with self.connect() as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost:")
            self.assertEqual(s.recv(65536), b"")  # http.header_timeout_ms
        with self.connect() as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost:")
        s = self.connect()
        s.sendall(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        reset(s)
        # WebSocket: a close frame, a FIN without one, a reset.
        RawWebSocket(self.node.port, user).close_frame()
        ws = RawWebSocket(self.node.port, user)
        ws.sock.shutdown(socket.SHUT_WR)
        ws.wait_closed()
        RawWebSocket(self.node.port, user).reset()
        values = self.settle()
        self.assertEqual(values[("tandem_socket_errors_total", None)], errors)
        self.assertEqual([e for e in self.node.logs[logged:] if e.get("level") == "warn"], [])

    def test_a_broken_websocket_frame_is_a_warning_with_its_peer(self):
        errors = self.settle()[("tandem_socket_errors_total", None)]
        ws = RawWebSocket(self.node.port, User(self))
        ws.send({"action": "heartbeat"}, masked=False)  # clients must mask (RFC 6455 5.1)
        ws.wait_closed()
        warning = self.node.wait_for(
            lambda: [w for w in socket_warnings(self.node) if w.get("peer") == ws.peer])[0]
        self.assertEqual(warning["level"], "warn")
        self.assertEqual(warning["during"], "websocket read")
        self.assertTrue(warning["code"].startswith("boost.beast.websocket:"), warning)
        self.assertTrue(warning["error"], warning)
        self.assertEqual(self.settle()[("tandem_socket_errors_total", None)], errors + 1)


class SocketErrorFlood(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_LOG_SOCKET_ERRORS_PER_S": "1"}

    def test_a_flood_of_failing_sockets_is_counted_but_warned_about_per_s(self):
        user = User(self)
        flood = 20
        started = time.monotonic()
        for _ in range(flood):
            ws = RawWebSocket(self.node.port, user)
            ws.send({"action": "heartbeat"}, masked=False)
            ws.wait_closed()
        self.node.wait_for(
            lambda: scrape(self)[0][("tandem_socket_errors_total", None)] == flood)
        elapsed = time.monotonic() - started
        warnings = socket_warnings(self.node)
        # The budget: one at once, one a second.
        self.assertGreaterEqual(len(warnings), 1)
        self.assertLessEqual(len(warnings), 1 + int(elapsed))
        self.assertLess(len(warnings), flood)
        # Once the budget has a token again (the wait is what refills it), the next warning
        # says how many were not logged.
        time.sleep(1.1)
        ws = RawWebSocket(self.node.port, user)
        ws.send({"action": "heartbeat"}, masked=False)
        ws.wait_closed()
        last = self.node.wait_for(
            lambda: [w for w in socket_warnings(self.node) if w.get("peer") == ws.peer])[0]
        self.assertGreater(last.get("suppressed", 0), 0, last)
        warnings = socket_warnings(self.node)
        self.assertEqual(len(warnings) + sum(w.get("suppressed", 0) for w in warnings), flood + 1)
