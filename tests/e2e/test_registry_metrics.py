"""The registries of user and conversation actors on /metrics: live actors and the
spawned, passivated, died and routed counters of each, as the node's own requests move them.
A conversation actor passivates after one idle second here, so the gauges are watched
falling back as well as rising."""
import json
import re
import unittest
import uuid

from tandem import NodeTestCase, mint_token

JWT_KEY = "e2e-registry-signing-key-" + "r" * 32
KINDS = ("user", "conversation")


class RegistryMetrics(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_CHAT_IDLE_TIMEOUT_S": "1"}

    def call(self, user_id, method, path, body=None):
        token = mint_token(JWT_KEY, user_id, user_id + "@example.com")
        status, _, text = self.node.request(method, path,
                                            body=None if body is None else json.dumps(body),
                                            headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200, f"{method} {path}: {text}")
        return json.loads(text) if text else None

    def registries(self):
        """{name: value} of every registry sample on /metrics."""
        status, _, text = self.node.request("GET", "/metrics")
        self.assertEqual(status, 200)
        samples = {}
        for kind in KINDS:
            for name, value in re.findall(r"^(tandem_%s_\w+) (\d+)$" % kind, text, re.M):
                samples[name] = int(value)
        return samples

    def test_the_registries_show_their_actors_and_counters(self):
        before = self.registries()
        for kind in KINDS:
            for suffix in ("actors", "actors_spawned_total", "actors_passivated_total",
                           "actors_died_total", "registry_routed_total", "keys_swept_total"):
                self.assertIn(f"tandem_{kind}_{suffix}", before)
        self.assertEqual(before["tandem_conversation_actors"], 0)
        self.assertEqual(before["tandem_conversation_actors_spawned_total"], 0)

        ann, bob = str(uuid.uuid4()), str(uuid.uuid4())
        for user, first in ((ann, "Ann"), (bob, "Bob")):
            self.call(user, "POST", "/users/me", {"first_name": first, "last_name": "Test"})
        conv = self.call(ann, "POST", "/conversation",
                         {"recipientIdArr": [bob], "isGroup": False, "title": ""})
        replay = "/conversations/%s/messages?after_seq=0" % conv["conversationId"]
        self.assertEqual(self.call(ann, "GET", replay), [])

        after = self.registries()
        # The profile writes went through the user registry, which spawned their actors.
        self.assertGreaterEqual(after["tandem_user_actors"], 2)
        self.assertGreaterEqual(after["tandem_user_actors_spawned_total"], 2)
        self.assertGreater(after["tandem_user_registry_routed_total"],
                           before["tandem_user_registry_routed_total"])
        # One replay: one conversation actor, one routed message.
        self.assertEqual(after["tandem_conversation_actors_spawned_total"], 1)
        self.assertEqual(after["tandem_conversation_registry_routed_total"], 1)

        # Idle for a second: passivated, and the gauge falls back.
        self.node.wait_for(
            lambda: self.registries()["tandem_conversation_actors_passivated_total"] == 1)
        idle = self.registries()
        self.assertEqual(idle["tandem_conversation_actors"], 0)
        self.assertEqual(idle["tandem_conversation_actors_died_total"], 0)

        self.assertEqual(self.call(bob, "GET", replay), [])
        again = self.registries()
        self.assertEqual(again["tandem_conversation_actors_spawned_total"], 2)
        self.assertEqual(again["tandem_conversation_registry_routed_total"], 2)


if __name__ == "__main__":
    unittest.main()
