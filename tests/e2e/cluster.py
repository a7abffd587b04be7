"""A cluster of real nodes for the e2e tests: N `tandem serve` processes with
cluster.enabled, one shared database and Redis (the test command's), HAProxy in front
configured by `scripts/cluster haproxy-config` (the balancer of `scripts/cluster up`),
and the faults the cluster tests inject.

Each node reaches PostgreSQL and Redis through a TCP proxy of its own (TcpProxy), so
that one node can be cut off from one service while the others keep it. A proxy was
chosen over network namespaces and iptables: it needs no root, touches nothing outside
the test, cannot leave a rule behind when a test dies, and a cut is exact (this node,
this service). A cut is a black hole, not a refusal: bytes are swallowed and nothing
is answered, as in a partition, so the node finds out by its own timeouts. Healing
resets the connections that lived through the cut (TCP would have given up on them),
and new connections pass again.

The nodes are started as scripts/cluster starts them (migrations once, then ids n1..nN
on fixed ports, one database, Redis and media directory, the script's HAProxy
configuration), but by the harness itself: it owns each process (signals, restarts, its
log lines, sanitizer reports on its stderr) and puts the proxies between each node and the
services; `test_cluster_basics` runs the script itself.

Faults: kill (SIGKILL), pause/resume (SIGSTOP/SIGCONT), terminate (SIGTERM), restart,
restart_postgres, redis_outage(seconds), cut/heal(node, "pg" | "redis"). Traffic:
ChatTraffic streams sends and follows deliveries into a history.History; ClusterCase
gives each test a fresh cluster and runs the traffic around a fault.
"""
import asyncio
import collections
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import websockets
import websockets.exceptions

from history import History, Row, assert_valid
from tandem import (BASE_ENV, UNLIMITED, ChatCase, Node, create_database, http_request, psql,
                    required_env, services)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER_SCRIPT = os.path.join(ROOT, "scripts", "cluster")

# Short leases, so that a failover test waits seconds rather than the production five:
# renewed every 500 ms, a node fences itself after 2 s without a renewal, and its keys
# may be claimed 3 s after its last one.
LEASE_MS = 3000
CLUSTER_ENV = {
    "TANDEM_CLUSTER_ENABLED": "true",
    "TANDEM_CLUSTER_LEASE_MS": str(LEASE_MS),
    "TANDEM_CLUSTER_RENEW_INTERVAL_MS": "500",
    "TANDEM_CLUSTER_FENCE_AFTER_MS": "2000",
    "TANDEM_CLUSTER_REQUEST_TIMEOUT_MS": "1000",
    "TANDEM_CLUSTER_DRAIN_TIMEOUT_MS": "3000",
    # HAProxy's checks (scripts/cluster haproxy-config) take a failing node out within
    # about 0.8 s: a node on SIGTERM is unready this long before it stops serving.
    "TANDEM_HTTP_SHUTDOWN_DELAY_MS": "1500",
}


def free_ports(count):
    """`count` distinct loopback ports that a bind succeeds on right now."""
    out, held = [], []
    try:
        while len(out) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            out.append(s.getsockname()[1])
        return out
    finally:
        for s in held:
            s.close()


def dsn_value(dsn, key):
    """The last `key=value` of a libpq connection string (later ones win)."""
    values = [part.partition("=")[2] for part in dsn.split() if part.startswith(key + "=")]
    if not values:
        raise AssertionError(f"no {key} in {dsn!r}")
    return values[-1]


