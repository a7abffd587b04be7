"""The presence flood of issue 15, item 1, against a running node: users with thousands of
friends each send update-presence from every socket they may open, as fast as the
per-socket rate allows; meanwhile another user's requests are timed and the node's RSS is
sampled. Used by bench/flood/run (RESULT line) and by tests/e2e/test_flood.py.

    python3 flood.py seed-sql FLOODERS FRIENDS        SQL for psql: the users and friendships
    python3 flood.py run --port P --pid PID --key JWT_KEY [--flooders N] [--seconds S] ...

Ids: flooder i is 'flood-<i>', its friends 'flood-<i>-f<j>' (j < FRIENDS); the prober
'flood-probe' has one friend, 'flood-probe-friend'. Flooders share every page.
"""
import argparse
import asyncio
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "e2e"))
from tandem import mint_token  # noqa: E402

import websockets  # noqa: E402

PROBE = "flood-probe"


def flooder_id(i):
    return f"flood-{i}"


def friend_id(i, j):
    return f"flood-{i}-f{j:05d}"


def seed_sql(flooders, friends):
    """Users and accepted friendships (ids sort as user_low < user_high: the flooder's
    id is a prefix of its friends')."""
    ids = ", ".join(f"'{flooder_id(i)}'" for i in range(flooders))
    return f"""
INSERT INTO users (user_id, email, first_name, last_name, share_mode)
SELECT id, id || '@flood.example', 'Flood', 'User', 'default_all'
  FROM unnest(ARRAY[{ids}, '{PROBE}', '{PROBE}-friend']) AS id;
INSERT INTO users (user_id, email, first_name, last_name)
SELECT 'flood-' || i || '-f' || lpad(j::text, 5, '0'), 'flood-' || i || '-f' || j || '@flood.example',
       'Friend' || j, 'Flood'
  FROM generate_series(0, {flooders - 1}) i, generate_series(0, {friends - 1}) j;
INSERT INTO friendships (user_low, user_high, requester, accepted_at)
SELECT 'flood-' || i, 'flood-' || i || '-f' || lpad(j::text, 5, '0'), 'flood-' || i, now()
  FROM generate_series(0, {flooders - 1}) i, generate_series(0, {friends - 1}) j;
INSERT INTO friendships (user_low, user_high, requester, accepted_at)
VALUES ('{PROBE}', '{PROBE}-friend', '{PROBE}', now());
"""


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


class Probe(threading.Thread):
    """GET /presence of the prober (through its user actor and the registry), one at a
    time, every `interval` s: latencies in ms; a request not answered in `timeout` s
    counts as an error."""

    def __init__(self, port, token, interval=0.05, timeout=5):
        super().__init__(daemon=True)
        self.port, self.interval, self.timeout = port, interval, timeout
        self.headers = {"Authorization": "Bearer " + token}
        self.latencies, self.errors = [], 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            start = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                conn.request("GET", "/presence", headers=self.headers)
                res = conn.getresponse()
                res.read()
                if res.status == 200:
                    self.latencies.append((time.monotonic() - start) * 1000)
                else:
                    self.errors += 1
            except OSError:
                self.errors += 1
            finally:
                conn.close()
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join(self.timeout + 1)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def connect(port, key, user, path):
    token = mint_token(key, user, f"{user}@flood.example")
    query = "?Authorization=" + urllib.parse.quote(token, safe="")
    return await websockets.connect(f"ws://127.0.0.1:{port}{path}{query}", compression=None,
                                    open_timeout=20, close_timeout=2, ping_interval=None,
                                    max_queue=None)


async def drain(ws, seen):
    """Reads every frame; `seen` keeps the update-presence frames' urls by user."""
    try:
        async for text in ws:
            frame = json.loads(text)
            if frame.get("type") == "update-presence":
                seen.setdefault(frame["userId"], []).append(frame["url"])
    except websockets.ConnectionClosed:
        pass


