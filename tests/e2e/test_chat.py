"""Chat over REST and real WebSockets (issue 6; docs/api.md, Chat): the
conversation routes C1-C6 with their validation, direct conversations deduplicated per pair
(also under concurrent creation), the unread flag and count, compat and cursor paging of
messages; live delivery of new-message to every chat socket of every member, idempotent
tempMessageId, errors for non-members and invalid frames, typing, read-messages and
read-receipt, replay after a disconnect, the per-user rate limit, and no acknowledged message
lost while PostgreSQL restarts in the middle of a stream of sends.

Built on the helpers of tandem.py (Chatter, ChatSocket, ChatCase). As in test_realtime, test methods
are plain `def test_...` run with asyncio.run, and "receives nothing" is checked after a later
marker frame that a wrong delivery would have come before, plus a short bounded wait.
"""
import asyncio
import json
import subprocess
import sys
import threading
import unittest
import uuid

from websockets.exceptions import ConnectionClosed

from tandem import (
    ANY, CHAT_S, ChatCase, LIST_KEYS, SENT_AT, UNLIMITED, as_stored, new_temp, services, until)


class Conversations(ChatCase):

    def test_every_chat_route_needs_a_token(self):
        some = str(uuid.uuid4())
        routes = [("POST", "/conversation"), ("GET", "/conversation/direct/" + some),
                  ("GET", "/conversations"), ("GET", "/conversations/" + some),
                  ("GET", f"/conversations/{some}/messages?limit=1&offset=0"),
                  ("GET", f"/conversations/{some}/participants")]
        for method, path in routes:
            for headers in ({}, {"Authorization": "Bearer not-a-token"}):
                with self.subTest(path=path, headers=headers):
                    body = json.dumps({"recipientIdArr": [some], "isGroup": False,
                                       "title": ""}) if method == "POST" else None
                    status, _, text = self.node.request(method, path, body=body,
                                                        headers=headers)
                    self.assertEqual(status, 401, text)
                    self.assert_detail(text)
        # The token is taken with or without "Bearer ".
        ann = self.person()
        for value in ("Bearer " + ann.token, ann.token):
            status, _, text = self.node.request("GET", "/conversations",
                                                headers={"Authorization": value})
            self.assertEqual((status, json.loads(text)), (200, []), value[:10])

    def test_c1_a_missing_field_is_400(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        full = {"recipientIdArr": [bob.id], "isGroup": False, "title": ""}
        for key in full:
            with self.subTest(missing=key):
                body = {k: v for k, v in full.items() if k != key}
                self.assert_refused(ann.call("POST", "/conversation", body), 400,
                                    f"Missing '{key}' in event body")
        with self.subTest(missing="all"):
            self.assert_refused(ann.call("POST", "/conversation", {}), 400,
                                {f"Missing '{k}' in event body" for k in full})
        for case, text in (("not json", "{not json"), ("array", "[]"), ("string", '"x"')):
            with self.subTest(body=case):
                self.assert_refused(ann.call("POST", "/conversation", text), 400)
        self.assertEqual(ann.direct_with(bob), (200, ""))

    def test_c1_wrong_types_are_400_invalid_parameter(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        good = {"recipientIdArr": [bob.id, cid.id], "isGroup": True, "title": "Team"}
        cases = [("recipientIdArr", bob.id), ("recipientIdArr", {"0": bob.id}),
                 ("recipientIdArr", 5), ("recipientIdArr", True), ("recipientIdArr", [5, 6]),
                 ("recipientIdArr", [bob.id, 5]), ("recipientIdArr", [bob.id, None]),
                 ("recipientIdArr", [[bob.id], [cid.id]]),
                 ("isGroup", "true"), ("isGroup", 1), ("isGroup", 0), ("isGroup", []),
                 ("title", 5), ("title", ["Team"]), ("title", True), ("title", {"t": "x"})]
        for key, value in cases:
            with self.subTest(key=key, value=value):
                self.assert_refused(ann.call("POST", "/conversation", dict(good, **{key: value})),
                                    400, f"Invalid parameter '{key}'")
        for key in good:    # null: missing or invalid, but 400
            with self.subTest(key=key, value=None):
                self.assert_refused(ann.call("POST", "/conversation", dict(good, **{key: None})),
                                    400, {f"Invalid parameter '{key}'",
                                          f"Missing '{key}' in event body"})
        # The good body itself is accepted.
        ann.create([bob, cid], True, "Team")

    def test_c1_direct_needs_exactly_one_other_recipient(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        for case, ids in (("empty", []), ("two others", [bob.id, cid.id]),
                          ("only me", [ann.id]), ("me twice", [ann.id, ann.id])):
            with self.subTest(case=case):
                self.assert_refused(
                    ann.call("POST", "/conversation",
                             {"recipientIdArr": ids, "isGroup": False, "title": ""}),
                    400, "Invalid parameter 'recipientIdArr'")
        self.assertEqual(ann.direct_with(bob), (200, ""))
        # Duplicates and the caller's own id are ignored; a direct title is ''.
        conv = ann.create([bob, bob], False, "Ignored title")
        self.assertEqual(ann.create([bob, ann]), conv)
        self.assertEqual(ann.create([ann, bob, ann]), conv)
        self.assertEqual(ann.ok("GET", "/conversations/" + conv),
                         {"conversation_id": conv, "title": "", "isGroup": False,
                          "participantId": bob.id})
        self.assertEqual(sorted(ann.ok("GET", f"/conversations/{conv}/participants")),
                         sorted([ann.id, bob.id]))

    def test_c1_a_group_needs_two_other_recipients_and_a_title_of_at_most_512(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")

        def group(ids, title="Team"):
            return ann.call("POST", "/conversation",
                            {"recipientIdArr": ids, "isGroup": True, "title": title})

        for case, ids in (("empty", []), ("one", [bob.id]), ("one and me", [bob.id, ann.id]),
                          ("one twice", [bob.id, bob.id]),
                          ("one twice and me", [bob.id, ann.id, bob.id])):
            with self.subTest(recipients=case):
                self.assert_refused(group(ids), 400, "Invalid parameter 'recipientIdArr'")
        for case, title in (("empty", ""), ("blank", "  \t "), ("513", "t" * 513),
                            ("513 non-ascii", "é" * 513)):
            with self.subTest(title=case):
                self.assert_refused(group([bob.id, cid.id], title), 400,
                                    "Invalid parameter 'title'")
        self.assertEqual(ann.direct_with(bob), (200, ""))
        for title in ("t" * 512, "é" * 512, "Ünïcødé 🙂 trip"):
            with self.subTest(title=title[:20]):
                conv = ann.group([bob, cid], title)
                got = ann.ok("GET", "/conversations/" + conv)
                self.assertEqual((got["title"], got["isGroup"]), (title, True), got)
        # Surrounding blanks do not count: a padded title is accepted.
        ann.group([bob, cid], "  Trip  ")

    def test_c1_an_unknown_recipient_is_404(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ghost = self.person("Ghost", register=False)
        for case, ids, is_group in (("random direct", [str(uuid.uuid4())], False),
                                    ("no profile direct", [ghost.id], False),
                                    ("random in group", [bob.id, str(uuid.uuid4())], True),
                                    ("no profile in group", [ghost.id, bob.id], True)):
            with self.subTest(case=case):
                self.assert_refused(
                    ann.call("POST", "/conversation",
                             {"recipientIdArr": ids, "isGroup": is_group, "title": "T"}),
                    404, "User not found")
        self.assertEqual(ann.direct_with(ghost), (200, ""))

    def test_direct_conversations_are_one_per_pair_even_when_created_concurrently(self):
        for round_ in range(3):
            with self.subTest(round=round_):
                ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
                self.assertEqual(ann.direct_with(bob), (200, ""))
                self.assertEqual(bob.direct_with(ann), (200, ""))
                callers = [(ann, bob), (bob, ann)] * 6
                barrier = threading.Barrier(len(callers))
                results = [None] * len(callers)

                def create(i):
                    me, other = callers[i]
                    barrier.wait(10)
                    results[i] = me.call("POST", "/conversation",
                                         {"recipientIdArr": [other.id], "isGroup": False,
                                          "title": ""})
                threads = [threading.Thread(target=create, args=(i,))
                           for i in range(len(callers))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
                self.assertTrue(all(r is not None for r in results), results)
                self.assertEqual({r[0] for r in results}, {200}, results)
                ids = {r[1]["conversationId"] for r in results}
                self.assertEqual(len(ids), 1, f"one pair, several conversations: {ids}")
                conv = ids.pop()
                self.assertEqual(ann.direct_with(bob), (200, {"conversationId": conv}))
                self.assertEqual(bob.direct_with(ann), (200, {"conversationId": conv}))
                self.assertEqual(sorted(bob.ok("GET", f"/conversations/{conv}/participants")),
                                 sorted([ann.id, bob.id]))

        # A group of the same people is no direct conversation, and does not stand in for one.
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        grp = ann.group([bob, cid])
        self.assertEqual(ann.direct_with(bob), (200, ""))
        conv = bob.create([ann])
        self.assertNotEqual(conv, grp)
        self.assertEqual(ann.direct_with(bob), (200, {"conversationId": conv}))
        self.assertEqual(ann.direct_with(cid), (200, ""))

    def test_a_group_keeps_its_title_and_every_member_sees_it(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        dan = self.person("Dan", "D")
        conv = ann.group([bob, cid], "Weekend trip")
        members = {ann.id, bob.id, cid.id}
        for who in (ann, bob, cid):
            with self.subTest(member=who.first):
                got = who.ok("GET", "/conversations/" + conv)
                self.assertEqual(set(got), {"conversation_id", "title", "isGroup",
                                            "participantId"}, got)
                self.assertEqual((got["conversation_id"], got["title"], got["isGroup"]),
                                 (conv, "Weekend trip", True))
                self.assertIn(got["participantId"], members - {who.id})
                parts = who.ok("GET", f"/conversations/{conv}/participants")
                self.assertEqual(len(parts), 3, parts)
                self.assertEqual(set(parts), members)
        # Groups are not deduplicated: the same members and title make a new one.
        again = ann.group([bob, cid], "Weekend trip")
        self.assertNotEqual(again, conv)
        for path in ("/conversations/" + conv, f"/conversations/{conv}/participants"):
            with self.subTest(non_member=path):
                self.assert_refused(dan.call("GET", path), 403)

    def test_c4_has_snake_case_conversation_id_and_refuses_others(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = ann.create([bob])
        self.assertEqual(ann.ok("GET", "/conversations/" + conv),
                         {"conversation_id": conv, "title": "", "isGroup": False,
                          "participantId": bob.id})
        self.assertEqual(bob.ok("GET", "/conversations/" + conv),
                         {"conversation_id": conv, "title": "", "isGroup": False,
                          "participantId": ann.id})
        self.assert_refused(cid.call("GET", "/conversations/" + conv), 403)
        self.assert_refused(ann.call("GET", "/conversations/" + str(uuid.uuid4())), 404)
        for bad in ("not-a-uuid", "12345", conv[:-1], conv + "0"):
            with self.subTest(malformed=bad):
                self.assert_refused(ann.call("GET", "/conversations/" + bad), 400)

    def test_c6_lists_every_member_including_the_caller_and_refuses_others(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = ann.create([bob])
        for who in (ann, bob):
            parts = who.ok("GET", f"/conversations/{conv}/participants")
            self.assertEqual(sorted(parts), sorted([ann.id, bob.id]))
        self.assert_refused(cid.call("GET", f"/conversations/{conv}/participants"), 403)


# -- C3 ----------------------------------------------------------------------------------------
class ConversationList(ChatCase):

    def test_c3_lists_conversations_with_messages_newest_first_and_omits_empty_ones(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        dan = self.person("Dan", "D")
        self.assertEqual(ann.conversations(), [])
        ab, ac = ann.create([bob]), ann.create([cid])
        grp = bob.group([ann, cid], "Lunch")
        ann.create([dan])                       # never gets a message

        async def body():
            a, b, c = (await ann.connect("/ws/chat"), await bob.connect("/ws"),
                       await cid.connect("/ws/chat"))
            self.assertEqual(ann.conversations(), [])
            first = await a.say(ac, "first")
            self.assertEqual(await c.recv(), first)
            await asyncio.sleep(0.01)           # distinct sentAt milliseconds
            second = await c.say(grp, "second")
            self.assertEqual(await a.recv(), second)
            self.assertEqual(await b.recv(), second)
            await asyncio.sleep(0.01)
            third = await b.say(ab, "third")
            self.assertEqual(await a.recv(), third)

            got = ann.conversations()
            self.assertEqual([x["conversationId"] for x in got], [ab, grp, ac], got)
            by_id = {x["conversationId"]: x for x in got}
            self.assertEqual(by_id[ab], {
                "conversationId": ab, "title": "", "isGroup": False,
                "sentAt": third["sentAt"], "latestContent": "third", "senderId": bob.id,
                "isRead": False, "participantId": bob.id, "unreadCount": 1})
            self.assertEqual(by_id[ac], {
                "conversationId": ac, "title": "", "isGroup": False,
                "sentAt": first["sentAt"], "latestContent": "first", "senderId": ann.id,
                "isRead": True, "participantId": cid.id, "unreadCount": 0})
            g = by_id[grp]
            self.assertIn(g["participantId"], {bob.id, cid.id})
            self.assertEqual(g, dict(g, title="Lunch", isGroup=True, sentAt=second["sentAt"],
                                     latestContent="second", senderId=cid.id, isRead=False,
                                     unreadCount=1))
            for x in got:
                self.assertRegex(x["sentAt"], SENT_AT)

            got = bob.conversations()
            self.assertEqual([x["conversationId"] for x in got], [ab, grp], got)
            self.assertEqual((got[0]["isRead"], got[0]["unreadCount"], got[0]["participantId"]),
                             (True, 0, ann.id))
            self.assertEqual((got[1]["isRead"], got[1]["unreadCount"]), (False, 1))
            self.assertEqual(dan.conversations(), [])
        self.scenario(body)

    def test_c3_is_read_and_unread_count_before_and_after_read_messages(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = ann.create([bob])
        grp = cid.group([ann, bob], "Three")

        def state(who, c):
            e = who.entry(c)
            self.assertIsNotNone(e, f"{c} not listed for {who.first}")
            return e["isRead"], e["unreadCount"]

        def filtered(who, c):
            return (who.entry(c, "true") is not None, who.entry(c, "false") is not None)

        async def body():
            a, b, c = (await ann.connect("/ws"), await bob.connect("/ws/chat"),
                       await cid.connect("/ws/chat"))
            for i in range(3):
                await b.say(conv, f"bob {i}")
            await a.recv_many(3)
            self.assertEqual(state(ann, conv), (False, 3))
            self.assertEqual(state(bob, conv), (True, 0))
            self.assertEqual(filtered(ann, conv), (False, True))
            self.assertEqual(filtered(bob, conv), (True, False))

            await a.read(conv)
            self.assertEqual(await a.recv(), {"type": "read-messages", "conversationId": conv,
                                              "userId": ann.id})
            self.assertEqual(state(ann, conv), (True, 0))
            self.assertEqual(filtered(ann, conv), (True, False))

            await b.expect("read-receipt")
            await b.say(conv, "bob again")
            await a.expect("new-message")
            self.assertEqual(state(ann, conv), (False, 1))
            await a.say(conv, "ann answers")
            await b.expect("new-message")
            self.assertTrue(state(ann, conv)[0], "her own latest message counts as read")
            self.assertEqual(state(bob, conv), (False, 1))

            # A group: each member has a cursor of their own.
            for i in range(2):
                await c.say(grp, f"cid {i}")
            await a.recv_many(2)
            await b.recv_many(2)
            for who in (ann, bob):
                self.assertEqual(state(who, grp), (False, 2))
            self.assertEqual(state(cid, grp), (True, 0))
            await b.read(grp)
            await b.expect("read-messages")
            self.assertEqual(state(bob, grp), (True, 0))
            self.assertEqual(state(ann, grp), (False, 2))
            # Reading one conversation leaves the others as they were.
            self.assertEqual(state(bob, conv), (False, 1))
        self.scenario(body)

    def test_c3_is_read_other_than_true_or_false_is_400(self):
        ann = self.person()
        for value in ("true", "false"):
            self.assertEqual(ann.conversations(value), [])
        for value in ("bad", "1", "0", "yes", "null"):
            with self.subTest(isRead=value):
                self.assert_refused(ann.call("GET", "/conversations?isRead=" + value), 400)


# -- C5 ----------------------------------------------------------------------------------------
class MessagePaging(ChatCase):
    node_env = dict(ChatCase.node_env, **UNLIMITED)

    def filled(self, count):
        """Ann and Bob with a direct conversation of `count` messages from Ann; the echoes
        in seq order."""
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])
        echoes = []

        async def body():
            a = await ann.connect("/ws/chat")
            temps = [await a.send_message(conv, f"m{i}") for i in range(1, count + 1)]
            frames = await a.recv_many(count, timeout=max(CHAT_S, count * 0.2))
            self.assertEqual([f["tempMessageId"] for f in frames], temps)
            for i, f in enumerate(frames, 1):
                self.assert_new_message(f, ann, conv, f"m{i}")
            echoes.extend(as_stored(f) for f in frames)
        self.scenario(body)
        self.assertEqual([e["seq"] for e in echoes], list(range(1, count + 1)))
        return ann, bob, conv, echoes

    def test_compat_paging_counts_back_from_the_newest(self):
        ann, bob, conv, m = self.filled(7)
        newest_first = m[::-1]
        cases = [("limit=3&offset=0", newest_first[0:3]),
                 ("limit=3&offset=0&order=desc", newest_first[0:3]),
                 ("limit=3&offset=0&order=asc", m[4:7]),
                 ("limit=3&offset=2", newest_first[2:5]),
                 ("limit=3&offset=2&order=asc", m[2:5]),
                 ("limit=3&offset=5", newest_first[5:7]),
                 ("limit=3&offset=5&order=asc", m[0:2]),
                 ("limit=100&offset=0&order=asc", m),
                 ("limit=3&offset=7", []), ("limit=3&offset=100", []),
                 ("limit=0&offset=0", []), ("offset=0&limit=1", newest_first[0:1])]
        for query, want in cases:
            with self.subTest(query=query):
                self.assertEqual(ann.page(conv, query), want)
        self.assertEqual(bob.page(conv, "limit=15&offset=0&order=asc"), m)

    def test_limit_and_offset_are_required_non_negative_integers(self):
        ann, _, conv, _ = self.filled(2)
        path = f"/conversations/{conv}/messages"
        for query, detail in (("offset=0", "Missing 'limit' in event parameter"),
                              ("limit=5", "Missing 'offset' in event parameter"),
                              ("order=asc", {"Missing 'limit' in event parameter",
                                             "Missing 'offset' in event parameter"}),
                              ("", {"Missing 'limit' in event parameter",
                                    "Missing 'offset' in event parameter"})):
            with self.subTest(query=query):
                self.assert_refused(ann.call("GET", path + "?" + query), 400, detail)
        for query in ("limit=-1&offset=0", "limit=5&offset=-1", "limit=abc&offset=0",
                      "limit=5&offset=x", "limit=1.5&offset=0", "limit=5&offset=2.0",
                      "limit=&offset=0"):
            with self.subTest(query=query):
                self.assert_refused(ann.call("GET", path + "?" + query), 400)

    def test_limits_over_100_are_capped(self):
        ann, _, conv, m = self.filled(105)
        self.assertEqual(ann.page(conv, "limit=1000&offset=0&order=asc"), m[5:])
        self.assertEqual(ann.page(conv, "limit=101&offset=0"), m[5:][::-1])
        self.assertEqual(ann.page(conv, "after_seq=0"), m[:100])
        self.assertEqual(ann.page(conv, "after_seq=0&limit=500"), m[:100])
        self.assertEqual(ann.page(conv, "after_seq=100"), m[100:])
        self.assertEqual(ann.page(conv, "before_seq=106&limit=500"), m[5:])
        self.assertEqual(ann.history(conv), m)

    def test_cursor_paging_after_seq_and_before_seq(self):
        ann, bob, conv, m = self.filled(7)
        cases = [("after_seq=0", m), ("after_seq=3", m[3:]), ("after_seq=3&limit=2", m[3:5]),
                 ("after_seq=6", m[6:]), ("after_seq=7", []), ("after_seq=100", []),
                 ("before_seq=5&limit=2", m[2:4]), ("before_seq=5", m[0:4]),
                 ("before_seq=2", m[0:1]), ("before_seq=1", []),
                 ("before_seq=100&limit=3", m[4:7]), ("before_seq=8", m)]
        for query, want in cases:
            with self.subTest(query=query):
                self.assertEqual(ann.page(conv, query), want)
                self.assertEqual(bob.page(conv, query), want)

    def test_c5_refuses_non_members_with_403(self):
        ann, _, conv, _ = self.filled(1)
        cid = self.person("Cid", "C")
        for query in ("limit=10&offset=0", "after_seq=0", "before_seq=5"):
            with self.subTest(query=query):
                self.assert_refused(cid.call("GET", f"/conversations/{conv}/messages?{query}"),
                                    403)


# -- live messages ------------------------------------------------------------------------------
class LiveChat(ChatCase):

    def test_a_direct_message_reaches_every_chat_socket_of_both_members_and_no_one_else(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = ann.create([bob])

        async def body():
            a1, a2 = await ann.connect("/ws"), await ann.connect("/ws/chat")
            b1, b2 = await bob.connect("/ws"), await bob.connect("/ws/chat")
            b_presence = await bob.connect("/ws/presence")
            c1, c2 = await cid.connect("/ws"), await cid.connect("/ws/chat")

            temp = await a1.send_message(conv, "Hello Bob")
            echo = await a1.expect("new-message")
            self.assert_new_message(echo, ann, conv, "Hello Bob", temp)
            self.assertEqual(echo["seq"], 1)
            for s in (a2, b1, b2):
                self.assertEqual(await s.recv(), echo, s.name)

            reply = await b2.say(conv, "Hi Ann")
            self.assert_new_message(reply, bob, conv, "Hi Ann")
            self.assertEqual(reply["seq"], 2)
            self.assertNotEqual(reply["messageId"], echo["messageId"])
            for s in (a1, a2, b1):
                self.assertEqual(await s.recv(), reply, s.name)
            self.assertEqual(ann.history(conv), [as_stored(echo), as_stored(reply)])

            # Neither Bob's presence socket nor Cid's sockets got any of it.
            await self.marker(bob, b_presence, b1)
            await self.marker(cid, c1)
            await c2.quiet(0.2)
            for s in (a1, a2, b2):
                await s.quiet(0.1)
        self.scenario(body)

    def test_a_group_message_reaches_every_member_and_seq_counts_up(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        dan = self.person("Dan", "D")
        conv = ann.group([bob, cid], "Friends")

        async def body():
            sockets = {p.id: (await p.connect("/ws"), await p.connect("/ws/chat"))
                       for p in (ann, bob, cid)}
            d = await dan.connect("/ws")
            echoes = []
            for n, sender in enumerate((bob, cid, ann, bob), 1):
                s = sockets[sender.id][n % 2]
                echo = await s.say(conv, f"message {n} from {sender.first}")
                self.assert_new_message(echo, sender, conv, f"message {n} from {sender.first}")
                self.assertEqual(echo["seq"], n)
                for other in sockets.values():
                    for t in other:
                        if t is not s:
                            self.assertEqual(await t.recv(), echo, t.name)
                echoes.append(echo)
            self.assertEqual(cid.history(conv), [as_stored(e) for e in echoes])
            await self.marker(dan, d)
        self.scenario(body)

    def test_concurrent_senders_get_distinct_seqs_delivered_in_increasing_order(self):
        people = [self.person(n) for n in ("Ann", "Bob", "Cid", "Dan")]
        conv = people[0].group(people[1:], "Busy")
        per_sender = 5
        total = per_sender * len(people)

        async def body():
            socks = [await p.connect("/ws/chat") for p in people]

            async def burst(p, s):
                for i in range(per_sender):
                    await s.send_message(conv, f"{p.first} {i}")
            await asyncio.gather(*(burst(p, s) for p, s in zip(people, socks)))
            streams = [await s.recv_many(total, timeout=10) for s in socks]
            for s, frames in zip(socks, streams):
                seqs = [f["seq"] for f in frames]
                self.assertEqual(seqs, sorted(seqs), f"{s.name}: out of order")
                self.assertEqual(sorted(seqs), list(range(1, total + 1)), s.name)
                self.assertEqual(frames, streams[0], s.name)
                for p in people:    # each sender's messages keep their sending order
                    mine = [f["content"] for f in frames if f["senderId"] == p.id]
                    self.assertEqual(mine, [f"{p.first} {i}" for i in range(per_sender)])
            self.assertEqual(people[2].history(conv), [as_stored(f) for f in streams[0]])
        self.scenario(body)

    def test_a_repeated_temp_message_id_returns_the_original_message(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv, other = ann.create([bob]), ann.group([bob, self.person("Cid")], "Other")

        async def body():
            a, b = await ann.connect("/ws/chat"), await bob.connect("/ws/chat")
            original = await a.say(conv, "only once", "dup-1")
            self.assertEqual(await b.recv(), original)
            for content in ("only once", "different content"):
                with self.subTest(content=content):
                    await a.send_message(conv, content, "dup-1")
                    self.assertEqual(await a.expect("new-message"), original)
            # The same tempMessageId from someone else, or in another conversation, is new.
            # (Whether Bob also got the repeated original is left open.)
            await b.send_message(conv, "bob's", "dup-1")
            bobs = await b.expect("new-message")
            while bobs == original:
                bobs = await b.expect("new-message")
            self.assert_new_message(bobs, bob, conv, "bob's", "dup-1")
            self.assertEqual(bobs["seq"], 2)
            self.assertEqual(await a.recv(), bobs)
            elsewhere = await a.say(other, "elsewhere", "dup-1")
            self.assertEqual(elsewhere["seq"], 1)
            self.assertNotEqual(elsewhere["messageId"], original["messageId"])
            stored = bob.history(conv)
            self.assertEqual([m["content"] for m in stored], ["only once", "bob's"])
            self.assertEqual(stored[0], as_stored(original))
            self.assertEqual(bob.page(conv, "limit=10&offset=0"), stored[::-1])
        self.scenario(body)

    def test_non_members_get_error_frames_for_send_read_and_typing(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = ann.create([bob])

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws/chat")
            c1, c2 = await cid.connect("/ws"), await cid.connect("/ws/chat")
            for s in (c1, c2):
                temp = await s.send_message(conv, "let me in")
                self.assert_error_frame(await s.recv(), "send-message", temp, "participant")
                await s.read(conv)
                self.assert_error_frame(await s.recv(), "read-messages")
                await s.typing(conv)
                self.assert_error_frame(await s.recv(), "typing")
            # An unknown conversation is refused the same way.
            unknown = str(uuid.uuid4())
            temp = await c1.send_message(unknown, "anyone?")
            self.assert_error_frame(await c1.recv(), "send-message", temp)
            await c1.read(unknown)
            self.assert_error_frame(await c1.recv(), "read-messages")
            await c1.typing(unknown)
            self.assert_error_frame(await c1.recv(), "typing")
            # Only the refused socket got each error; the members got nothing first.
            echo = await a.say(conv, "members only")
            self.assertEqual(echo["seq"], 1)
            self.assertEqual(await b.recv(), echo)
            await c1.quiet(0.2)
            await c2.quiet(0.2)
            self.assertEqual(ann.history(conv), [as_stored(echo)])
            self.assertEqual(cid.conversations(), [])
        self.scenario(body)

    def test_invalid_send_message_frames_get_error_frames_naming_the_temp_message_id(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])
        base = {"action": "send-message", "conversationId": conv, "content": "x"}
        named = [("empty content", {"content": ""}), ("blank content", {"content": " \n\t "}),
                 ("1001 characters", {"content": "c" * 1001}),
                 ("1001 non-ascii", {"content": "é" * 1001}),
                 ("numeric content", {"content": 5}), ("null content", {"content": None}),
                 ("missing content", {"content": ANY}),
                 ("conversationId not a uuid", {"conversationId": "nope"}),
                 ("numeric conversationId", {"conversationId": 7}),
                 ("missing conversationId", {"conversationId": ANY})]
        unnamed = [("missing tempMessageId", ANY), ("empty tempMessageId", ""),
                   ("129-character tempMessageId", "t" * 129), ("numeric tempMessageId", 12)]

        async def body():
            a1, a2 = await ann.connect("/ws"), await ann.connect("/ws/chat")
            b = await bob.connect("/ws/chat")
            for case, change in named:
                with self.subTest(case=case):
                    temp = new_temp()
                    frame = dict(base, tempMessageId=temp, **change)
                    frame = {k: v for k, v in frame.items() if v is not ANY}
                    await a1.send(frame)
                    self.assert_error_frame(await a1.recv(), "send-message", temp)
                    await a1.heartbeat()    # a good frame: no strikes piling up
            for case, temp in unnamed:
                with self.subTest(case=case):
                    frame = dict(base, tempMessageId=temp)
                    frame = {k: v for k, v in frame.items() if v is not ANY}
                    await a1.send(frame)
                    self.assert_error_frame(await a1.recv(), "send-message")
                    await a1.heartbeat()
            # Errors went to the sending socket only; nothing was stored or delivered.
            echo = await a1.say(conv, "valid", "t" * 128)
            self.assertEqual(echo["seq"], 1)
            self.assertEqual(await a2.recv(), echo)
            self.assertEqual(await b.recv(), echo)
            self.assertEqual(ann.history(conv), [as_stored(echo)])
        self.scenario(body)

    def test_content_is_trimmed_and_counted_in_characters(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])

        async def body():
            a = await ann.connect("/ws/chat")
            trimmed = await a.say(conv, "  \n hello there \t ")
            self.assertEqual(trimmed["content"], "hello there")
            longest = await a.say(conv, "é" * 1000)
            self.assertEqual(longest["content"], "é" * 1000)
            emoji = await a.say(conv, "🙂" * 1000)
            self.assertEqual(emoji["content"], "🙂" * 1000)
            self.assertEqual([m["content"] for m in bob.history(conv)],
                             ["hello there", "é" * 1000, "🙂" * 1000])
        self.scenario(body)

    def test_typing_reaches_the_other_members_only_and_is_not_stored(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        dan = self.person("Dan", "D")
        conv = ann.group([bob, cid], "Typing")

        async def body():
            a1, a2 = await ann.connect("/ws"), await ann.connect("/ws/chat")
            b1, b_presence = await bob.connect("/ws/chat"), await bob.connect("/ws/presence")
            c1 = await cid.connect("/ws")
            d = await dan.connect("/ws")
            await a1.typing(conv)
            want = {"type": "typing", "conversationId": conv, "userId": ann.id}
            self.assertEqual(await b1.recv(), want)
            self.assertEqual(await c1.recv(), want)
            await b1.typing(conv)
            want_bob = dict(want, userId=bob.id)
            self.assertEqual(await a1.recv(), want_bob)
            self.assertEqual(await a2.recv(), want_bob)
            self.assertEqual(await c1.recv(), want_bob)
            # The typist got nothing of its own: its next frame is its message's echo.
            echo = await a2.say(conv, "done typing")
            self.assertEqual(echo["seq"], 1, "typing took a seq")
            for s in (a1, b1, c1):
                self.assertEqual(await s.recv(), echo, s.name)
            await b1.quiet(0.2)
            await self.marker(bob, b_presence)
            await self.marker(dan, d)
            self.assertEqual(ann.history(conv), [as_stored(echo)])
            self.assertEqual(ann.page(conv, "limit=10&offset=0"), [as_stored(echo)])
        self.scenario(body)

    def test_read_messages_goes_to_the_readers_sockets_and_read_receipt_to_the_others(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = bob.group([ann, cid], "Receipts")

        async def body():
            a1, a2 = await ann.connect("/ws"), await ann.connect("/ws/chat")
            a_presence = await ann.connect("/ws/presence")
            b, c = await bob.connect("/ws/chat"), await cid.connect("/ws")
            for i in range(2):
                echo = await b.say(conv, f"news {i}")
                for s in (a1, a2, c):
                    self.assertEqual(await s.recv(), echo)
            self.assertEqual(ann.entry(conv)["unreadCount"], 2)

            await a2.read(conv)
            mine = {"type": "read-messages", "conversationId": conv, "userId": ann.id}
            self.assertEqual(await a1.recv(), mine)
            self.assertEqual(await a2.recv(), mine)
            receipt = {"type": "read-receipt", "conversationId": conv, "userId": ann.id,
                       "seq": 2}
            self.assertEqual(await b.recv(), receipt)
            self.assertEqual(await c.recv(), receipt)
            self.assertEqual((ann.entry(conv)["isRead"], ann.entry(conv)["unreadCount"]),
                             (True, 0))
            self.assertEqual((cid.entry(conv)["isRead"], cid.entry(conv)["unreadCount"]),
                             (False, 2))
            await self.marker(ann, a_presence, a1)

            # A later read names the newer seq.
            echo = await c.say(conv, "more")
            for s in (a1, a2, b):
                self.assertEqual(await s.recv(), echo)
            await b.read(conv)
            self.assertEqual(await b.recv(), dict(mine, userId=bob.id))
            for s in (a1, a2, c):
                self.assertEqual(await s.recv(), dict(receipt, userId=bob.id, seq=3), s.name)
            for s in (a1, a2, b, c):
                await s.quiet(0.1)
        self.scenario(body)

    def test_replay_after_a_disconnect_gives_exactly_the_missed_messages_in_order(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])

        async def body():
            a, b = await ann.connect("/ws/chat"), await bob.connect("/ws")
            seen = []
            for i in range(3):
                echo = await a.say(conv, f"before {i}")
                seen.append(await b.recv())
                self.assertEqual(seen[-1], echo)
            last_seen = seen[-1]["seq"]
            await b.close()
            missed = [as_stored(await a.say(conv, f"while away {i}")) for i in range(4)]
            b2 = await bob.connect("/ws")
            self.assertEqual(bob.page(conv, f"after_seq={last_seen}"), missed)
            self.assertEqual(bob.page(conv, f"after_seq={last_seen}&limit=2"), missed[:2])
            self.assertEqual(bob.page(conv, f"after_seq={missed[1]['seq']}"), missed[2:])
            # Live delivery goes on on the new socket right after the missed ones.
            live = await a.say(conv, "welcome back")
            self.assertEqual(live["seq"], missed[-1]["seq"] + 1)
            self.assertEqual(await b2.recv(), live)
            self.assertEqual(bob.page(conv, f"after_seq={last_seen}"), missed + [as_stored(live)])
        self.scenario(body)


# -- the per-user rate limit -----------------------------------------------------------------
class ChatRateLimit(ChatCase):
    node_env = dict(ChatCase.node_env, TANDEM_CHAT_RATE_PER_S="2", TANDEM_CHAT_RATE_BURST="3")

    async def answers(self, sock, temps):
        """One answer per tempMessageId (new-message or error), within a deadline."""
        frames = await sock.recv_many(len(temps), timeout=10)
        by_temp = {}
        for f in frames:
            self.assertIn(f.get("type"), ("new-message", "error"), f)
            self.assertIn(f.get("tempMessageId"), temps, f)
            self.assertNotIn(f["tempMessageId"], by_temp, f"answered twice: {f}")
            by_temp[f["tempMessageId"]] = f
        return by_temp

    def check_split(self, by_temp, low, high):
        delivered = [t for t, f in by_temp.items() if f["type"] == "new-message"]
        refused = [f for f in by_temp.values() if f["type"] == "error"]
        self.assertGreaterEqual(len(delivered), low, by_temp)
        self.assertLessEqual(len(delivered), high, by_temp)
        for f in refused:
            self.assert_error_frame(f, "send-message", mentions="rate")
        return delivered

    def test_a_burst_over_the_rate_gets_error_frames_and_the_rest_is_delivered(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])

        async def body():
            a, b = await ann.connect("/ws/chat"), await bob.connect("/ws/chat")
            temps = [await a.send_message(conv, f"burst {i}") for i in range(10)]
            by_temp = await self.answers(a, temps)
            delivered = self.check_split(by_temp, 3, 5)
            got = await b.recv_many(len(delivered))
            self.assertEqual([f["tempMessageId"] for f in got],
                             [t for t in temps if t in delivered])
            await b.quiet(0.2)
            self.assertEqual([m["content"] for m in bob.history(conv)],
                             [f["content"] for f in got])
            # Tokens come back: after a second, sends go through again.
            await asyncio.sleep(1.6)
            await a.say(conv, "later")
        self.scenario(body)

    def test_the_rate_limit_is_per_user_across_sockets_and_not_shared_with_others(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])

        async def body():
            a1, a2 = await ann.connect("/ws"), await ann.connect("/ws/chat")
            b = await bob.connect("/ws/chat")
            own = {a1: [], a2: []}
            for i in range(5):          # 10 sends, interleaved over Ann's two sockets
                for s in (a1, a2):
                    own[s].append(await s.send_message(conv, f"{s.name} {i}"))
            got = {a1: [], a2: []}

            def answers():
                """tempMessageId -> its answer (an error on the sending socket, or a
                new-message on any of Ann's sockets)."""
                out = {}
                for s in (a1, a2):
                    for f in got[s]:
                        if f.get("type") == "new-message" or f.get("tempMessageId") in own[s]:
                            out[f.get("tempMessageId")] = f
                return out

            def everything_arrived():
                done = answers()
                if set(done) != set(own[a1] + own[a2]):
                    return False
                delivered = {t for t, f in done.items() if f.get("type") == "new-message"}
                return all({f.get("tempMessageId") for f in got[s]
                            if f.get("type") == "new-message"} == delivered for s in (a1, a2))

            async def pump(s):
                while True:
                    got[s].append(json.loads(await s.ws.recv()))
            pumps = [asyncio.create_task(pump(s)) for s in (a1, a2)]
            try:
                await until(self, everything_arrived, 10,
                            "an answer for each send and every delivered one on both sockets")
                await asyncio.sleep(0.3)        # room for a stray extra frame
            finally:
                for t in pumps:
                    t.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
            delivered = self.check_split(answers(), 3, 5)
            for s in (a1, a2):
                news = [f for f in got[s] if f.get("type") == "new-message"]
                self.assertEqual(sorted(f["tempMessageId"] for f in news), sorted(delivered),
                                 f"{s.name}: each delivered message once")
                for f in got[s]:
                    if f.get("type") == "error":
                        self.assertIn(f.get("tempMessageId"), own[s], f"{s.name}: {f}")
                    else:
                        self.assertEqual(f.get("type"), "new-message", f)
            # Bob got the delivered ones (and nothing else: his next frame is his echo), and
            # his own budget is untouched by Ann's burst.
            self.assertEqual(sorted(f["tempMessageId"] for f in await b.recv_many(len(delivered))),
                             sorted(delivered))
            for i in range(3):
                await b.say(conv, f"bob {i}")
        self.scenario(body)


# -- configuration -----------------------------------------------------------------------------
class ChatMessageLength(ChatCase):
    node_env = dict(ChatCase.node_env, TANDEM_CHAT_MAX_MESSAGE_LENGTH="10")

    def test_the_content_limit_is_configurable(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])

        async def body():
            a = await ann.connect("/ws/chat")
            await a.say(conv, "0123456789")
            await a.say(conv, "é" * 10)
            for content in ("01234567890", "é" * 11):
                temp = await a.send_message(conv, content)
                self.assert_error_frame(await a.recv(), "send-message", temp)
            self.assertEqual([m["content"] for m in ann.history(conv)],
                             ["0123456789", "é" * 10])
        self.scenario(body)


class ChatBadText(ChatCase):
    # A long group-commit window, so that messages sent together share one batch.
    node_env = dict(ChatCase.node_env, TANDEM_CHAT_COMMIT_DELAY_US="500000")

    def test_a_nul_in_a_frame_gets_an_error_frame_and_fails_no_one_elses_message(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        ann_bob, bob_cid = ann.create([bob]), bob.create([cid])

        async def body():
            a, b = await ann.connect("/ws/chat"), await bob.connect("/ws/chat")
            c = await cid.connect("/ws/chat")
            for field in ("content", "tempMessageId"):
                with self.subTest(field=field):
                    # Bob's message opens a batch; Ann's bad frame comes while it gathers.
                    temp = await b.send_message(bob_cid, "hello " + field)
                    bad = {"action": "send-message", "conversationId": ann_bob,
                           "tempMessageId": new_temp(), "content": "bad"}
                    bad[field] += "\u0000"
                    await a.send(bad)
                    error = await a.recv()
                    self.assertEqual(error, {"type": "error", "detail":
                                             f"'{field}' must not contain NUL characters"})
                    echo = await b.expect("new-message")
                    self.assert_new_message(echo, bob, bob_cid, "hello " + field, temp)
                    self.assertEqual(await c.recv(), echo)
            # Ann's socket stays usable; nothing of hers was stored.
            echo = await a.say(ann_bob, "still here")
            self.assertEqual(await b.recv(), echo)
            self.assertEqual(ann.history(ann_bob), [as_stored(echo)])
            self.assertEqual(len(cid.history(bob_cid)), 2)
        self.scenario(body)


# -- durability: restarts PostgreSQL ---------------------------------------------------------
class ChatPostgresRestart(ChatCase):
    """RESTARTS POSTGRESQL (scripts/services pg-stop, pg-start) in the middle of its test:
    run it alone, never in parallel with other tests (ctest runs the e2e tests serially)."""
    node_env = dict(ChatCase.node_env, **UNLIMITED)
    restarts_postgresql = True

    def test_restart_of_postgresql_mid_stream_loses_no_acknowledged_message(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        conv = ann.create([bob])
        pg = {"stopped": False}

        async def body():
            loop = asyncio.get_running_loop()
            a, b = await ann.connect("/ws/chat"), await bob.connect("/ws/chat")
            contents = {}           # tempMessageId -> content, in sending order
            acked, errors = {}, {}  # tempMessageId -> Ann's answer frame
            twice, strange, bob_got, closed = [], [], [], []
            marks = {}
            stop = asyncio.Event()

            async def stream():
                i = 0
                while not stop.is_set():
                    temp = f"d{i:05d}"
                    contents[temp] = f"durable {i}"
                    await a.send_message(conv, contents[temp], temp)
                    i += 1
                    await asyncio.sleep(0.05)

            async def listen_ann():
                while True:
                    frame = json.loads(await a.ws.recv())
                    temp = frame.get("tempMessageId")
                    kind = {"new-message": acked, "error": errors}.get(frame.get("type"))
                    if kind is None or temp not in contents:
                        strange.append(frame)
                        continue
                    if temp in acked or temp in errors:
                        twice.append(frame)
                    kind[temp] = frame

            async def listen_bob():
                while True:
                    bob_got.append(json.loads(await b.ws.recv()))

            async def guarded(f):
                try:
                    await f()
                except ConnectionClosed as e:
                    closed.append(f"{f.__name__}: {e.code} {e.reason!r}")

            def alive(predicate):
                def check():
                    if closed:
                        self.fail(f"a socket was closed: {closed}")
                    return predicate()
                return check

            def acked_after_start():
                return sum(1 for t in acked if int(t[1:]) >= marks["started"])

            tasks = [asyncio.create_task(guarded(f)) for f in (stream, listen_ann, listen_bob)]
            try:
                await until(self, alive(lambda: len(acked) >= 10), 15, "10 acknowledged sends")
                marks["stop"] = len(contents)
                pg["stopped"] = True
                await loop.run_in_executor(None, services, "pg-stop")
                marks["stopped"] = len(contents)
                await asyncio.sleep(2.0)        # sends go on while PostgreSQL is down
                marks["start"] = len(contents)
                await loop.run_in_executor(None, services, "pg-start")
                pg["stopped"] = False
                marks["started"] = len(contents)
                # The node reconnects by itself: later sends are acknowledged again.
                await until(self, alive(lambda: acked_after_start() >= 10), 45,
                            "10 acknowledged sends after the restart")
                stop.set()
                await tasks[0]
                await until(self, alive(lambda: all(t in acked or t in errors
                                                    for t in contents)),
                            20, "an answer for every send")
                await until(self, alive(lambda: len(bob_got) >= len(acked)), 10,
                            "Bob gets every acknowledged message")
                await asyncio.sleep(0.3)        # room for stray extra frames
            finally:
                stop.set()
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if pg["stopped"]:
                    await loop.run_in_executor(None, services, "pg-start")
                    pg["stopped"] = False

            summary = (f"sent {len(contents)}, acknowledged {len(acked)}, refused {len(errors)}; "
                       f"sends counted at pg-stop/stopped/pg-start/started: {marks}")
            print("\n" + summary, file=sys.stderr)
            self.assertEqual(closed, [], summary)
            self.assertEqual(strange, [], summary)
            self.assertEqual(twice, [], "answered twice; " + summary)
            self.assertTrue(any(int(t[1:]) < marks["stop"] for t in acked), summary)
            for temp, frame in acked.items():
                self.assert_new_message(frame, ann, conv, contents[temp], temp)
            for temp, frame in errors.items():
                self.assert_error_frame(frame, "send-message", temp, "unavailable")

            # Bob got exactly the acknowledged messages, each once, none of the refused ones.
            self.assertEqual([f for f in bob_got if f.get("type") != "new-message"], [])
            self.assertEqual(sorted(f.get("tempMessageId") for f in bob_got), sorted(acked),
                             summary)

            # PostgreSQL holds every acknowledged message exactly once and nothing refused.
            self.node.wait_for(lambda: ann.call(
                "GET", f"/conversations/{conv}/messages?after_seq=0")[0] == 200, timeout=30)
            stored = ann.history(conv)
            by_content = {}
            for m in stored:
                self.assertNotIn(m["content"], by_content, "stored twice: " + m["content"])
                by_content[m["content"]] = m
            self.assertEqual(len({m["messageId"] for m in stored}), len(stored))
            seqs = [m["seq"] for m in stored]
            self.assertEqual(seqs, sorted(set(seqs)), "seq not strictly increasing")
            for temp, frame in sorted(acked.items()):
                self.assertIn(contents[temp], by_content, f"acknowledged {temp} lost; {summary}")
                self.assertEqual(by_content[contents[temp]], as_stored(frame), temp)
            half = sorted(t for t in errors if contents[t] in by_content)
            self.assertEqual(half, [], "refused but stored; " + summary)
            self.assertEqual(len(stored), len(acked), summary)

            # The client retries the refused ones with the same tempMessageId: each is
            # stored now, once.
            retried = sorted(errors)
            for temp in retried:
                await a.send_message(conv, contents[temp], temp)
            frames = await a.recv_many(len(retried), timeout=max(CHAT_S, len(retried) * 0.1))
            self.assertEqual(sorted(f["tempMessageId"] for f in frames), retried)
            for f in frames:
                self.assert_new_message(f, ann, conv, contents[f["tempMessageId"]])
            final = [m["content"] for m in ann.history(conv)]
            self.assertEqual(sorted(final), sorted(contents.values()))
        try:
            self.scenario(body, timeout=100)
        finally:
            if pg["stopped"]:
                services("pg-start")


if __name__ == "__main__":
    unittest.main()


# -- issue 15: read-messages with nothing new ---------------------------------------------------
class RepeatedRead(ChatCase):
    node_env = dict(ChatCase.node_env, **UNLIMITED)

    def test_read_messages_with_nothing_new_sends_no_frames(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = bob.group([ann, cid], "Repeats")

        async def body():
            a, b, c = (await ann.connect("/ws/chat"), await bob.connect("/ws/chat"),
                       await cid.connect("/ws/chat"))
            for i in range(2):
                echo = await b.say(conv, f"news {i}")
                for s in (a, c):
                    self.assertEqual(await s.recv(), echo)
            for _ in range(30):
                await a.read(conv)
            mine = {"type": "read-messages", "conversationId": conv, "userId": ann.id}
            self.assertEqual(await a.recv(), mine)
            # Her send comes after all 30 reads: whatever they pushed arrives before it.
            done = await a.say(conv, "done")
            receipt = {"type": "read-receipt", "conversationId": conv, "userId": ann.id,
                       "seq": 2}
            for s in (b, c):
                self.assertEqual(await s.recv(), receipt)
                self.assertEqual(await s.recv(), done)
            # And after her own message there is nothing to read either.
            await a.read(conv)
            bob_done = await b.say(conv, "bob done")
            self.assertEqual(await a.recv(), bob_done)
            self.assertEqual(await c.recv(), bob_done)
            # Something new: a read tells everyone again.
            await a.read(conv)
            self.assertEqual(await a.recv(), mine)
            receipt["seq"] = bob_done["seq"]
            self.assertEqual(await b.recv(), receipt)
            self.assertEqual(await c.recv(), receipt)
            self.assertEqual(ann.entry(conv)["unreadCount"], 0)
        self.scenario(body)


# -- issue 15: paging of GET /conversations -----------------------------------------------------
class ConversationPaging(ChatCase):
    node_env = dict(ChatCase.node_env, TANDEM_CHAT_CONVERSATIONS_PAGE_MAX="3", **UNLIMITED)

    def ids(self, who, query):
        items = who.ok("GET", "/conversations?" + query)
        self.assertIsInstance(items, list, items)
        for item in items:
            self.assertEqual(set(item), LIST_KEYS, item)
        return [x["conversationId"] for x in items]

    def test_pages_by_limit_and_offset_capped_at_the_configured_max(self):
        ann = self.person("Ann", "A")
        others = [self.person(f"P{i}", "X") for i in range(4)]
        convs = [ann.create([o]) for o in others]

        async def body():
            a = await ann.connect("/ws/chat")
            for i, conv in enumerate(convs):
                await a.say(conv, f"to {i}")
                await asyncio.sleep(0.01)       # distinct sentAt milliseconds
            newest = list(reversed(convs))
            # No paging keys (the old clients): the largest page, newest first.
            self.assertEqual([x["conversationId"] for x in ann.conversations()], newest[:3])
            self.assertEqual(self.ids(ann, "limit=3"), newest[:3])
            self.assertEqual(self.ids(ann, "limit=4"), newest[:3])      # capped at the max
            self.assertEqual(self.ids(ann, "limit=1000000"), newest[:3])
            self.assertEqual(self.ids(ann, "limit=2"), newest[:2])
            self.assertEqual(self.ids(ann, "limit=2&offset=2"), newest[2:])
            self.assertEqual(self.ids(ann, "offset=3"), newest[3:])
            self.assertEqual(self.ids(ann, "offset=4"), [])
            self.assertEqual(self.ids(ann, "offset=2147483647"), [])
            self.assertEqual(self.ids(ann, "isRead=true&limit=1&offset=1"), newest[1:2])
            self.assertEqual(self.ids(ann, "isRead=false&limit=2"), [])
        self.scenario(body)

    def test_bad_limit_or_offset_is_400(self):
        ann = self.person()
        for query in ("limit=0", "limit=-1", "limit=x", "limit=", "limit=1.5", "offset=-1",
                      "offset=x", "offset=", "offset=2147483648", "limit=2&offset=99999999999"):
            with self.subTest(query=query):
                self.assert_refused(ann.call("GET", "/conversations?" + query), 400)


# -- issue 15: a budget of new conversations per user --------------------------------------------
class ConversationBudget(ChatCase):
    node_env = dict(ChatCase.node_env, TANDEM_CHAT_CONVERSATIONS_PER_HOUR="1",
                    TANDEM_CHAT_CONVERSATIONS_BURST="3")

    def test_new_conversations_past_the_burst_are_429_with_retry_after(self):
        ann, bob, cid, dan = (self.person("Ann", "A"), self.person("Bob", "B"),
                              self.person("Cid"), self.person("Dan", "D"))
        # A refused body costs nothing.
        self.assert_refused(ann.call("POST", "/conversation",
                                     {"recipientIdArr": [], "isGroup": False, "title": ""}), 400)
        made = [ann.create([bob]), ann.create([cid]), ann.group([bob, cid], "At the limit")]
        self.assertEqual(len(set(made)), 3)
        body = {"recipientIdArr": [dan.id], "isGroup": False, "title": ""}
        for _ in range(2):      # past it, and again: still refused, nothing created
            status, headers, text = self.node.request(
                "POST", "/conversation", body=json.dumps(body), headers=ann.headers)
            self.assertEqual(status, 429, text)
            self.assertEqual(json.loads(text),
                             {"detail": "Too many new conversations; try again later"})
            # One token an hour: the next one is about an hour away.
            self.assertIn("retry-after", headers)
            self.assertGreater(int(headers["retry-after"]), 3500, headers)
            self.assertLessEqual(int(headers["retry-after"]), 3600, headers)
        self.assertEqual(ann.direct_with(dan), (200, ""))
        # Another user's budget is untouched, and the existing conversations still work.
        self.assertEqual(dan.create([ann]), dan.direct_with(ann)[1]["conversationId"])
        self.assertEqual(bob.direct_with(ann)[1]["conversationId"], made[0])


# -- issue 15: members leave group conversations ------------------------------------------------
def leave_path(cid):
    return f"/conversations/{cid}/participants/me"


class LeaveGroup(ChatCase):
    node_env = dict(ChatCase.node_env, **UNLIMITED)

    def test_a_member_who_left_gets_nothing_of_the_group_and_is_refused_by_it(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = ann.group([bob, cid], "Leavers")

        async def body():
            a, c = await ann.connect("/ws/chat"), await cid.connect("/ws")
            b1, b2 = await bob.connect("/ws"), await bob.connect("/ws/chat")
            first = await a.say(conv, "before", "temp-before")
            for s in (c, b1, b2):
                self.assertEqual(await s.recv(), first)
            await b2.read(conv)
            self.assertEqual((await b1.recv())["type"], "read-messages")
            await b2.expect("read-messages")
            await a.expect("read-receipt")
            await c.expect("read-receipt")

            self.assertEqual(bob.ok("DELETE", leave_path(conv)), {"success": True})
            left = {"type": "participant-left", "conversationId": conv, "userId": bob.id}
            for s in (a, c, b1, b2):             # the members and the leaver's own sockets
                self.assertEqual(await s.recv(), left, s.name)

            # His routes refuse him, his list drops it; the others' go on.
            for path in (f"/conversations/{conv}", f"/conversations/{conv}/participants",
                         f"/conversations/{conv}/messages?limit=10&offset=0",
                         f"/conversations/{conv}/messages?after_seq=0", leave_path(conv)):
                method = "DELETE" if path == leave_path(conv) else "GET"
                self.assert_refused(bob.call(method, path), 403,
                                    "Not a participant of this conversation")
            self.assertIsNone(bob.entry(conv))
            self.assertIsNotNone(ann.entry(conv))
            self.assertEqual(sorted(ann.ok("GET", f"/conversations/{conv}/participants")),
                             sorted([ann.id, cid.id]))
            # His frames are refused like a stranger's.
            temp = await b2.send_message(conv, "still here?")
            self.assert_error_frame(await b2.recv(), "send-message", temp, "participant")
            await b2.read(conv)
            self.assert_error_frame(await b2.recv(), "read-messages")
            await b2.typing(conv)
            self.assert_error_frame(await b2.recv(), "typing")

            # The others' typing, messages and receipts reach the members only.
            await a.typing(conv)
            self.assertEqual(await c.recv(),
                             {"type": "typing", "conversationId": conv, "userId": ann.id})
            after = await a.say(conv, "after")
            self.assertEqual(after["seq"], 2)
            self.assertEqual(await c.recv(), after)
            await c.read(conv)
            await c.expect("read-messages")
            self.assertEqual(await a.recv(), {"type": "read-receipt", "conversationId": conv,
                                              "userId": cid.id, "seq": 2})
            await self.marker(bob, b1)
            await b2.quiet(0.2)

            # Replay and idempotent resends are as before for the members.
            again = await a.say(conv, "before", "temp-before")
            self.assertEqual(again["messageId"], first["messageId"])
            self.assertEqual([m["messageId"] for m in ann.history(conv)],
                             [first["messageId"], after["messageId"]])
            self.assertEqual(cid.page(conv, "after_seq=1"), [as_stored(after)])
        self.scenario(body)

    def test_a_direct_conversation_cannot_be_left_and_strangers_unknown_or_bad_ids_are_refused(
            self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        direct = ann.create([bob])
        self.assert_refused(ann.call("DELETE", leave_path(direct)), 400,
                            "A direct conversation cannot be left")
        self.assertEqual(sorted(bob.ok("GET", f"/conversations/{direct}/participants")),
                         sorted([ann.id, bob.id]))
        group = ann.group([bob, self.person("Dan", "D")], "Members")
        self.assert_refused(cid.call("DELETE", leave_path(group)), 403,
                            "Not a participant of this conversation")
        self.assert_refused(cid.call("DELETE", leave_path(str(uuid.uuid4()))), 404,
                            "Conversation not found")
        self.assert_refused(cid.call("DELETE", leave_path("not-a-uuid")), 400)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            status, _, text = self.node.request("DELETE", leave_path(group), headers=headers)
            self.assertEqual(status, 401, text)
        self.assertEqual(len(ann.ok("GET", f"/conversations/{group}/participants")), 3)

    def test_the_last_member_out_deletes_the_conversation_and_its_messages(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid")
        conv = ann.group([bob, cid], "Last out")

        async def body():
            a = await ann.connect("/ws/chat")
            await a.say(conv, "soon empty")
            for who in (ann, bob, cid):
                self.assertEqual(who.ok("DELETE", leave_path(conv)), {"success": True})
            self.assertEqual(await a.recv(), {"type": "participant-left",
                                              "conversationId": conv, "userId": ann.id})
            await a.quiet(0.2)
        self.scenario(body)
        count = subprocess.run(
            ["psql", self.node.db_dsn, "-tAc",
             f"SELECT (SELECT count(*) FROM conversations WHERE conversation_id = '{conv}')"
             f" + (SELECT count(*) FROM messages WHERE conversation_id = '{conv}')"],
            check=True, capture_output=True, text=True).stdout.strip()
        self.assertEqual(count, "0")
        self.assert_refused(ann.call("DELETE", leave_path(conv)), 404, "Conversation not found")
