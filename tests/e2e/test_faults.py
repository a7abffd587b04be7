"""Faults under load (issue 15, systematic checks): Redis killed during mixed traffic,
PostgreSQL restarted during shares and chat, the media directory full or read-only, and
the node itself killed (SIGKILL) and restarted during writes. Each test drives traffic
from background threads and sockets, injects its fault, and then checks what was
acknowledged against what is stored, and that the node recovers by itself.

These tests KILL OR RESTART the run's private Redis or PostgreSQL (scripts/services) or
mount a tmpfs: ctest runs the e2e tests serially, and each test restores what it broke
before it returns, failed or not.
"""
import asyncio
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse
import uuid

from websockets.exceptions import ConnectionClosed

from tandem import (
    ChatCase, FAST_ARGON2, MediaClient, Node, PROFILE_KEYS, TITLE, UNLIMITED, URL, as_stored,
    media_env, png_image, presence, services, until)


UNAVAILABLE = "Service temporarily unavailable; try again later"


class Repeat(threading.Thread):
    """Calls fn(i) for i = 0, 1, ... every `pause` seconds until stopped; keeps each
    (i, result). A connection the node refused or dropped is the result None."""

    def __init__(self, fn, pause):
        super().__init__(daemon=True)
        self.fn, self.pause = fn, pause
        self.results = []
        self.halt = threading.Event()
        self.error = None
        self.start()

    def run(self):
        i = 0
        try:
            while not self.halt.is_set():
                try:
                    result = self.fn(i)
                except (OSError, http.client.HTTPException):
                    result = None
                self.results.append((i, result))
                i += 1
                self.halt.wait(self.pause)
        except BaseException as e:  # noqa: B902  (reported by stop())
            self.error = e

    def count(self, predicate=lambda r: True, since=0):
        return sum(1 for i, r in self.results[since:] if predicate(r))

    def stop(self):
        self.halt.set()
        self.join(30)
        if self.error:
            raise self.error
        return self.results


class ChatStream:
    """Sends numbered messages with tempMessageIds from one chat socket every `pause`
    seconds, and files the socket's answers by tempMessageId: `acked` (new-message) or
    `refused` (error); any other frame, or a second answer, is `strange`. Its tasks end
    with ConnectionClosed when the node goes away."""

    def __init__(self, socket, conv, text, pause):
        self.socket, self.conv, self.text, self.pause = socket, conv, text, pause
        self.contents, self.acked, self.refused, self.strange = {}, {}, {}, []
        self.halt = asyncio.Event()
        self.tasks = [asyncio.create_task(self._send()), asyncio.create_task(self._listen())]

    async def _send(self):
        i = 0
        while not self.halt.is_set():
            temp = f"temp{i:05d}"
            self.contents[temp] = f"{self.text} {i}"
            await self.socket.send_message(self.conv, self.contents[temp], temp)
            i += 1
            await asyncio.sleep(self.pause)

    async def _listen(self):
        while True:
            frame = json.loads(await self.socket.ws.recv())
            kind = {"new-message": self.acked, "error": self.refused}.get(frame.get("type"))
            temp = frame.get("tempMessageId")
            if kind is None or temp not in self.contents or temp in self.acked \
                    or temp in self.refused:
                self.strange.append(frame)
            else:
                kind[temp] = frame

    async def stop_sending(self):
        self.halt.set()
        await self.tasks[0]

    async def close(self):
        self.halt.set()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def ok(reply):
    return reply is not None and reply[0] == 200


def db_rows(dsn, sql):
    """The rows of `sql` on the database `dsn`, as lists of text fields."""
    out = subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-XAtq", "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


