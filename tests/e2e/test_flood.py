"""Presence, typing and read-receipt floods (issue 15, item 1) over real WebSockets: the
per-user budgets (ws.presence_*, ws.typing_*, ws.receipts_*) at their limit and past it,
whatever the number of sockets; presence past the budget coalesced so that friends end
at the latest page; typing and read-messages past it shed with an error frame and
counted on /metrics; and the issue's flood at reduced duration (one user with 5,000
friends sending update-presence from 8 sockets at the per-socket rate) keeping the
node's memory and another user's latency bounded.

Built on the helpers of tandem.py; the flood itself is
bench/flood/flood.py, the driver of the benchmark."""
import asyncio
import os
import re
import sys
import time


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                                "flood"))
import flood  # noqa: E402

from tandem import BASE_ENV, ChatCase, JWT_KEY, RealtimeCase, psql

PRESENCE_PER_S, PRESENCE_BURST = 2, 5
TYPING_BURST = 4
RECEIPTS_BURST = 4
SETTLE_S = 1.5  # a coalesced update goes out within 1 / PRESENCE_PER_S s; this is ample


def counter(test, name):
    """The value of a counter on /metrics."""
    status, _, text = test.node.request("GET", "/metrics")
    test.assertEqual(status, 200, text)
    found = re.search(rf"^{name} (\d+)$", text, re.M)
    test.assertIsNotNone(found, f"{name} not on /metrics")
    return int(found.group(1))


class Budgets(ChatCase):
    node_env = {**BASE_ENV,
                "TANDEM_WS_PRESENCE_PER_S": str(PRESENCE_PER_S),
                "TANDEM_WS_PRESENCE_BURST": str(PRESENCE_BURST),
                "TANDEM_WS_TYPING_PER_S": "1", "TANDEM_WS_TYPING_BURST": str(TYPING_BURST),
                "TANDEM_WS_RECEIPTS_PER_S": "1", "TANDEM_WS_RECEIPTS_BURST": str(RECEIPTS_BURST)}

    def friends(self):
        ann, bob = self.person("Ann"), self.person("Bob")
        ann.befriend(bob)
        ann.share_all()
        return ann, bob

    async def until_url(self, sock, url, timeout):
        """The update-presence frames `sock` gets up to the one showing `url`. The socket's
        send queue coalesces a friend's frames while one write is in flight, so a client
        may see fewer frames than went out, never more, and always the latest."""
        frames = []
        while not frames or frames[-1]["url"] != url:
            frames.append(await sock.next_of("update-presence", timeout))
        return frames

    async def until_counter(self, name, value, timeout=3.0):
        deadline = time.monotonic() + timeout
        while counter(self, name) < value:
            if time.monotonic() > deadline:
                self.fail(f"{name} below {value} after {timeout} s")
            await asyncio.sleep(0.05)

    def pages_from_one_socket(self, n, within, most, coalesced):
        """Ann sends `n` pages at once from one socket: her friend Bob ends at the last
        one within `within` s, having got at most `most` frames, then nothing more; and
        `coalesced` updates were counted as replaced."""
        ann, bob = self.friends()
        name = "tandem_ws_presence_coalesced_total"
        before = counter(self, name)

        async def body():
            a = await ann.connect("/ws/presence")
            b = await bob.connect("/ws/presence")
            urls = [f"https://example.org/{i}" for i in range(n)]
            for url in urls:
                await a.update(url, "Page")
            frames = await self.until_url(b, urls[-1], within)
            self.assertLessEqual(len(frames), most)
            await b.quiet(SETTLE_S)
        self.scenario(body)
        self.assertEqual(counter(self, name) - before, coalesced)

    def test_presence_at_the_budget_goes_out_at_once_and_nothing_is_coalesced(self):
        # No wait for a token: each frame comes within the delivery time.
        self.pages_from_one_socket(PRESENCE_BURST, 1.0, PRESENCE_BURST, 0)

    def test_presence_past_the_budget_is_coalesced_and_the_latest_page_wins(self):
        # The burst, then the 20 past it as one update once a token is back: the latest.
        self.pages_from_one_socket(PRESENCE_BURST + 20, SETTLE_S, PRESENCE_BURST + 1, 19)

    def test_the_presence_budget_is_the_users_whatever_the_number_of_sockets(self):
        ann, bob = self.friends()
        name = "tandem_ws_presence_coalesced_total"
        before = counter(self, name)

        async def body():
            sockets = [await ann.connect("/ws/presence") for _ in range(2)]
            b = await bob.connect("/ws/presence")
            for i in range(PRESENCE_BURST):  # each socket within the budget on its own
                for k, s in enumerate(sockets):
                    await s.update(f"https://example.org/{k}/{i}", "Page")
            # Together past it: all but the burst and one coalesced.
            await self.until_counter(name, before + PRESENCE_BURST - 1)
            frames = [await b.next_of("update-presence")]
            while True:
                try:
                    frames.append(await asyncio.wait_for(b.next_of("update-presence"), SETTLE_S))
                except asyncio.TimeoutError:
                    break
            self.assertLessEqual(len(frames), PRESENCE_BURST + 1)
        self.scenario(body)
        self.assertEqual(counter(self, name) - before, PRESENCE_BURST - 1)

    def shed_once(self, metric, steps):
        """Ann (two chat sockets) and Bob (one socket) in a direct conversation: runs
        `steps(ann, cid, ann_sockets, bob_socket)`, which sends one frame past Ann's
        budget; then Bob must have got nothing for it, and `metric` must have grown by 1."""
        ann, bob = self.person("Ann"), self.person("Bob")
        cid = ann.create([bob])
        before = counter(self, metric)

        async def body():
            ann_sockets = (await ann.connect("/ws/chat"), await ann.connect("/ws/chat"))
            b = await bob.connect("/ws")
            await steps(ann, cid, ann_sockets, b)
            await self.marker(bob, b)
        self.scenario(body)
        self.assertEqual(counter(self, metric) - before, 1)

    def test_typing_at_and_past_the_users_budget_from_two_sockets(self):
        async def steps(ann, cid, sockets, b):
            for i in range(TYPING_BURST):
                await sockets[i % 2].typing(cid)
            for frame in await b.recv_many(TYPING_BURST, 3.0):
                self.assertEqual((frame["type"], frame["userId"]), ("typing", ann.id), frame)
            await sockets[1].typing(cid)
            self.assert_error_frame(await sockets[1].expect("error"), "typing",
                                    mentions="rate limit")
        self.shed_once("tandem_ws_typing_shed_total", steps)

    def test_read_messages_at_and_past_the_users_budget_from_two_sockets(self):
        async def steps(ann, cid, sockets, b):
            for i in range(RECEIPTS_BURST + 1):
                await b.say(cid, f"message {i}")
                await sockets[i % 2].read(cid)
                if i < RECEIPTS_BURST:
                    receipt = await b.next_of("read-receipt")
                    self.assertEqual(receipt["userId"], ann.id, receipt)
            self.assert_error_frame(await sockets[0].next_of("error"), "read-messages",
                                    mentions="rate limit")
        self.shed_once("tandem_ws_receipts_shed_total", steps)


