"""Starts a real `tandem` node for end-to-end tests and talks to it over real sockets.

The test command (scripts/test) provides PostgreSQL, Redis and the binary through
TANDEM_TEST_* variables; a missing variable fails the test loudly, never skips it.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid


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


class Node:
    """A tandem process on a free port, with its JSON log lines collected."""

    def __init__(self, extra_env=None, args=("serve",)):
        env = dict(os.environ)
        # Profile images go to a directory of the node's own, removed with this object,
        # never to media.dir's default below the working directory (the source tree).
        self._media_dir = tempfile.TemporaryDirectory(prefix="tandem-e2e-media-")
        env.update({
            "TANDEM_HTTP_PORT": "0",
            "TANDEM_DB_DSN": create_database(),
            "TANDEM_MEDIA_DIR": self._media_dir.name,
            "TANDEM_REDIS_HOST": required_env("TANDEM_TEST_REDIS_HOST"),
            "TANDEM_REDIS_PORT": required_env("TANDEM_TEST_REDIS_PORT"),
            # Every node of a run shares one Redis, where the per-address registration
            # counter would carry one test class's sign-ups (all from 127.0.0.1) into the
            # next; the tests of that budget set their own.
            "TANDEM_AUTH_REGISTER_MAX_PER_ADDRESS": "1000000",
        })
        env.update(extra_env or {})
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
        """One request on a fresh connection: (status, headers dict, body text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read().decode()
        finally:
            conn.close()

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