async def settled(call, timeout=20):
    """The first answer of call() that is not 503 (polled while a pool reconnects)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        reply = await asyncio.get_running_loop().run_in_executor(None, call)
        if reply[0] != 503 or asyncio.get_running_loop().time() > deadline:
            return reply
        await asyncio.sleep(0.05)


class FaultCase(ChatCase):
    """Chat people and sockets (tandem.py) on a node without per-socket, chat or share
    limits: the traffic runs at 20 shares a second through each fault."""
    node_env = dict(ChatCase.node_env, **UNLIMITED, **FAST_ARGON2,
                    TANDEM_USERS_SHARES_PER_HOUR="1000000", TANDEM_USERS_SHARES_BURST="100000")

    def assert_unavailable(self, reply, what):
        """A (status, body) of Person.call that is 503 with the plain detail."""
        self.assertIsNotNone(reply, what + ": no answer")
        self.assertEqual(reply, (503, {"detail": UNAVAILABLE}), what)

    def assert_answers(self, results, allowed, what):
        """Every answer of a Repeat was one of `allowed`, and a 5xx had a detail."""
        for i, reply in results:
            if reply is None:
                continue
            status, body = reply
            self.assertIn(status, allowed, f"{what} #{i}: {reply}")
            if status >= 400:
                self.assertIsInstance(body, dict, f"{what} #{i}: {reply}")
                self.assertTrue(body.get("detail"), f"{what} #{i}: {reply}")

    def share(self, person, i):
        """Share number `i` of `person`, titled "share {i}"."""
        return person.call("POST", "/notifications/share",
                           {"url": f"https://example.com/{i}", "title": f"share {i}"})

    def stored_shares(self, person):
        """title -> (event_id, number of recipient rows), for each share of `person`."""
        rows = db_rows(self.node.db_dsn,
                       "SELECT e.title, e.event_id, count(r.user_id) FROM share_events e "
                       "LEFT JOIN share_recipients r USING (event_id) "
                       f"WHERE e.sender = '{person.id}' GROUP BY e.event_id, e.title")
        shares = {}
        for title, event_id, recipients in rows:
            self.assertNotIn(title, shares, "one share stored twice: " + title)
            shares[title] = (event_id, int(recipients))
        return shares

    def assert_shares_stored(self, person, results, summary):
        """Every acknowledged share of a Repeat of `share` is stored whole: under the
        event id it was answered with, with its one recipient (the person's one friend)."""
        stored = self.stored_shares(person)
        for i, reply in results:
            if ok(reply):
                self.assertEqual(stored.get(f"share {i}"), (reply[1], 1),
                                 f"share {i} lost; {summary}")
        self.assertEqual({n for _, n in stored.values()}, {1}, "a share without its recipient")


class Account:
    """An account of the node's own auth (register, login, refresh) over REST, from a
    loopback address of its own so that per-address counters of other tests never meet."""

    def __init__(self, test, register=True):
        self.test = test
        self.email = "e2e-" + uuid.uuid4().hex[:16] + "@example.com"
        self.password = "correct horse battery"
        self.source = "127.%d.%d.%d" % tuple(random.randint(1, 254) for _ in range(3))
        self.refresh_token = None
        if register:
            status, pair = self.register()
            test.assertEqual(status, 201, pair)

    def register(self):
        status, body = self.call("/auth/register", {"email": self.email,
                                                    "password": self.password})
        if status == 201:
            self.refresh_token = body["refresh_token"]
        return status, body

    def call(self, path, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.test.node.port, timeout=10,
                                          source_address=(self.source, 0))
        try:
            conn.request("POST", path, body=json.dumps(body))
            res = conn.getresponse()
            text = res.read().decode()
        finally:
            conn.close()
        return res.status, json.loads(text) if text else None

    def login(self):
        status, body = self.call("/auth/login", {"email": self.email, "password": self.password})
        if status == 200:
            self.refresh_token = body["refresh_token"]
        return status, body

    def refresh(self):
        status, body = self.call("/auth/refresh", {"refresh_token": self.refresh_token})
        if status == 200:
            self.refresh_token = body["refresh_token"]
        return status, body


# -- Redis killed ---------------------------------------------------------------------------
class RedisKilled(FaultCase):

    def test_logins_and_refreshes_are_503_while_redis_is_dead_and_sockets_and_chat_go_on(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()
        conv = ann.create([bob])
        busy, probe = Account(self), Account(self)
        newcomer = Account(self, register=False)
        dead = {"redis": False}

        def auth_traffic(i):
            # Logins and refreshes in turn; a refresh token Redis forgot means a new login.
            reply = busy.login() if i % 2 == 0 else busy.refresh()
            return reply

        async def body():
            loop = asyncio.get_running_loop()
            a, b = await ann.connect("/ws/chat"), await bob.connect("/ws/chat")
            a_page, b_presence = await ann.connect("/ws/presence"), await bob.connect("/ws/presence")
            echo = await a.say(conv, "before")
            self.assertEqual(await b.recv(), echo)
            traffic = Repeat(auth_traffic, 0.05)
            reads = Repeat(lambda i: ann.call("GET", "/conversations"), 0.05)
            try:
                await until(self, lambda: traffic.count(ok) >= 4, 15, "auth traffic answered")
                dead["redis"] = True
                await loop.run_in_executor(None, services, "redis-kill")
                killed_at = len(traffic.results)

                # Logins and refreshes: 503 with the plain detail, at once.
                self.assert_unavailable(await loop.run_in_executor(None, probe.login),
                                        "login while Redis is dead")
                self.assert_unavailable(await loop.run_in_executor(None, probe.refresh),
                                        "refresh while Redis is dead")
                # A registration is answered whole or not at all: nothing is left that
                # would make the client's retry a 409.
                self.assert_unavailable(await loop.run_in_executor(None, newcomer.register),
                                        "registration while Redis is dead")
                await until(self, lambda: traffic.count(lambda r: r and r[0] == 503,
                                                        killed_at) >= 6,
                            15, "the auth traffic meets the outage")

                # Live sockets, chat, presence and REST with an access token go on; a new
                # socket opens (tokens are checked without Redis).
                echo = await a.say(conv, "while Redis is dead")
                self.assertEqual(await b.recv(), echo)
                await a_page.update(URL, TITLE)
                got = await b_presence.expect("update-presence")
                self.assertEqual(got, presence(ann, URL, TITLE, "example.co.uk",
                                               (URL, TITLE, "example.co.uk")))
                await a_page.expect("update-presence")
                late = await bob.connect("/ws/chat")
                echo = await a.say(conv, "to the new socket")
                self.assertEqual(await b.recv(), echo)
                self.assertEqual(await late.recv(), echo)
                self.assertEqual(bob.ok("GET", "/users/me")["first_name"], "Bob")

                await loop.run_in_executor(None, services, "redis-start")
                dead["redis"] = False
                restarted_at = len(traffic.results)

                # Recovery without a node restart: logins succeed again. (Each pooled
                # connection comes back on its own backoff, so a call may meet one still
                # waiting: 503 until then, and then the answer below.)
                await until(self, lambda: ok(probe.login()), 20, "a login after the restart")
                # This Redis keeps nothing across a restart: the tokens it forgot are 401,
                # and the ones it issued since rotate.
                forgotten = lambda: probe.call("/auth/refresh", {"refresh_token": "x" * 43})
                self.assertEqual(await settled(forgotten),
                                 (401, {"detail": "Invalid refresh token"}))
                self.assertEqual((await settled(probe.refresh))[0], 200)
                status, pair = await settled(newcomer.register)
                self.assertEqual(status, 201, pair)
                await until(self, lambda: traffic.count(ok, restarted_at) >= 4, 20,
                            "the auth traffic recovers")
                echo = await a.say(conv, "after")
                self.assertEqual(await b.recv(), echo)
            finally:
                results = traffic.stop()
                read_results = reads.stop()
                if dead["redis"]:
                    await loop.run_in_executor(None, services, "redis-start")
            self.assertEqual(self.node.proc.poll(), None, "the node stopped")
            self.assert_answers(results, {200, 401, 503}, "auth traffic")
            self.assertEqual([r for r in results if r[1] is None], [], "dropped connections")
            # Reading conversations needs no Redis: never refused.
            self.assertEqual({r[0] for _, r in read_results if r}, {200})
            self.assertEqual([m["content"] for m in ann.history(conv)],
                             ["before", "while Redis is dead", "to the new socket", "after"])
        self.scenario(body, timeout=90)


# -- PostgreSQL restarted ---------------------------------------------------------------------
class PostgresRestarted(FaultCase):
    node_env = dict(FaultCase.node_env, TANDEM_HTTP_REQUEST_TIMEOUT_MS="3000")

    def test_no_acknowledged_share_or_message_is_lost_and_readiness_flips_and_recovers(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        conv = ann.create([bob])
        pid = self.node.proc.pid
        stopped = {"pg": False}

        def readiness(i):
            status, _, text = self.node.request("GET", "/readyz")
            return status, json.loads(text)

        async def body():
            loop = asyncio.get_running_loop()
            a, b = await ann.connect("/ws/chat"), await bob.connect("/ws/chat")

            async def drain_bob():
                while True:
                    await b.ws.recv()

            chat = ChatStream(a, conv, "through the restart", 0.05)
            contents, acked, refused = chat.contents, chat.acked, chat.refused
            shares = Repeat(lambda i: self.share(ann, i), 0.05)
            ready = Repeat(readiness, 0.05)
            drain = asyncio.create_task(drain_bob())
            try:
                await until(self, lambda: len(acked) >= 5 and shares.count(ok) >= 5, 15,
                            "traffic acknowledged before the restart")
                stopped["pg"] = True
                await loop.run_in_executor(None, services, "pg-stop")
                stop_mark = len(shares.results)
                await until(self, lambda: ready.count(lambda r: r and r[0] == 503) >= 1, 15,
                            "/readyz not ready")
                await until(self, lambda: shares.count(lambda r: r and r[0] != 200,
                                                       stop_mark) >= 3,
                            15, "shares meet the outage")
                await loop.run_in_executor(None, services, "pg-start")
                stopped["pg"] = False
                start_mark, acked_mark = len(shares.results), len(acked)
                ready_mark = len(ready.results)
                await until(self, lambda: ready.count(ok, ready_mark) >= 1, 30,
                            "/readyz ready again")
                await until(self, lambda: shares.count(ok, start_mark) >= 5
                            and len(acked) >= acked_mark + 5, 30,
                            "shares and messages acknowledged after the restart")
                await chat.stop_sending()
                await until(self, lambda: len(acked) + len(refused) == len(contents), 20,
                            "an answer for every send")
            finally:
                share_results = shares.stop()
                ready_results = ready.stop()
                await chat.close()
                drain.cancel()
                await asyncio.gather(drain, return_exceptions=True)
                if stopped["pg"]:
                    await loop.run_in_executor(None, services, "pg-start")

            summary = (f"shares {len(share_results)} ({sum(ok(r) for _, r in share_results)} "
                       f"acknowledged); messages {len(contents)} ({len(acked)} acknowledged)")
            print("\n" + summary, file=sys.stderr)
            self.assertEqual(self.node.proc.pid, pid)
            self.assertIsNone(self.node.proc.poll(), "the node stopped")
            self.assertEqual(chat.strange, [], summary)
            self.assert_answers(share_results, {200, 503, 504}, "shares")
            self.assertEqual([r for r in share_results if r[1] is None], [], "dropped")

            # Readiness: ready, then not ready naming PostgreSQL, then ready again.
            states = [r[0] for _, r in ready_results]
            self.assertEqual(states[0], 200)
            self.assertEqual(states[-1], 200)
            # (While the workers reconnect one by one, a check may pass on one connection
            # and fail on another: not ready names a database check either way.)
            down = [r[1] for _, r in ready_results if r[0] == 503]
            self.assertTrue(any(d["checks"]["postgres"] != "ok" for d in down), down)
            for d in down:
                self.assertEqual(d["detail"], "Not ready")
                self.assertEqual(d["checks"]["redis"], "ok", d)
                self.assertNotEqual((d["checks"]["postgres"], d["checks"]["migrations"]),
                                    ("ok", "ok"), d)

            self.assert_shares_stored(ann, share_results, summary)
            # Every acknowledged message is stored once, as acknowledged.
            self.node.wait_for(lambda: ok(ann.call(
                "GET", f"/conversations/{conv}/messages?after_seq=0")), timeout=30)
            history = {m["content"]: m for m in ann.history(conv)}
            self.assertEqual(len(history), len(ann.history(conv)), "a message stored twice")
            for temp, frame in acked.items():
                self.assertEqual(history.get(contents[temp]), as_stored(frame),
                                 f"{temp} lost; {summary}")
            for temp, frame in refused.items():
                self.assert_error_frame(frame, "send-message", temp, "unavailable")
        self.scenario(body, timeout=100)


# -- the media directory full or read-only ------------------------------------------------------
class MediaStoreFaults(MediaClient, unittest.TestCase):
    """media.dir on a tmpfs of 256 KiB of this test's own (root mounts it; unmounted
    whatever happens)."""

    def setUp(self):
        self.mount = tempfile.mkdtemp(prefix="tandem-e2e-tmpfs-")
        self.addCleanup(os.rmdir, self.mount)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0750", "tmpfs",
                        self.mount], check=True, capture_output=True)
        self.addCleanup(subprocess.run, ["umount", "--lazy", self.mount], check=True)
        self.node = Node(media_env(self.mount))
        self.addCleanup(self.node.stop)

    def remount(self, mode):
        subprocess.run(["mount", "-o", "remount," + mode, self.mount], check=True,
                       capture_output=True)

    def all_files(self):
        """Every file in the store, temporary ones included, below the media directory."""
        return sorted(os.path.relpath(os.path.join(d, f), self.mount)
                      for d, _, files in os.walk(self.mount) for f in files)

    def assert_served(self, user, image):
        status, url = self.image_url(user)
        self.assertEqual(status, 200, url)
        status, _, body = self.media("GET", url)
        self.assertEqual((status, body), (200, image))

    def assert_refused(self, reply, status, detail):
        code, hdrs, body = reply
        self.assertEqual(code, status, body)
        self.assertEqual(hdrs.get("content-type"), "application/json")
        self.assertEqual(json.loads(body), {"detail": detail})

    def test_a_full_media_directory_answers_507_keeps_the_old_image_and_nothing_half_written(self):
        user, newcomer, other = self.new_user(), self.new_user(), self.new_user()
        old = png_image()
        self.assertEqual(self.put_image(self.upload_url(user), old)[0], 200)
        too_big = png_image(padding=300 * 1024)
        for who in (user, newcomer, user):  # the same refusal each time, nothing piling up
            self.assert_refused(self.put_image(self.upload_url(who), too_big), 507,
                                "The media store is full; try again later")
            self.assertEqual(self.all_files(), [user + "/profile_image.png"])
            self.assert_served(user, old)
        # The node goes on: other uploads that fit are stored, and the one that did not
        # fit is stored once there is room.
        small = png_image(width=8)
        self.assertEqual(self.put_image(self.upload_url(other), small)[0], 200)
        self.assert_served(other, small)
        self.assertEqual(self.node.request("GET", "/ping")[0], 200)
        self.assertIsNone(self.node.proc.poll())
        errors = [e for e in self.node.logs if e.get("msg") == "media store is full"]
        self.assertEqual(len(errors), 3, errors)

    def test_a_read_only_media_directory_answers_503_and_recovers_when_writable(self):
        user = self.new_user()
        old = png_image()
        self.assertEqual(self.put_image(self.upload_url(user), old)[0], 200)
        self.remount("ro")
        try:
            new = png_image(width=6)
            self.assert_refused(self.put_image(self.upload_url(user), new), 503,
                                "The media store cannot be written; try again later")
            self.assert_served(user, old)
        finally:
            self.remount("rw")
        self.assertEqual(self.stored_files(user), [user + "/profile_image.png"])
        self.assertEqual(self.put_image(self.upload_url(user), new)[0], 200)
        self.assert_served(user, new)
        self.assertEqual(self.stored_files(user), [user + "/profile_image.png"])


# -- the node killed and restarted --------------------------------------------------------------
class NodeKilled(FaultCase):

    def test_writes_acknowledged_before_a_sigkill_survive_and_resends_are_idempotent(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        conv = ann.create([bob])
        profile = ann.ok("GET", "/users/me")
        update = {k: profile[k] for k in PROFILE_KEYS}
        upload_url = ann.ok("GET", "/users/me/profile-image-upload-url?image_ext=png")
        images = [png_image(padding=600 * 1024), png_image(width=5, padding=900 * 1024)]
        # What an upload cut short by an earlier crash left (the one below may cut one
        # short too, but cannot be made to).
        partial = os.path.join(self.node.media_dir, ".partial")
        os.makedirs(partial, exist_ok=True)
        with open(os.path.join(partial, "4242"), "wb") as f:
            f.write(images[0][:1000])

        def put_profile(i):
            return ann.call("PUT", "/users/me", dict(update, description=f"revision {i}"))

        def upload(i):
            # To the address in the URL: after the restart no node answers there.
            url = urllib.parse.urlsplit(upload_url)
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
            try:
                conn.request("PUT", url.path + "?" + url.query, body=images[i % 2],
                             headers={"Content-Type": "image/png"})
                res = conn.getresponse()
                return res.status, res.read()
            finally:
                conn.close()

        async def body():
            loop = asyncio.get_running_loop()
            chat = ChatStream(await ann.connect("/ws/chat"), conv, "across the crash", 0.02)
            contents, acked = chat.contents, chat.acked
            shares = Repeat(lambda i: self.share(ann, i), 0.02)
            profiles = Repeat(put_profile, 0.02)
            uploads = Repeat(upload, 0.01)
            try:
                await until(self, lambda: len(acked) >= 10 and shares.count(ok) >= 10
                            and profiles.count(ok) >= 10 and uploads.count(ok) >= 5, 20,
                            "writes acknowledged")
                await loop.run_in_executor(None, self.node.crash_and_restart)
                # The socket of the killed node is gone; its writers stop by themselves.
                done, _ = await asyncio.wait(chat.tasks, timeout=10)
                self.assertEqual(len(done), 2, "a socket outlived the killed node")
                for t in done:
                    self.assertIsInstance(t.exception(), ConnectionClosed)
            finally:
                share_results = shares.stop()
                profile_results = profiles.stop()
                upload_results = uploads.stop()
                await chat.close()

            summary = (f"shares {len(share_results)} ({shares.count(ok)} acknowledged), "
                       f"profile updates {len(profile_results)} ({profiles.count(ok)}), "
                       f"uploads {len(upload_results)} ({uploads.count(ok)}), "
                       f"messages {len(contents)} ({len(acked)})")
            print("\n" + summary, file=sys.stderr)
            self.assertEqual((chat.refused, chat.strange), ({}, []), summary)
            self.assert_answers(share_results, {200}, "shares")
            self.assert_answers(profile_results, {200}, "profile updates")
            self.assertEqual({r[0] for _, r in upload_results if r}, {200})

            # The image is one of the uploads, whole, and no partial file is left.
            owner = os.path.join(self.node.media_dir, ann.id)
            with open(os.path.join(owner, "profile_image.png"), "rb") as f:
                self.assertIn(f.read(), images)
            self.assertEqual(os.listdir(owner), ["profile_image.png"])
            self.assertEqual(os.listdir(partial), [])

            self.assert_shares_stored(ann, share_results, summary)

            # The profile is at the last acknowledged revision or a later one that was sent.
            last_acked = max(i for i, r in profile_results if ok(r))
            last_sent = profile_results[-1][0]
            now = ann.ok("GET", "/users/me")
            revision = int(now["description"].split()[1])
            self.assertTrue(last_acked <= revision <= last_sent,
                            f"revision {revision}, acknowledged up to {last_acked}")
            self.assertEqual(put_profile(revision), (200, now))  # the same update, same answer

            # Chat: every message sent is sent again with its tempMessageId. An acknowledged
            # one comes back as it was; the others are stored now (or were already).
            a = await ann.connect("/ws/chat")
            again = {}
            for temp, content in contents.items():
                await a.send_message(conv, content, temp)
            while len(again) < len(contents):
                frame = await a.expect("new-message", timeout=10)
                again[frame["tempMessageId"]] = frame
            for temp, frame in acked.items():
                self.assertEqual(again[temp], frame, temp)
            history = ann.history(conv)
            self.assertEqual(sorted(m["content"] for m in history), sorted(contents.values()))
            self.assertEqual(history, sorted((as_stored(f) for f in again.values()),
                                             key=lambda m: m["seq"]))
            seqs = [m["seq"] for m in history]
            self.assertEqual(seqs, sorted(set(seqs)), "seq not strictly increasing")
        self.scenario(body, timeout=100)


if __name__ == "__main__":
    unittest.main()