class TcpProxy:
    """127.0.0.1:<port> forwarded to 127.0.0.1:<target>, with a switch that black-holes it.

    One thread accepts; each connection has one thread per direction. While cut, accepted
    connections are held without an upstream and every byte is swallowed; heal() resets
    every connection that saw the cut and lets new ones through."""

    def __init__(self, target_port):
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut = False
        self._pairs = []          # [client, upstream or None, saw_cut]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                cut = self._cut
            upstream = None
            if not cut:
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port), 5)
                    upstream.settimeout(None)
                except OSError:
                    client.close()     # the service is down: refused, as without a proxy
                    continue
            pair = [client, upstream, cut]
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, 0, 1), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(pair, 1, 0), daemon=True).start()

    def _pump(self, pair, source, sink):
        while True:
            try:
                data = pair[source].recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self._lock:
                if self._cut:
                    pair[2] = True
                    continue       # swallowed: a partition answers nothing
            try:
                pair[sink].sendall(data)
            except OSError:
                break
        self._reset(pair)

    @staticmethod
    def _reset(pair):
        for s in pair[:2]:
            if s is None:
                continue
            try:
                # SO_LINGER 0: close with RST, as a peer that gave up does.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self):
        with self._lock:
            self._cut = True
            for pair in self._pairs:
                pair[2] = True

    def heal(self):
        with self._lock:
            self._cut = False
            stale = [p for p in self._pairs if p[2]]
            self._pairs = [p for p in self._pairs if not p[2]]
        for pair in stale:
            self._reset(pair)

    def close(self):
        self._listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._reset(pair)


