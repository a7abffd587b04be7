"""The deploy test (ctest label `deploy`): builds the images of deploy/ from a debootstrapped
Debian base (no registry), starts deploy/compose.yaml (HAProxy, two nodes, PostgreSQL 15,
Redis 7, the migrate step), and drives through the balancer what a new pair of users does
first: two sign-ups, a friendship (request, accept) and a chat message delivered live over
WebSockets; HTTPS at the balancer (compose.tls.yaml) and the backup job's image. The stack is torn down (volumes included) and a dockerd the test started is
stopped with iptables restored, whatever happens. No dockerd and none startable: the test
fails, it never skips.

Run by scripts/test (plain tree only); on its own: `ctest --test-dir build -L deploy`.
"""
import asyncio
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
HERE = os.path.dirname(os.path.abspath(__file__))
# Where this run keeps dockerd's notes (saved iptables) and the stack's secrets.
STATE = os.path.join(ROOT, ".local", "deploy-test")


def run(*cmd, env=None, timeout=None):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env, timeout=timeout, cwd=ROOT)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComposeStack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(STATE, exist_ok=True)
        cls.dockerd = [os.path.join(HERE, "dockerd")]
        run(*cls.dockerd, "start", STATE)
        cls.port, cls.tls_port = free_port(), free_port()
        secrets = tempfile.mkdtemp(prefix="secrets.", dir=STATE)
        for name in ("jwt_key", "url_key"):
            path = os.path.join(secrets, name)
            with open(path, "w") as f:
                f.write(os.urandom(32).hex())
            # Bind-mounted as Docker secrets: the node's unprivileged user must read them.
            os.chmod(path, 0o644)
        cls.env = dict(os.environ, TANDEM_SECRETS_DIR=secrets, TANDEM_HTTP_PORT=str(cls.port),
                       TANDEM_HTTPS_PORT=str(cls.tls_port), TANDEM_HTTPS_BIND="127.0.0.1",
                       TANDEM_DB_PASSWORD=os.urandom(16).hex(),
                       TANDEM_PUBLIC_URL=f"http://127.0.0.1:{cls.port}")
        cls.project = f"tandemtest{os.getpid()}"
        cls.compose = ["docker-compose", "--project-name", cls.project,
                       "--file", os.path.join(DEPLOY, "compose.yaml"),
                       "--file", os.path.join(DEPLOY, "compose.tls.yaml")]
        cls.up = False
        try:
            run(os.path.join(DEPLOY, "base-image"))
            run(os.path.join(DEPLOY, "tls", "make-cert"), "127.0.0.1")
            started = time.monotonic()
            run(*cls.compose, "build", env=cls.env)
            run("docker", "build", "--quiet", "--file", os.path.join(DEPLOY, "backup", "Dockerfile"),
                "--tag", "tandem-backup:local", ROOT)
            print(f"deploy: images built in {time.monotonic() - started:.0f} s", flush=True)
            cls.up = True
            run(*cls.compose, "up", "--detach", env=cls.env, timeout=600)
        except BaseException:
            cls.tear_down()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tear_down()

    @classmethod
    def tear_down(cls):
        try:
            if cls.up:
                subprocess.run([*cls.compose, "logs", "--no-color", "--tail", "60"], env=cls.env, cwd=ROOT)
                subprocess.run([*cls.compose, "down", "--volumes", "--remove-orphans"], env=cls.env, cwd=ROOT)
        finally:
            run(*cls.dockerd, "stop", STATE)

    # -- HTTP and WebSocket through the balancer ---------------------------------------
    def call(self, method, path, body=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            reply = conn.getresponse()
            text = reply.read().decode()
        finally:
            conn.close()
        try:
            return reply.status, json.loads(text) if text else ""
        except ValueError:
            return reply.status, text

    def ok(self, method, path, body=None, token=None, status=200):
        got, reply = self.call(method, path, body, token)
        self.assertEqual(got, status, f"{method} {path}: {reply}")
        return reply

    def wait_ready(self, timeout=300):
        """Until the balancer answers /readyz with 200 from both nodes in turn."""
        deadline = time.monotonic() + timeout
        ready = 0
        while time.monotonic() < deadline:
            try:
                ready = ready + 1 if self.call("GET", "/readyz")[0] == 200 else 0
            except OSError:
                ready = 0
            if ready >= 4:
                return
            time.sleep(1)
        self.fail(f"the balancer did not answer /readyz within {timeout} s")

    def sign_up(self, first):
        email = f"{first.lower()}-{uuid.uuid4().hex[:10]}@example.com"
        reply = self.ok("POST", "/auth/register", {"email": email, "password": "correct horse battery"},
                        status=201)
        self.ok("POST", "/users/me", {"first_name": first, "last_name": "Deploy"}, reply["access_token"])
        return reply["user_id"], reply["access_token"]

    async def socket(self, token):
        import websockets
        query = urllib.parse.urlencode({"Authorization": token})
        return await websockets.connect(f"ws://127.0.0.1:{self.port}/ws/chat?{query}",
                                        compression=None, open_timeout=10, close_timeout=2)

    async def next_message(self, ws, name, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"{name}: no new-message within {timeout} s")
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), left))
            except asyncio.TimeoutError:
                self.fail(f"{name}: no new-message within {timeout} s")
            if frame.get("type") == "new-message":
                return frame

    # -- the scenario ----------------------------------------------------------------------
    def test_sign_up_befriend_and_chat_through_the_balancer(self):
        self.wait_ready()
        self.assertEqual(self.call("GET", "/healthz")[0], 200)
        ann, ann_token = self.sign_up("Ann")
        bob, bob_token = self.sign_up("Bob")

        self.ok("POST", "/friendship/requests", {"user_id2": bob}, ann_token)
        incoming = self.ok("GET", "/friendship/requests", token=bob_token)
        self.assertIn(ann, json.dumps(incoming), incoming)
        self.ok("POST", "/friendship/accept", {"user_id1": ann}, bob_token)
        for token, other in ((ann_token, bob), (bob_token, ann)):
            check = self.ok("GET", "/friendship/check/" + other, token=token)
            self.assertIsInstance(check, dict, check)
            self.assertEqual((check["user_id1"], check["user_id2"]), (ann, bob), check)
            self.assertTrue(check["accepted_at"], check)

        conv = self.ok("POST", "/conversation", {"recipientIdArr": [bob], "isGroup": False, "title": ""},
                       ann_token)["conversationId"]

        async def chat():
            a, b = await self.socket(ann_token), await self.socket(bob_token)
            try:
                temp = "tmp-" + uuid.uuid4().hex[:12]
                await a.send(json.dumps({"action": "send-message", "tempMessageId": temp,
                                         "conversationId": conv, "content": "hello through the balancer"}))
                echo = await self.next_message(a, "ann")
                self.assertEqual((echo["tempMessageId"], echo["content"]),
                                 (temp, "hello through the balancer"), echo)
                got = await self.next_message(b, "bob")
                self.assertEqual((got["senderId"], got["conversationId"], got["content"]),
                                 (ann, conv, "hello through the balancer"), got)
            finally:
                await asyncio.gather(a.close(), b.close(), return_exceptions=True)
        asyncio.run(asyncio.wait_for(chat(), 60))

        stored = self.ok("GET", f"/conversations/{conv}/messages?limit=10&offset=0", token=bob_token)
        self.assertEqual([m["content"] for m in stored], ["hello through the balancer"], stored)

    def test_tls_at_the_balancer(self):
        """HTTPS with the certificate deploy/tls/make-cert wrote (compose.tls.yaml)."""
        self.wait_ready()
        context = ssl.create_default_context(cafile=os.path.join(DEPLOY, "tls", "local", "tandem.crt"))
        conn = http.client.HTTPSConnection("127.0.0.1", self.tls_port, timeout=30, context=context)
        try:
            conn.request("GET", "/readyz")
            version = conn.sock.version()
            reply = conn.getresponse()
            body = reply.read().decode()
            self.assertEqual(reply.status, 200, body)
            self.assertIn("max-age=", reply.getheader("Strict-Transport-Security") or "")
            self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        finally:
            conn.close()

    def test_the_backup_job_dumps_and_uploads_with_retention(self):
        """The CronJob's image (deploy/backup) against the stack's database, with rclone's
        local backend standing in for the S3-compatible store."""
        self.wait_ready()
        dsn = f"host=postgres dbname=tandem user=postgres password={self.env['TANDEM_DB_PASSWORD']}"
        script = ("backup-to-store && ls /tmp/store"
                  " && pg_restore --list /tmp/store/$(ls /tmp/store | head -1)")
        out = subprocess.run(["docker", "run", "--rm", "--network", self.project + "_default",
                              "--env", "TANDEM_DB_DSN=" + dsn, "--env", "TANDEM_BACKUP_REMOTE=/tmp/store",
                              "--env", "TANDEM_BACKUP_RETENTION_DAYS=1", "--entrypoint", "bash",
                              "tandem-backup:local", "-c", script],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        dumps = [line for line in out.stdout.splitlines() if line.startswith("tandem-") and line.endswith(".dump")]
        self.assertGreaterEqual(len(dumps), 1, out.stdout)
        self.assertIn("TABLE DATA public schema_migrations", out.stdout)
        self.assertIn("uploaded tandem-", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
