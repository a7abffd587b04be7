"""The cluster's tools (issue 17, Interface): `scripts/cluster up N` / `down`, and the test
harness (cluster.py) with HAProxy in front of the nodes: every node and the balancer
answer, sockets and requests pass the balancer, a node that is not ready leaves the
rotation and comes back, and the harness's cuts really cut.
"""
import os
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from cluster import CLUSTER_ENV, CLUSTER_SCRIPT, Cluster, ClusterCase
from tandem import BASE_ENV, ChatCase, http_request, required_env


def readyz(port):
    try:
        return http_request(port, "GET", "/readyz", timeout=3)[0]
    except OSError as e:
        return repr(e)


def pid_alive(pid, name):
    """A live process named `name` (a zombie no longer counts: it has exited, and once the
    script that started it is gone only init may reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    comm, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2]
    return comm == name and state != "Z"


class ScriptTest(unittest.TestCase):
    """scripts/cluster itself, in a state dir of its own."""

    def run_script(self, env, *args, timeout=300):
        done = subprocess.run([CLUSTER_SCRIPT, *args], env=env, capture_output=True, text=True,
                              timeout=timeout)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return done.stdout.strip().splitlines()

    def test_up_starts_nodes_behind_a_balancer_and_down_stops_exactly_them(self):
        state = tempfile.mkdtemp(prefix="tandem-cluster-script-")
        env = {k: v for k, v in os.environ.items()
               if k not in ("TANDEM_PG_PORT", "TANDEM_REDIS_PORT", "TANDEM_HTTP_PORT")}
        env.update(BASE_ENV)
        env.update(CLUSTER_ENV)
        env.update({"TANDEM_STATE_DIR": state,
                    # the tree of the binary under test (plain or sanitized)
                    "TANDEM_BUILD_DIR": os.path.dirname(required_env("TANDEM_TEST_BIN"))})
        try:
            out = self.run_script(env, "up", "3")
            balancer = out[-1]
            self.assertRegex(balancer, r"^http://127\.0\.0\.1:\d+$")
            with open(os.path.join(state, "nodes")) as f:
                lines = [line.split() for line in f.read().splitlines()]
            self.assertEqual(len(lines), 3, lines)
            ports = set()
            for url, pid in lines:
                self.assertRegex(url, r"^http://127\.0\.0\.1:\d+$")
                self.assertTrue(pid_alive(pid, "tandem"), f"{url}: pid {pid} is not a tandem")
                port = int(urllib.parse.urlsplit(url).port)
                self.assertEqual(readyz(port), 200, url)
                ports.add(port)
            self.assertEqual(len(ports), 3)
            lb_port = urllib.parse.urlsplit(balancer).port
            self.assertNotIn(lb_port, ports)
            self.assertEqual(readyz(lb_port), 200)
            # Each node runs as a cluster node under its own id.
            for k in (1, 2, 3):
                with open(os.path.join(state, f"n{k}.log")) as f:
                    self.assertTrue(f.read(), f"n{k} logged nothing")
            # Again while up: no second cluster, the same URL.
            self.assertEqual(self.run_script(env, "up", "3")[-1], balancer)
            with open(os.path.join(state, "haproxy.pid")) as f:
                haproxy = f.read().strip()
            self.assertTrue(pid_alive(haproxy, "haproxy"))

            self.run_script(env, "down")
            for _, pid in lines:
                self.assertFalse(pid_alive(pid, "tandem"), f"pid {pid} still runs")
            self.assertFalse(pid_alive(haproxy, "haproxy"))
            self.assertFalse(os.path.exists(os.path.join(state, "nodes")))
            status = subprocess.run([os.path.join(os.path.dirname(CLUSTER_SCRIPT), "services"),
                                     "--state", state, "status"], capture_output=True, text=True)
            self.assertEqual(status.returncode, 3, status.stdout)   # both servers stopped
            self.run_script(env, "down")                            # idempotent
        finally:
            subprocess.run([CLUSTER_SCRIPT, "down"], env=env, capture_output=True)
            subprocess.run([os.path.join(os.path.dirname(CLUSTER_SCRIPT), "services"), "--state",
                            state, "wipe"], capture_output=True)

    def test_up_refuses_a_bad_node_count(self):
        for n in ("0", "x", ""):
            done = subprocess.run([CLUSTER_SCRIPT, "up", n], capture_output=True, text=True,
                                  env={**os.environ, "TANDEM_STATE_DIR": tempfile.mkdtemp()})
            self.assertNotEqual(done.returncode, 0, n)
            self.assertIn("usage", done.stderr, n)


class BalancerTest(ChatCase):
    """Three nodes behind HAProxy, from the harness."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(3)
        cls.node = cls.cluster.balancer

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def test_every_node_and_the_balancer_are_ready(self):
        for node in self.cluster.nodes:
            self.assertEqual(readyz(node.fixed_port), 200, node.name)
        self.assertEqual(readyz(self.cluster.balancer_port), 200)
        self.assertEqual(self.cluster.balancer_up(), {"n1", "n2", "n3"})

    def test_requests_through_the_balancer_reach_every_node(self):
        """leastconn over three nodes: a run of fresh connections lands on each."""
        alice = self.person("Alice")
        self.assertEqual(alice.ok("GET", "/users/me")["first_name"], "Alice")
        before = {n.name: len(n.logs) for n in self.cluster.nodes}
        for _ in range(12):
            self.assertEqual(alice.ok("GET", "/users/me")["first_name"], "Alice")
        served = {n.name for n in self.cluster.nodes if len(n.logs) > before[n.name]}
        self.assertEqual(served, {"n1", "n2", "n3"})

    def test_a_socket_through_the_balancer_is_a_tunnel(self):
        """A WebSocket passes HAProxy (an upgrade becomes a tunnel) and frames flow both
        ways, before and after a quiet second."""
        alice = self.person("Alice")

        async def body():
            s = await alice.connect("/ws/chat")
            cid = alice.create([self.person("Bob")])
            echo = await s.say(cid, "through the balancer")
            self.assertEqual(echo["seq"], 1)
            await s.heartbeat()
            await s.quiet(1.0)
            echo = await s.say(cid, "still open")
            self.assertEqual(echo["seq"], 2)
        self.scenario(body)

    def test_a_node_cut_from_redis_leaves_the_rotation_and_comes_back(self):
        """The harness's cut is a black hole: the node's /readyz fails (Redis does not answer),
        HAProxy's health check takes it out, and once healed it is back in rotation."""
        n2 = self.cluster.nodes[1]
        self.cluster.cut(n2, "redis")
        try:
            self.cluster.wait(lambda: self.cluster.balancer_up() == {"n1", "n3"}, 30,
                              "n2 out of the rotation")
            self.assertNotEqual(readyz(n2.fixed_port), 200)
            for _ in range(6):       # the balancer answers from the others meanwhile
                self.assertEqual(readyz(self.cluster.balancer_port), 200)
        finally:
            self.cluster.heal(n2, "redis")
        self.cluster.wait(lambda: self.cluster.balancer_up() == {"n1", "n2", "n3"}, 30,
                          "n2 back in the rotation")
        self.assertEqual(readyz(n2.fixed_port), 200)

    def test_a_node_cut_from_postgres_is_not_ready_until_healed(self):
        n3 = self.cluster.nodes[2]
        self.cluster.cut(n3, "pg")
        try:
            self.cluster.wait(lambda: readyz(n3.fixed_port) != 200, 30, "n3 not ready")
            self.cluster.wait(lambda: "n3" not in self.cluster.balancer_up(), 30,
                              "n3 out of the rotation")
            self.assertEqual(readyz(self.cluster.nodes[0].fixed_port), 200)
        finally:
            self.cluster.heal(n3, "pg")
        self.cluster.wait(lambda: readyz(n3.fixed_port) == 200, 30, "n3 ready again")
        self.cluster.wait(lambda: "n3" in self.cluster.balancer_up(), 30, "n3 back")

    def test_a_second_process_with_a_running_node_id_refuses_to_start(self):
        """Two processes with one node id would take the lease row from each other every
        renewal: the second sees the first renew its live lease and exits at once, with an
        error that names the id; the first keeps its row and stays ready."""
        n2 = self.cluster.nodes[1]
        before = self.cluster.query("SELECT incarnation FROM cluster_nodes WHERE node_id = 'n2'")
        env = {**n2._command[1], "TANDEM_HTTP_PORT": "0"}
        t0 = time.monotonic()
        done = subprocess.run([required_env("TANDEM_TEST_BIN"), "serve"], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 2, done.stdout[-2000:] + done.stderr)
        self.assertIn('another process runs as cluster node "n2"', done.stderr)
        self.assertIn("cluster.node_id", done.stderr)
        self.assertNotIn('"msg":"listening"', done.stdout)
        # it watched for two renew intervals at most (500 ms each here), plus its start
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(self.cluster.query(
            "SELECT incarnation FROM cluster_nodes WHERE node_id = 'n2'"), before)
        self.assertEqual(readyz(n2.fixed_port), 200)

    def test_a_killed_node_leaves_the_rotation_and_a_restarted_one_rejoins(self):
        n1 = self.cluster.nodes[0]
        self.cluster.kill(n1)
        self.cluster.wait(lambda: "n1" not in self.cluster.balancer_up(), 30, "n1 out")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2:     # no request through the balancer fails meanwhile
            self.assertEqual(readyz(self.cluster.balancer_port), 200)
        self.cluster.restart(n1)
        self.cluster.wait(lambda: "n1" in self.cluster.balancer_up(), 30, "n1 back")


if __name__ == "__main__":
    unittest.main()


class TrafficTest(ClusterCase):
    """The traffic and history of the failover tests, on one node behind the balancer and
    without a fault (test_cluster_consistency runs it across three nodes)."""
    nodes = 1

    def test_streams_of_sends_keep_every_invariant(self):
        pairs = self.pairs(6)
        hist, _ = self.run_traffic(pairs, lambda: None, before_s=1.0, after_s=2.0)
        acked = self.assert_history(hist, pairs)
        self.assertGreater(acked, 6 * 5, "the streams hardly sent anything")
        self.assertEqual(sum(self.retries.values()), 0, "a send needed a retry without a fault")