async def flood(port, pid, key, flooders=1, sockets=8, rate=20, seconds=5.0, watchers=3,
                settle=3.0):
    """Runs the flood; returns a dict of figures (see `result_line`)."""
    probe = Probe(port, mint_token(key, PROBE, PROBE + "@flood.example"))
    # Connected friends of each flooder, which must end at the flooder's latest page.
    watched = {}
    watcher_sockets = []
    for i in range(flooders):
        for j in range(watchers):
            ws = await connect(port, key, friend_id(i, j), "/ws/presence")
            seen = {}
            watcher_sockets.append((ws, asyncio.ensure_future(drain(ws, seen))))
            watched.setdefault(flooder_id(i), []).append(seen)
    own = []
    for i in range(flooders):
        for _ in range(sockets):
            ws = await connect(port, key, flooder_id(i), "/ws/presence")
            own.append((i, ws, asyncio.ensure_future(drain(ws, {}))))
    await asyncio.sleep(0.5)
    rss_before = rss_mb(pid)
    peak = [rss_before]
    sent = [0]
    stop = time.monotonic() + seconds

    async def sample():
        while True:
            peak[0] = max(peak[0], rss_mb(pid))
            await asyncio.sleep(0.1)

    async def send(i, ws, k):
        # A little under the per-socket rate, so that no frame is a strike.
        interval = 1.05 / rate
        n = 0
        while time.monotonic() < stop:
            await ws.send(json.dumps({"action": "update-presence",
                                      "url": f"https://flood.example/{i}/{k}/{n}",
                                      "title": "Flood"}))
            sent[0] += 1
            n += 1
            await asyncio.sleep(interval)

    sampler = asyncio.ensure_future(sample())
    probe.start()
    started = time.monotonic()
    await asyncio.gather(*(send(i, ws, k) for k, (i, ws, _) in enumerate(own)))
    flood_s = time.monotonic() - started
    # The last page of each flooder, sent once the others are in: friends must end there.
    await asyncio.sleep(0.3)
    latest = {}
    for i, ws, _ in own[::sockets]:
        latest[flooder_id(i)] = f"https://flood.example/{i}/latest"
        await ws.send(json.dumps({"action": "update-presence", "url": latest[flooder_id(i)],
                                  "title": "Latest"}))
    await asyncio.sleep(settle)
    probe.stop()
    sampler.cancel()
    rss_after = rss_mb(pid)
    for _, ws, task in own:
        await ws.close()
        task.cancel()
    for ws, task in watcher_sockets:
        await ws.close()
        task.cancel()
    delivered = [len(seen.get(user, [])) for user, boxes in watched.items() for seen in boxes]
    at_latest = all(seen.get(user, [None])[-1] == latest[user]
                    for user, boxes in watched.items() for seen in boxes)
    return {
        "flooders": flooders, "sockets": sockets, "seconds": round(flood_s, 1), "sent": sent[0],
        "rss_before_mb": round(rss_before), "rss_peak_mb": round(peak[0]),
        "rss_after_mb": round(rss_after),
        "probe_n": len(probe.latencies), "probe_errors": probe.errors,
        "probe_median_ms": round(statistics.median(probe.latencies), 1) if probe.latencies
                           else float("nan"),
        "probe_p99_ms": round(percentile(probe.latencies, 0.99), 1),
        "probe_max_ms": round(max(probe.latencies), 1) if probe.latencies else float("nan"),
        "delivered_max": max(delivered) if delivered else 0,
        "friends_at_latest": at_latest,
    }


def result_line(figures, **extra):
    return "RESULT " + " ".join(f"{k}={v}" for k, v in {**extra, **figures}.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed-sql")
    s.add_argument("flooders", type=int)
    s.add_argument("friends", type=int)
    r = sub.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--pid", type=int, required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--flooders", type=int, default=1)
    r.add_argument("--friends", type=int, default=5000, help="as seeded (for the RESULT line)")
    r.add_argument("--sockets", type=int, default=8)
    r.add_argument("--rate", type=int, default=20)
    r.add_argument("--seconds", type=float, default=5)
    r.add_argument("--label", default="")
    args = parser.parse_args()
    if args.cmd == "seed-sql":
        print(seed_sql(args.flooders, args.friends))
        return
    figures = asyncio.run(flood(args.port, args.pid, args.key, args.flooders, args.sockets,
                                args.rate, args.seconds))
    print(result_line(figures, label=args.label or "-", friends=args.friends))


if __name__ == "__main__":
    main()