class ClusterNode(Node):
    """One node of a Cluster: its name (n1...), fixed HTTP port (the balancer's
    configuration names it) and its own proxies to PostgreSQL and Redis."""

    def __init__(self, name, port, env, proxies):
        self.name = name
        self.fixed_port = port
        self.proxies = proxies
        super().__init__(env)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.fixed_port}"

    def ready(self):
        try:
            return http_request(self.fixed_port, "GET", "/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def alive(self):
        return self.proc.poll() is None

    def restart(self):
        """The same node (name, port, configuration) again, once the last one exited;
        returns when it listens."""
        if self.alive():
            raise AssertionError(f"{self.name} is still running (pid {self.proc.pid})")
        self._check_sanitizers()
        self._reader.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self._start()


class Cluster:
    """N nodes (n1..nN) with a shared database, HAProxy in front; `env` adds
    configuration to every node. Use as a context manager, or call close()."""

    def __init__(self, n, env=None):
        self.nodes, self._balancer, self._proxies = [], None, []
        self._dir = tempfile.TemporaryDirectory(prefix="tandem-cluster-")
        self.pg_port = int(dsn_value(required_env("TANDEM_TEST_PG_DSN"), "port"))
        self.redis_port = int(required_env("TANDEM_TEST_REDIS_PORT"))
        self.db_dsn = create_database()
        self.env = {**BASE_ENV, **CLUSTER_ENV, **(env or {}),
                    "TANDEM_MEDIA_DIR": os.path.join(self._dir.name, "media")}
        try:
            self._migrate()
            ports = free_ports(n + 1)
            self.balancer_port = ports[0]
            for k, port in enumerate(ports[1:], 1):
                self.nodes.append(self._start_node(f"n{k}", port))
            self.wait(lambda: all(node.ready() for node in self.nodes), 60,
                      "every node ready")
            self._start_balancer()
        except BaseException:
            self.close()
            raise

    # -- start and stop -------------------------------------------------------------------
    def _migrate(self):
        """Once, before any node starts (as scripts/cluster does)."""
        env = {**os.environ, "TANDEM_DB_DSN": self.db_dsn}
        done = subprocess.run([required_env("TANDEM_TEST_BIN"), "migrate"], env=env,
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError("tandem migrate failed:\n" + done.stdout + done.stderr)

    def _start_node(self, name, port):
        pg, redis = TcpProxy(self.pg_port), TcpProxy(self.redis_port)
        self._proxies += [pg, redis]
        env = {**self.env, "TANDEM_CLUSTER_NODE_ID": name, "TANDEM_HTTP_ADDRESS": "127.0.0.1",
               "TANDEM_HTTP_PORT": str(port),
               "TANDEM_CLUSTER_ADVERTISE_URL": f"http://127.0.0.1:{port}",
               "TANDEM_DB_DSN": f"{self.db_dsn} host=127.0.0.1 port={pg.port}",
               "TANDEM_REDIS_HOST": "127.0.0.1", "TANDEM_REDIS_PORT": str(redis.port)}
        return ClusterNode(name, port, env, {"pg": pg, "redis": redis})

    def _start_balancer(self):
        config = os.path.join(self._dir.name, "haproxy.cfg")
        self.stats_socket = os.path.join(self._dir.name, "haproxy.sock")
        self.balancer_log = os.path.join(self._dir.name, "haproxy.log")
        # The port was free when picked, but the nodes' own outgoing connections take
        # ephemeral ports too: a lost race is retried on another port.
        for attempt in range(5):
            with open(config, "w") as f:
                subprocess.run([CLUSTER_SCRIPT, "haproxy-config", str(self.balancer_port),
                                self.stats_socket, *(str(n.fixed_port) for n in self.nodes)],
                               stdout=f, check=True)
            with open(self.balancer_log, "w") as log:
                self._balancer = subprocess.Popen(["haproxy", "-db", "-f", config],
                                                  stdout=log, stderr=subprocess.STDOUT)
            try:
                self._balancer.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                break
            with open(self.balancer_log) as log:
                if "Address already in use" not in log.read():
                    break
            self.balancer_port = free_ports(1)[0]
        try:
            self.wait(lambda: self.balancer_up() == {n.name for n in self.nodes}, 30,
                      "HAProxy with every node up")
        except AssertionError as e:
            with open(self.balancer_log) as log:
                raise AssertionError(f"{e}; HAProxy's log:\n{log.read()[-3000:]}") from None

    def add_node(self):
        """A node joining: n<N+1> on a new port, listening and ready (the balancer does not
        know it; tests reach it directly)."""
        node = self._start_node(f"n{len(self.nodes) + 1}", free_ports(1)[0])
        self.nodes.append(node)
        self.wait(node.ready, 60, f"{node.name} ready")
        return node

    def close(self):
        errors = []
        for node in self.nodes:
            if node.alive():
                node.signal(signal.SIGCONT)    # a paused node cannot die
            try:
                node.stop()
            except AssertionError as e:
                errors.append(str(e))
        if self._balancer is not None and self._balancer.poll() is None:
            self._balancer.terminate()
            self._balancer.wait(10)
        for proxy in self._proxies:
            proxy.close()
        self._dir.cleanup()
        if errors:
            raise AssertionError("\n".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- where requests go ----------------------------------------------------------------
    @property
    def balancer(self):
        """The balancer as a request target (port, request), like a Node."""
        return Endpoint(self.balancer_port)

    @property
    def balancer_url(self):
        return f"http://127.0.0.1:{self.balancer_port}"

    def balancer_up(self):
        """The names of the nodes HAProxy has in rotation (health check passing)."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.stats_socket)
                s.sendall(b"show stat\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError:
            return set()
        rows = [line.split(",") for line in data.decode().splitlines()]
        return {r[1] for r in rows
                if len(r) > 17 and r[0] == "nodes" and r[1] != "BACKEND" and r[17] == "UP"}

    # -- faults ---------------------------------------------------------------------------
    def kill(self, node):
        node.signal(signal.SIGKILL)
        node.proc.wait(10)

    def pause(self, node):
        node.signal(signal.SIGSTOP)

    def resume(self, node):
        node.signal(signal.SIGCONT)

    def terminate(self, node, timeout=30):
        """SIGTERM and wait for the exit; the exit code."""
        return node.terminate(timeout)

    def restart(self, node):
        """Starts an exited node again and waits until it is ready."""
        node.restart()
        self.wait(node.ready, 60, f"{node.name} ready again")

    def restart_postgres(self):
        services("pg-stop")
        services("pg-start")

    def redis_outage(self, seconds):
        """Redis stopped for `seconds`, then started again (same port)."""
        services("redis-stop")
        try:
            time.sleep(seconds)
        finally:
            services("redis-start")

    def cut(self, node, service):
        """Black-holes `node`'s traffic to "pg" or "redis" until heal()."""
        node.proxies[service].cut()

    def heal(self, node, service):
        node.proxies[service].heal()

    # -- what the database says -----------------------------------------------------------
    def query(self, sql):
        """Rows of `sql` on the cluster's database, as lists of strings (psql -At)."""
        done = subprocess.run(["psql", self.db_dsn, "-X", "-v", "ON_ERROR_STOP=1", "-AtF",
                               "\t", "-c", sql], capture_output=True, text=True)
        if done.returncode != 0:
            raise AssertionError(f"{sql}: {done.stderr.strip()}")
        return [line.split("\t") for line in done.stdout.splitlines()]

    def execute(self, sql):
        psql(self.db_dsn, sql)

    def live_nodes(self):
        """Node ids with a live lease (database clock)."""
        return {r[0] for r in self.query(
            "SELECT node_id FROM cluster_nodes WHERE lease_expires_at > now()")}

    def owners(self, kind):
        """{key: (node_id, epoch)} of key_owners for kind 'u' or 'c'."""
        return {r[0]: (r[1], int(r[2])) for r in self.query(
            f"SELECT key, node_id, epoch FROM key_owners WHERE kind = '{kind}'")}

    def stored_messages(self, conversation_ids):
        """The store's rows of these conversations as history.Row tuples, seq ascending;
        the epoch is the row's `epoch` column where the store keeps one, else None."""
        has_epoch = self.query("SELECT 1 FROM information_schema.columns WHERE "
                               "table_name = 'messages' AND column_name = 'epoch'")
        ids = ",".join(f"'{uuid.UUID(c)}'" for c in conversation_ids) or "NULL"
        epoch = "epoch" if has_epoch else "NULL"
        rows = self.query(f"SELECT conversation_id, seq, sender_id, coalesce(client_message_id, ''), "
                          f"message_id, {epoch} FROM messages WHERE conversation_id IN ({ids}) "
                          "ORDER BY conversation_id, seq")
        return [Row(c, int(s), sender, cid or None, mid, int(e) if e else None)
                for c, s, sender, cid, mid, e in rows]

    @staticmethod
    def wait(predicate, timeout, what, interval=0.1):
        """Polls `predicate` until it is true; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what}")
            time.sleep(interval)


class Endpoint:
    """A request target on 127.0.0.1 that is not a Node (the balancer)."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        return http_request(self.port, method, path, body, headers)


# -- traffic under faults: chat streams recorded into a history.History -------------------
class Refused(Exception):
    """The node answered a send with an error frame."""


async def open_ws(port, token, path="/ws/chat"):
    query = "?Authorization=" + urllib.parse.quote(token, safe="")
    return await websockets.connect(f"ws://127.0.0.1:{port}{path}{query}", compression=None,
                                    open_timeout=5, close_timeout=1)


async def backoff(attempt):
    """Jittered exponential backoff, as the clients reconnect: 50 ms doubling up to 1 s."""
    await asyncio.sleep(random.uniform(0.5, 1.0) * min(1.0, 0.05 * 2 ** attempt))


async def close_quietly(ws):
    if ws is not None:
        try:
            await asyncio.wait_for(ws.close(), 1)
        except (asyncio.TimeoutError, OSError):
            pass


class ChatTraffic:
    """Senders streaming messages into their conversations and followers receiving them,
    every send and delivery recorded in `history`. A sender waits for each message's echo
    (its acknowledgement, with the seq) before the next; on an error frame, a timeout or
    a dropped socket the send counts as unacknowledged and is sent again, with the same
    tempMessageId, on a new socket through the balancer. Followers record each new-message
    once, replay by after_seq on every (re)connect and whenever a seq skips ahead, and
    replay to the end once stopped and every sender is done (`sent`: a send still in
    flight when `stop` is set commits after a replay that started at once, which then
    rightly lacks it). `first_port(i)` is where sender/follower i connects first;
    reconnects go to `balancer_port`."""

    def __init__(self, history, balancer_port, first_port, ack_timeout=10.0):
        self.history, self.balancer_port = history, balancer_port
        self.first_port, self.ack_timeout = first_port, ack_timeout
        self.stop = asyncio.Event()
        self.sent = asyncio.Event()
        self.retries = collections.Counter()     # tempMessageId -> attempts beyond the first
        self.why = collections.defaultdict(list)  # tempMessageId -> why each attempt failed

    async def sender(self, i, person, cid, pause=0.05):
        ws, port, n, attempt = None, self.first_port(i), 0, 0
        while not self.stop.is_set():
            temp = f"{person.id[:8]}-{cid[:8]}-{n}"
            handle = self.history.started(person.id, cid, temp)
            try:
                if ws is None:
                    ws = await open_ws(port, person.token)
                await ws.send(json.dumps({"action": "send-message", "tempMessageId": temp,
                                          "conversationId": cid, "content": f"m{n}"}))
                seq = await asyncio.wait_for(self._echo(ws, temp), self.ack_timeout)
            except (Refused, asyncio.TimeoutError, OSError, EOFError,
                    websockets.exceptions.WebSocketException) as failure:
                self.history.unacknowledged(handle)
                self.retries[temp] += 1
                # A refused upgrade: who answered (the node's answers are JSON, the balancer's HTML)
                by = getattr(failure, "headers", None)
                by = "" if by is None else f" ({by.get('Content-Type')})"
                self.why[temp].append(f"port {port}: {type(failure).__name__} {failure}"[:160] + by)
                await close_quietly(ws)
                ws, port = None, self.balancer_port
                await backoff(attempt)
                attempt += 1
                continue
            self.history.acknowledged(handle, seq)
            n, attempt = n + 1, 0
            await asyncio.sleep(pause)
        await close_quietly(ws)

    @staticmethod
    async def _echo(ws, temp):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("tempMessageId") != temp:
                continue
            if frame.get("type") == "new-message":
                return frame["seq"]
            raise Refused(frame)

    async def follower(self, i, person, cids):
        last = {cid: 0 for cid in cids}
        ws, port, attempt = None, self.first_port(i), 0
        while True:
            try:
                if ws is None:
                    ws = await open_ws(port, person.token)
                    for cid in cids:             # what was missed while away
                        await self._replay(person, cid, last)
                    attempt = 0
                if self.stop.is_set():
                    break
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except asyncio.TimeoutError:
                    continue
                cid = frame.get("conversationId")
                if frame.get("type") != "new-message" or cid not in last:
                    continue
                if frame["seq"] > last[cid] + 1:
                    await self._replay(person, cid, last)
                if frame["seq"] == last[cid] + 1:
                    self.history.delivered(person.id, cid, frame["seq"], frame["messageId"])
                    last[cid] = frame["seq"]
            except (OSError, EOFError, ReplayFailed, websockets.exceptions.WebSocketException):
                await close_quietly(ws)
                ws, port = None, self.balancer_port
                await backoff(attempt)
                attempt += 1
        await close_quietly(ws)
        await self.sent.wait()
        for cid in cids:                          # to the end, through the balancer
            await self._replay(person, cid, last, Endpoint(self.balancer_port), tries=50)
            self.history.replay_done(person.id, cid)

    async def _replay(self, person, cid, last, via=None, tries=1):
        via = via or Endpoint(self.balancer_port)
        for attempt in range(tries):
            status, _, body = await asyncio.to_thread(
                via.request, "GET", f"/conversations/{cid}/messages?after_seq={last[cid]}&limit=100",
                None, person.headers)
            if status == 200:
                items = json.loads(body)
                for item in items:
                    self.history.delivered(person.id, cid, item["seq"], item["messageId"])
                    last[cid] = item["seq"]
                if len(items) < 100:
                    return
                continue
            await backoff(attempt)
        raise ReplayFailed(f"{person.id}: replay of {cid} answered {status}")


class ReplayFailed(Exception):
    pass


def ack_gaps(history, since=0.0):
    """{conversation: the longest time (s) between two acknowledgements after `since`}."""
    ends = collections.defaultdict(list)
    for s in history.sends:
        if s.seq is not None and s.end >= since:
            ends[s.conversation].append(s.end)
    return {c: max((b - a for a, b in zip(sorted(t), sorted(t)[1:])), default=0.0)
            for c, t in ends.items()}


class ClusterCase(ChatCase):
    """A fresh cluster of `nodes` nodes for each test (faults leave it changed), people
    created through the balancer (`self.node`); `on(person, k)` sends a person's calls and
    sockets to node k instead."""
    nodes = 3
    cluster_env = {}

    @classmethod
    def setUpClass(cls):
        pass                      # no single node: each test starts its cluster

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.cluster = Cluster(self.nodes, {**UNLIMITED, **self.cluster_env})
        self.addCleanup(self.cluster.close)
        self.node = self.cluster.balancer

    def on(self, person, k):
        person.via = self.cluster.nodes[k]
        return person

    def pairs(self, count):
        """`count` direct conversations: [(sender, follower, conversation id)]."""
        out = []
        for i in range(count):
            sender, follower = self.person(f"S{i}"), self.person(f"F{i}")
            out.append((sender, follower, sender.create([follower])))
        return out

    def run_traffic(self, pairs, fault, before_s=2.0, after_s=6.0, first_port=None):
        """Streams of sends in every pair's conversation (sender i first on node i mod N,
        its follower on the next node), `fault()` (blocking, run in a thread) after
        `before_s`, traffic for `after_s` more, then stop and replay. Returns the history
        and the time (monotonic) at which the fault started."""
        n = len(self.cluster.nodes)
        ports = [node.fixed_port for node in self.cluster.nodes]
        first_port = first_port or (lambda i: ports[i % n])
        hist = History()
        marks = {}

        async def main():
            traffic = ChatTraffic(hist, self.cluster.balancer_port, first_port)
            senders = [asyncio.create_task(traffic.sender(2 * i, s, cid))
                       for i, (s, _, cid) in enumerate(pairs)]
            followers = [asyncio.create_task(traffic.follower(2 * i + 1, f, [cid]))
                         for i, (_, f, cid) in enumerate(pairs)]
            await asyncio.sleep(before_s)
            marks["fault"] = time.monotonic()
            await asyncio.to_thread(fault)
            await asyncio.sleep(after_s)
            traffic.stop.set()
            await asyncio.wait_for(asyncio.gather(*senders), 120)
            traffic.sent.set()
            await asyncio.wait_for(asyncio.gather(*followers), 120)
            self.retries, self.retry_reasons = traffic.retries, traffic.why
        asyncio.run(main())
        return hist, marks["fault"]

    def assert_history(self, hist, pairs, epochs=False):
        """The history checker over what the store holds now; returns the acknowledged
        sends, which must be more than none per conversation."""
        cids = [cid for _, _, cid in pairs]
        rows = self.cluster.stored_messages(cids)
        owners = {c: e for c, (_, e) in self.cluster.owners("c").items()} if epochs else None
        acked = assert_valid(self, hist, rows, owner_epochs=owners, epochs=epochs)
        per = collections.Counter(s.conversation for s in hist.sends if s.seq is not None)
        self.assertEqual(set(per), set(cids), "a conversation never acknowledged a send")
        return acked
