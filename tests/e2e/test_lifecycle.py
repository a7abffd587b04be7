"""Start-up errors, readiness across a PostgreSQL restart, and graceful shutdown."""
import json
import os
import signal
import subprocess
import time
import unittest

from tandem import Node, create_database, required_env, services



def run_binary(args, extra_env):
    env = dict(os.environ)
    env.update(extra_env)
    return subprocess.run([required_env("TANDEM_TEST_BIN"), *args], env=env,
                          capture_output=True, text=True, timeout=30)


class Lifecycle(unittest.TestCase):
    def test_an_unknown_key_stops_start_up_with_one_clear_line(self):
        result = run_binary(["--http.prot=1"], {})
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
        self.assertIn("unknown configuration key 'http.prot'", result.stderr)

    def test_a_bad_value_in_the_environment_stops_start_up(self):
        result = run_binary([], {"TANDEM_HTTP_PORT": "http"})
        self.assertEqual(result.returncode, 2)
        self.assertIn("TANDEM_HTTP_PORT", result.stderr)

    def test_an_unreachable_database_stops_start_up_with_one_clear_line(self):
        result = run_binary(["serve"], {"TANDEM_DB_DSN": "host=127.0.0.1 port=1 user=x dbname=x",
                                        "TANDEM_HTTP_PORT": "0"})
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
        self.assertIn("cannot connect to PostgreSQL", result.stderr)

    def test_migrate_applies_the_schema_once(self):
        env = {"TANDEM_DB_DSN": create_database()}
        first = run_binary(["migrate"], env)
        self.assertEqual(first.returncode, 0, first.stderr)
        second = run_binary(["migrate"], env)
        self.assertEqual(second.returncode, 0, second.stderr)
        logs = [json.loads(l) for l in second.stdout.splitlines() if l.startswith("{")]
        self.assertEqual([l["applied"] for l in logs if l["msg"] == "migrations applied"], [0])

    def test_sigterm_stops_the_node_with_exit_code_zero(self):
        node = Node()
        try:
            status, _, _ = node.request("GET", "/ping")
            self.assertEqual(status, 200)
            self.assertEqual(node.terminate(timeout=15), 0)
            self.assertTrue(any(e.get("msg") == "stopped" for e in node.logs))
        finally:
            node.stop()

    def test_on_sigterm_the_node_is_unready_but_serves_for_the_shutdown_delay(self):
        node = Node({"TANDEM_HTTP_SHUTDOWN_DELAY_MS": "3000"})
        self.addCleanup(node.stop)
        self.assertEqual(node.request("GET", "/readyz")[0], 200)
        node.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        status, _, body = node.wait_for(
            lambda: (lambda r: r if r[0] == 503 else None)(node.request("GET", "/readyz")),
            timeout=2, interval=0.02)
        self.assertEqual(json.loads(body)["checks"], {"node": "shutting down"})
        # Still serving: a balancer that has not noticed yet loses nothing.
        self.assertEqual(node.request("GET", "/ping")[0], 200)
        self.assertIsNone(node.proc.poll(), "the node stopped before its delay")
        self.assertEqual(node.proc.wait(15), 0)
        self.assertGreaterEqual(time.monotonic() - sent, 3.0)
        self.assertTrue(any(e.get("msg") == "stopped" for e in node.logs))

    def test_a_second_signal_cuts_the_shutdown_delay_short(self):
        node = Node({"TANDEM_HTTP_SHUTDOWN_DELAY_MS": "60000"})
        self.addCleanup(node.stop)
        node.proc.send_signal(signal.SIGTERM)
        node.wait_for(lambda: node.request("GET", "/readyz")[0] == 503, timeout=2, interval=0.02)
        node.proc.send_signal(signal.SIGINT)
        self.assertEqual(node.proc.wait(15), 0)

    def test_readyz_reports_postgres_down_and_recovers_when_it_returns(self):
        node = Node({"TANDEM_HTTP_REQUEST_TIMEOUT_MS": "3000"})
        try:
            status, _, _ = node.request("GET", "/readyz")
            self.assertEqual(status, 200)
            services("pg-stop")
            try:
                status, _, body = node.request("GET", "/readyz")
                self.assertEqual(status, 503, body)
                checks = json.loads(body)["checks"]
                self.assertNotEqual(checks["postgres"], "ok")
                self.assertEqual(checks["redis"], "ok")
                status, _, _ = node.request("GET", "/ping")
                self.assertEqual(status, 200)  # the node itself keeps serving
            finally:
                services("pg-start")
            node.wait_for(lambda: node.request("GET", "/readyz")[0] == 200, timeout=30)
        finally:
            node.stop()

    def test_readyz_reports_redis_down_and_recovers_when_it_returns(self):
        node = Node()
        try:
            services("redis-stop")
            try:
                status, _, body = node.request("GET", "/readyz")
                self.assertEqual(status, 503, body)
                self.assertNotEqual(json.loads(body)["checks"]["redis"], "ok")
            finally:
                services("redis-start")
            node.wait_for(lambda: node.request("GET", "/readyz")[0] == 200, timeout=30)
        finally:
            node.stop()


if __name__ == "__main__":
    unittest.main()