class PresenceFlood(RealtimeCase):
    """The issue's flood with the default budgets: 5,000 friends (users.max_friends),
    8 sockets (ws.max_connections) at 20 frames/s each (ws.rate_per_s), for 5 s."""
    FRIENDS = 5000
    node_env = {**BASE_ENV, "TANDEM_LOG_REQUESTS": "false"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        psql(cls.node.db_dsn, flood.seed_sql(1, cls.FRIENDS))

    def test_one_user_flooding_from_8_sockets_keeps_memory_bounded_and_others_fast(self):
        seconds = 5.0
        figures = asyncio.run(flood.flood(self.node.port, self.node.proc.pid, JWT_KEY,
                                          flooders=1, seconds=seconds))
        print(flood.result_line(figures), file=sys.stderr)
        self.assertEqual(figures["probe_errors"], 0, figures)
        self.assertLess(figures["probe_median_ms"], 50, figures)
        self.assertLess(figures["probe_max_ms"], 1000, figures)
        self.assertLess(figures["rss_peak_mb"] - figures["rss_before_mb"], 48, figures)
        self.assertTrue(figures["friends_at_latest"], figures)
        # A watching friend gets at most the presence budget (ws.presence_*, 2/s with a
        # burst of 10) over the flood and the final update: never one per frame sent.
        self.assertLessEqual(figures["delivered_max"], 10 + 2 * (seconds + 1) + 1, figures)
        self.assertGreater(counter(self, "tandem_ws_presence_coalesced_total"), 0)
        # Nothing went toward the friends without a connection: one skip each per fan-out.
        self.assertGreaterEqual(counter(self, "tandem_ws_offline_skipped_total"),
                                self.FRIENDS - 3)
