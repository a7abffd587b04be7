"""Planned moves and shared-service outages under a cluster (issue 17, Tests): a rolling
restart with SIGTERM under load, a node joining, and Redis down for 30 s followed by a
PostgreSQL restart. Each run checks the recorded history against the store (history.py).
"""
import collections
import time
import unittest

from cluster import ClusterCase, ack_gaps


class MovesTest(ClusterCase):

    # Two things make a planned move cost a send at most one retry (docs/cluster.md,
    # Planned moves): a node on SIGTERM is out of the balancer's rotation before it stops
    # serving (http.shutdown_delay_ms), so no reconnect is sent back to it; and it announces
    # its drain to its peers before it hands its keys over, so that what it passes on reaches
    # peers that agree on the keys' new homes instead of refusing it until they renew.
    # Without them it failed 12 of 12 runs beside three CPU hogs; with them it passed 3 of 3.
    def test_rolling_restart_with_sigterm_under_load(self):
        """Each node in turn drains on SIGTERM and starts again: each key is unavailable at
        most 2 s, and no send fails after one retry."""
        pairs = self.pairs(9)
        marks = {}

        def fault():
            for node in self.cluster.nodes:
                self.assertEqual(self.cluster.terminate(node), 0, f"{node.name} exit code")
                self.cluster.restart(node)
                self.cluster.wait(lambda: node.name in self.cluster.balancer_up(), 20,
                                  f"{node.name} back in the rotation")
            marks["restarted"] = time.monotonic()
        hist, at = self.run_traffic(pairs, fault, after_s=2.0)
        self.assert_history(hist, pairs)
        gaps = ack_gaps(hist, at)
        print(f"\nrolling restart: longest time between two acknowledgements of a conversation "
              f"{max(gaps.values()):.2f} s (median {sorted(gaps.values())[len(gaps) // 2]:.2f} s), "
              f"sends retried once {sum(1 for n in self.retries.values() if n == 1)}")
        # 2 s of unavailability plus the pacing of the stream and the client's first backoff
        self.assertEqual({c: round(g, 2) for c, g in gaps.items() if g > 2.2}, {},
                         "keys unavailable for more than 2 s")
        # ack_gaps sees only gaps between acknowledgements: a conversation that stopped
        # acknowledging for good would hide there.
        recent = {s.conversation for s in hist.sends
                  if s.seq is not None and s.start >= marks["restarted"]}
        self.assertEqual(recent, {cid for _, _, cid in pairs},
                         "conversations that acknowledged nothing after the restarts")
        # Under test are the restarts, not the warm-up before them, whose first sends load
        # cold keys on three nodes started together (its retries are shown, not counted).
        first_try = {}
        for send in hist.sends:
            first_try[send.client_id] = min(first_try.get(send.client_id, send.start), send.start)
        twice = {t: self.retry_reasons[t] for t, n in self.retries.items()
                 if n > 1 and first_try[t] >= at}
        for temp in (t for t, n in self.retries.items() if n > 1 and first_try[t] < at):
            print(f"warm-up: {temp} retried {self.retries[temp]} times: {self.retry_reasons[temp]}")
        for temp, reasons in twice.items():
            print(f"{temp} retried {len(reasons)} times:\n  " + "\n  ".join(reasons))
        if twice:   # why the nodes refused sockets (a refused upgrade's answer has no detail)
            print(collections.Counter(
                (node.name, entry.get("error")) for node in self.cluster.nodes
                for entry in node.logs if entry.get("msg") == "websocket registration failed"))
            with open(self.cluster.balancer_log) as log:   # when the balancer took nodes out
                print("".join(line for line in log if " is DOWN" in line or " is UP" in line))
        self.assertEqual(twice, {}, "sends that needed more than one retry")

    def test_a_node_joining_moves_about_one_in_n_of_the_keys(self):
        pairs = self.pairs(40)
        before = {}

        def fault():
            before.update(self.cluster.owners("c"))
            self.cluster.add_node()
            time.sleep(2.0)            # the handover of the keys whose home is now n4
        hist, _ = self.run_traffic(pairs, fault, before_s=3.0, after_s=3.0)
        self.assert_history(hist, pairs)
        cids = {cid for _, _, cid in pairs}
        self.assertEqual(set(before) & cids, cids, "not every conversation was claimed")
        after = self.cluster.owners("c")
        moved = {c for c in cids if after[c][0] != before[c][0]}
        print(f"\njoin: {len(moved)} of {len(cids)} conversations moved to the 4th node")
        self.assertEqual({after[c][0] for c in moved}, {"n4"}, "keys moved elsewhere than n4")
        # 1/4 of 40 expected; rendezvous hashing varies around it
        self.assertTrue(4 <= len(moved) <= 18, f"{len(moved)} of 40 keys moved to n4")

    def test_redis_down_30_s_and_postgres_restarted(self):
        """Nothing acknowledged is lost and the nodes recover by themselves (same processes)."""
        pairs = self.pairs(6)
        pids = [n.proc.pid for n in self.cluster.nodes]
        marks = {}

        def fault():
            self.cluster.redis_outage(30)
            self.cluster.restart_postgres()
            marks["restored"] = time.monotonic()
            self.cluster.wait(lambda: all(n.ready() for n in self.cluster.nodes), 30,
                              "every node ready again")
        hist, _ = self.run_traffic(pairs, fault, after_s=5.0)
        self.assert_history(hist, pairs)
        self.assertEqual([n.proc.pid for n in self.cluster.nodes], pids)
        self.assertTrue(all(n.alive() for n in self.cluster.nodes))
        recent = collections.Counter(s.conversation for s in hist.sends
                                     if s.seq is not None and s.start >= marks["restored"])
        self.assertEqual(set(recent), {cid for _, _, cid in pairs},
                         "conversations that did not acknowledge a send after the recovery")


if __name__ == "__main__":
    unittest.main()
