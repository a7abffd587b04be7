"""One system whatever node a request reaches (issue 17, Tests): a write on one node is read
at once on another (friend request, accept, share, profile), and presence, live pushes
and chat work across three nodes with each member on a different node.
"""
import collections
import unittest

from cluster import ClusterCase
from tandem import PROFILE_KEYS, TITLE, URL, path_of


class CrossNodeTest(ClusterCase):

    def test_a_write_on_one_node_is_read_at_once_on_another(self):
        ann, bob = self.person("Ann"), self.person("Bob")
        # each read right after the write, on another node than the write
        self.on(ann, 0)
        self.on(bob, 1)
        ann.request(bob)
        self.assertEqual([r["user_id"] for r in bob.incoming()], [ann.id])
        bob.accept(ann)
        self.on(ann, 2)
        pair = ann.check(bob)
        self.assertIsNotNone(pair, "the accepted friendship is not seen on n3")
        self.assertIsNotNone(pair["accepted_at"], pair)
        self.assertEqual([f["user_id"] for f in ann.ok("GET", "/friendship/all")], [bob.id])

        event_id = ann.ok("POST", "/notifications/share", {"url": URL, "title": TITLE})
        self.on(bob, 0)
        self.assertEqual([n["event_id"] for n in bob.unread()], [event_id])

        self.on(ann, 1)
        profile = ann.ok("GET", "/users/me")
        profile["first_name"] = "Annette"
        ann.ok("PUT", "/users/me", {k: profile[k] for k in profile if k in PROFILE_KEYS})
        for k in (0, 2):
            self.on(bob, k)
            self.assertEqual(bob.ok("GET", path_of("users", "id", ann.id))["first_name"],
                             "Annette", f"n{k + 1}")
            self.on(ann, k)
            self.assertEqual(ann.ok("GET", "/users/me")["first_name"], "Annette", f"n{k + 1}")

    def test_presence_pushes_and_chat_across_three_nodes(self):
        ann, bob, cid = self.person("Ann"), self.person("Bob"), self.person("Cid")
        for k, p in enumerate((ann, bob, cid)):
            self.on(p, k)
        ann.befriend(bob)
        ann.befriend(cid)
        bob.befriend(cid)
        ann.share_all()
        bob.share_all()

        async def body():
            a, b, c = [await p.connect("/ws") for p in (ann, bob, cid)]
            await a.update(URL, TITLE)
            for s in (a, b, c):        # her own socket and both friends, on three nodes
                frame = await s.expect("update-presence")
                self.assertEqual((frame["userId"], frame["url"]), (ann.id, URL), frame)
            self.assertEqual(cid.presence_of(ann), (200, {"url": URL, "title": TITLE}))

            event_id = ann.ok("POST", "/notifications/share", {"url": URL, "title": TITLE})
            for s in (b, c):
                frame = await s.expect("share-notification")
                self.assertEqual(frame["event_id"], event_id, frame)

            group = ann.group([bob, cid], "Three nodes")
            for i, (speaker, s) in enumerate(((ann, a), (bob, b), (cid, c), (ann, a))):
                echo = await s.say(group, f"hello {i}")
                self.assertEqual(echo["seq"], i + 1, echo)
                for other in {a, b, c} - {s}:
                    frame = await other.expect("new-message")
                    self.assert_new_message(frame, speaker, group, f"hello {i}")
                    self.assertEqual(frame["seq"], i + 1)

            # Online is an update-presence on a live socket (docs/api.md): only then does
            # closing the last socket make the friends see the user go.
            await b.update(URL, TITLE)
            for s in (a, b, c):
                frame = await s.expect("update-presence")
                self.assertEqual(frame["userId"], bob.id, frame)
            await b.close()            # Bob's last socket: his friends see him go
            for s in (a, c):
                frame = await s.expect("presence-timeout")
                self.assertEqual(frame["userId"], bob.id, frame)
        self.scenario(body)

    def test_streams_of_sends_across_three_nodes_keep_every_invariant(self):
        """Senders and followers spread over the nodes, replays through the balancer: one
        actor per conversation in the whole cluster, so every replay has every message."""
        pairs = self.pairs(6)
        hist, _ = self.run_traffic(pairs, lambda: None, before_s=1.0, after_s=2.0)
        self.assertGreater(self.assert_history(hist, pairs), 6 * 5)
        self.assertEqual(sum(self.retries.values()), 0, "a send needed a retry without a fault")
        # One claim each, by a live node: no second actor ever took a conversation over.
        owners = self.cluster.owners("c")
        nodes = {n.name for n in self.cluster.nodes}
        for _, _, cid in pairs:
            node, epoch = owners[cid]
            self.assertEqual(epoch, 1, f"{cid} was claimed again, now by {node!r}")
            self.assertIn(node, nodes, cid)
        # A replay that the owner's ring covers, on every node: each hands it to the owner.
        stored = collections.defaultdict(list)
        for row in self.cluster.stored_messages([cid for _, _, cid in pairs]):
            stored[row.conversation].append(row.message_id)
        for _, follower, cid in pairs:
            last = len(stored[cid])
            for k in range(len(self.cluster.nodes)):
                self.on(follower, k)
                got = follower.ok("GET", f"/conversations/{cid}/messages?after_seq={last - 2}")
                self.assertEqual([m["messageId"] for m in got], stored[cid][-2:], f"n{k + 1}")


if __name__ == "__main__":
    unittest.main()
