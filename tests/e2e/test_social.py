"""Friendships, friend lists, search and share notifications over real HTTP (compat
section 3: F1-F10, U8-U11, U16, U17, N1-N5): exact key sets, ordering, permissions, and
consistency: after every write, the very next reads of both users show it.

Profiles are created with POST /users/me; tokens are minted (tandem.py).
"""
import json
import subprocess
import unittest
import uuid

from tandem import JWT_KEY, NodeTestCase, Person, path_of, psql


CARD_KEYS = {"user_id", "first_name", "last_name", "description", "profile_image_uploaded_at",
             "profile_image_extension"}
ROW_KEYS = {"user_id1", "user_id2", "requested_at", "accepted_at"}
REQUEST_KEYS = CARD_KEYS | {"requested_at"}
RELATION_KEYS = CARD_KEYS | ROW_KEYS | {"friendship_state"}
SUMMARY_KEYS = CARD_KEYS | {"friendship_state", "mutual_friend_count"}
FRIEND_KEYS = {"user_id", "first_name", "last_name", "description", "profile_image_extension",
               "friendship_state"}
RECEIVED_KEYS = {"event_id", "user_id", "sent_at", "url", "title", "seen_at", "first_name",
                 "last_name", "profile_image_extension"}
SENT_KEYS = {"event_id", "url", "title", "sent_at", "sent_to", "not_seen_count", "first_name",
             "last_name", "profile_image_extension"}
# docs/api.md, Conventions: UTC without an offset; the clients append the Z themselves.
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def warm(*people):
    """Makes sure each person's actor is live, so that a later read shows what the write
    handed to that actor rather than what a fresh load reads from the database."""
    for p in people:
        p.incoming()


def ids(entries, key="user_id"):
    return [e[key] for e in entries]


class Social(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY}

    def person(self, first="Test", last="User", **kwargs):
        return Person(self, first, last, **kwargs)

    def assert_row(self, row, requester, addressee, accepted):
        self.assertEqual(set(row), ROW_KEYS)
        self.assertEqual((row["user_id1"], row["user_id2"]), (requester.id, addressee.id))
        self.assertRegex(row["requested_at"], TIMESTAMP)
        if accepted:
            self.assertRegex(row["accepted_at"], TIMESTAMP)
        else:
            self.assertIsNone(row["accepted_at"])

    # -- friendships ----------------------------------------------------------------------
    def test_a_request_and_its_acceptance_show_at_once_to_both_users(self):
        ann, bob = self.person("Ann", "Archer"), self.person("Bob", "Baker")
        self.assertIsNone(ann.check(bob))
        self.assertIsNone(bob.check(ann))
        self.assertEqual(ann.request(bob), {"success": True})

        self.assert_row(ann.check(bob), ann, bob, accepted=False)
        self.assert_row(bob.check(ann), ann, bob, accepted=False)
        self.assert_row(ann.ok("GET", path_of("friendship", "requests", bob.id)), ann, bob, False)
        self.assertIsNone(bob.ok("GET", path_of("friendship", "requests", ann.id)))
        incoming = bob.incoming()
        self.assertEqual(len(incoming), 1)
        self.assertEqual(set(incoming[0]), REQUEST_KEYS)
        self.assertEqual((incoming[0]["user_id"], incoming[0]["first_name"],
                          incoming[0]["last_name"]), (ann.id, "Ann", "Archer"))
        self.assertRegex(incoming[0]["requested_at"], TIMESTAMP)
        self.assertEqual(ann.incoming(), [])

        self.assertEqual(bob.accept(ann), {"success": True})
        self.assert_row(ann.check(bob), ann, bob, accepted=True)
        self.assert_row(bob.check(ann), ann, bob, accepted=True)
        self.assertEqual(bob.incoming(), [])
        self.assertEqual(ids(ann.friends_of(ann)), [bob.id])
        self.assertEqual(ids(bob.friends_of(bob)), [ann.id])
        for who in (ann, bob):
            self.assertEqual(who.ok("GET", path_of("users", "id", who.id, "friends", "count")),
                             {"count_1": 1})
        everything = ann.ok("GET", "/friendship/all")
        self.assertEqual(len(everything), 1)
        self.assertEqual(set(everything[0]), RELATION_KEYS)
        self.assertEqual((everything[0]["user_id"], everything[0]["friendship_state"]), (bob.id, 2))

    def test_a_renamed_requester_shows_under_the_new_name_in_pending_requests(self):
        ann, bob = self.person("Ann", "Archer"), self.person("Bob", "Baker")
        warm(ann, bob)
        ann.request(bob)
        profile = ann.ok("GET", "/users/me")
        update = {k: profile[k] for k in (
            "first_name", "last_name", "description", "share_mode", "domain_allow_array",
            "domain_deny_array", "gender", "school", "work", "location", "email_public",
            "gender_public", "school_public", "work_public", "location_public")}
        update["first_name"] = "Annabel"
        ann.ok("PUT", "/users/me", update)
        # The change reaches Bob's live actor after Ann's reply: poll, with a deadline.
        self.node.wait_for(lambda: bob.incoming()[0]["first_name"] == "Annabel", timeout=5)

    def test_incoming_requests_are_newest_first(self):
        me = self.person("Me", "Myself")
        first, second, third = (self.person("P", str(i)) for i in range(3))
        for p in (first, second, third):
            p.request(me)
        self.assertEqual(ids(me.incoming()), [third.id, second.id, first.id])

    def test_request_rules(self):
        ann, bob = self.person(), self.person()
        self.assertEqual(ann.status("POST", "/friendship/requests", {"user_id2": ann.id}), 400)
        self.assertEqual(ann.status("POST", "/friendship/requests", {"user_id2": "nobody"}), 404)
        self.assertEqual(ann.status("POST", "/friendship/requests", {}), 400)
        self.assertEqual(ann.status("POST", "/friendship/requests", {"user_id2": 7}), 400)
        self.assertEqual(ann.status("POST", "/friendship/requests", "not json"), 400)
        ann.request(bob)
        # One row per pair: a second request either way is a conflict.
        self.assertEqual(ann.status("POST", "/friendship/requests", {"user_id2": bob.id}), 409)
        self.assertEqual(bob.status("POST", "/friendship/requests", {"user_id2": ann.id}), 409)
        # Only the addressee accepts, and only a pending request.
        self.assertEqual(ann.status("POST", "/friendship/accept", {"user_id1": bob.id}), 404)
        self.assertEqual(bob.status("POST", "/friendship/accept", {"user_id1": "nobody"}), 404)
        self.assertEqual(bob.status("POST", "/friendship/accept", {"user_id1": bob.id}), 400)
        bob.accept(ann)
        self.assertEqual(bob.status("POST", "/friendship/accept", {"user_id1": ann.id}), 404)
        self.assertEqual(ann.status("POST", "/friendship/requests", {"user_id2": bob.id}), 409)

    def test_declining_and_cancelling_clear_both_sides(self):
        ann, bob = self.person(), self.person()
        warm(ann, bob)
        ann.request(bob)
        # Only the addressee declines.
        self.assertEqual(ann.status("DELETE", path_of("friendship", "requests", bob.id)), 404)
        self.assertEqual(bob.ok("DELETE", path_of("friendship", "requests", ann.id)),
                         {"success": True})
        self.assertIsNone(ann.check(bob))
        self.assertIsNone(bob.check(ann))
        self.assertEqual(bob.incoming(), [])
        self.assertEqual(bob.status("DELETE", path_of("friendship", "requests", ann.id)), 404)

        ann.request(bob)
        self.assertEqual(ann.ok("POST", "/friendship/delete",
                                {"user_id1": ann.id, "user_id2": bob.id}), {"success": True})
        self.assertIsNone(ann.check(bob))
        self.assertEqual(bob.incoming(), [])

    def test_unfriending_and_who_may_do_it(self):
        ann, bob, eve = self.person(), self.person(), self.person()
        warm(ann, bob)
        ann.befriend(bob)
        pair = {"user_id1": ann.id, "user_id2": bob.id}
        self.assertEqual(eve.status("POST", "/friendship/delete", pair), 403)
        self.assertEqual(ann.status("POST", "/friendship/delete",
                                    {"user_id1": ann.id, "user_id2": ann.id}), 400)
        self.assertEqual(ann.status("POST", "/friendship/delete", {"user_id1": ann.id}), 400)
        self.assert_row(bob.check(ann), ann, bob, accepted=True)

        # Either side, in either order of the ids.
        self.assertEqual(bob.ok("POST", "/friendship/delete", pair), {"success": True})
        self.assertIsNone(ann.check(bob))
        self.assertIsNone(bob.check(ann))
        self.assertEqual(ann.friends_of(ann), [])
        self.assertEqual(bob.ok("GET", path_of("users", "id", bob.id, "friends", "count")),
                         {"count_1": 0})
        self.assertEqual(bob.status("POST", "/friendship/delete", pair), 404)

    def test_unknown_users_get_404_and_callers_without_a_profile_yet_empty_lists(self):
        ann = self.person()
        ghost = self.person(register=False)
        for target in ("nobody", ghost.id):
            for path in (path_of("users", "id", target, "friends"),
                         path_of("users", "id", target, "friends", "count"),
                         path_of("users", "id", target, "mutual-friends"),
                         path_of("users", "id", target, "mutual-friends", "count")):
                status, reply = ann.call("GET", path)
                self.assertEqual((status, reply), (404, {"detail": "User not found"}), path)
        # PageNow's extension polls these from sign-in on, before sign-up;
        # the old services answered 200 [] (twice: once with a live actor, once without).
        for _ in range(2):
            self.assertEqual(ghost.call("GET", "/friendship/requests"), (200, []))
            self.assertEqual(ghost.call("GET", "/notifications/share?is_read=false"), (200, []))
        self.assertEqual(ghost.status("POST", "/friendship/requests", {"user_id2": ann.id}), 404)
        # Once signed up, the same user reads what others did meanwhile.
        ghost.ok("POST", "/users/me", {"first_name": "Gus", "last_name": "Ghost"})
        ann.request(ghost)
        self.assertEqual(ids(ghost.incoming()), [ann.id])

    # -- friend lists ---------------------------------------------------------------------
    def test_friend_lists_are_by_name_with_the_state_relative_to_the_caller(self):
        owner = self.person("Olive", "Owner")
        zed, young, adams = (self.person("Bob", "Zed"), self.person("Alice", "Young"),
                             self.person("Bob", "Adams"))
        for p in (zed, young, adams):
            owner.befriend(p)
        viewer = self.person("Vic", "Viewer")
        viewer.befriend(young)
        viewer.request(adams)

        friends = viewer.friends_of(owner)
        self.assertTrue(all(set(f) == FRIEND_KEYS for f in friends))
        self.assertEqual([(f["user_id"], f["friendship_state"]) for f in friends],
                         [(young.id, 2), (adams.id, 1), (zed.id, 0)])
        self.assertEqual(ids(viewer.friends_of(owner, limit=1, offset=1)), [adams.id])
        self.assertEqual(viewer.friends_of(owner, limit=0), [])
        # The state follows the viewer's writes at once.
        adams.accept(viewer)
        self.assertEqual(viewer.friends_of(owner)[1]["friendship_state"], 2)

        mutual = viewer.ok("GET", path_of("users", "id", owner.id, "mutual-friends"))
        self.assertTrue(all(set(m) == SUMMARY_KEYS for m in mutual))
        self.assertEqual(ids(mutual), [young.id, adams.id])
        self.assertEqual(viewer.ok("GET", path_of("users", "id", owner.id, "mutual-friends",
                                                  limit=1, offset=1)), mutual[1:])
        self.assertEqual(viewer.ok("GET", path_of("users", "id", owner.id, "mutual-friends",
                                                  "count")), {"count_1": 2})
        self.assertEqual(viewer.ok("GET", path_of("users", "id", owner.id, "friends", "count")),
                         {"count_1": 3})

    def test_limit_and_offset_are_validated(self):
        ann = self.person()
        for route in ("friends", "mutual-friends"):
            for query in ({"limit": -1}, {"limit": "abc"}, {"limit": "1.5"}, {"offset": -2},
                          {"offset": "x"}, {"limit": 2 ** 31}):
                status = ann.status("GET", path_of("users", "id", ann.id, route, **query))
                self.assertEqual(status, 400, (route, query))
        self.assertEqual(ann.status("GET", path_of("users", "search", "name", "x", limit=-1)), 400)
        self.assertEqual(ann.status("GET", "/notifications/share/sent?offset=-1"), 400)
        self.assertEqual(ann.status("GET", "/friendship/all?limit=z"), 400)

    # -- search -----------------------------------------------------------------------------
    def test_search_ranks_by_friendship_mutual_friends_then_match(self):
        tag = "q" + uuid.uuid4().hex[:8]
        me = self.person("Me", tag + "me", email=f"me.{tag}@example.com")
        friend = self.person("Fay", tag + "zz", email=f"fay.{tag}@example.com")
        pending = self.person("Pam", tag, email=f"pam.{tag}@example.com")
        two = self.person("Sue", tag + "y", email=f"sue.{tag}@example.com")
        one = self.person("Sam", tag + "y", email=f"sam.{tag}@example.com")
        prefix = self.person(tag, "Zed", email=f"zed.{tag}@example.com")
        infix = self.person("Tim", "x" + tag + "x", email=f"tim.{tag}@example.com")
        m1, m2 = self.person("Mia", "One"), self.person("Max", "Two")
        for p in (friend, m1, m2):
            me.befriend(p)
        me.request(pending)
        for m in (m1, m2):
            m.befriend(two)
        m1.befriend(one)

        found = me.ok("GET", path_of("users", "search", "name", tag.upper()))
        self.assertTrue(all(set(f) == SUMMARY_KEYS for f in found))
        self.assertEqual([(f["user_id"], f["friendship_state"], f["mutual_friend_count"])
                          for f in found],
                         [(friend.id, 2, 0), (pending.id, 1, 0), (two.id, 0, 2), (one.id, 0, 1),
                          (prefix.id, 0, 0), (infix.id, 0, 0)])
        self.assertEqual(me.ok("GET", path_of("users", "search", "name", tag, limit=2, offset=2)),
                         found[2:4])
        # By email every match is infix; the caller is never in the results.
        by_email = me.ok("GET", path_of("users", "search", "email", "." + tag + "@"))
        self.assertNotIn(me.id, ids(by_email))
        self.assertEqual(ids(by_email)[:4], [friend.id, pending.id, two.id, one.id])
        self.assertEqual(sorted(ids(by_email)[4:]), sorted([prefix.id, infix.id]))
        # Leading and trailing backslashes are stripped; nothing left matches nothing.
        self.assertEqual(me.ok("GET", path_of("users", "search", "name", "\\" + tag + "\\")),
                         found)
        self.assertEqual(me.ok("GET", path_of("users", "search", "name", "\\\\")), [])

    def test_search_takes_percent_underscore_and_backslash_literally(self):
        me = self.person()
        tag = uuid.uuid4().hex[:6]
        # Each literal match has a twin that the unescaped pattern would match too.
        literal = {"r%c": self.person("Per%cent", tag), "b_c": self.person("Ab_cd", tag),
                   "k\\s": self.person("Back\\slash", tag)}
        for twin in ("Perxcent", "Abxcd", "Backslash"):
            self.person(twin, tag)
        for query, expected in literal.items():
            found = ids(me.ok("GET", path_of("users", "search", "name", query)))
            self.assertEqual(found, [expected.id], query)

    def test_friend_search_and_the_list_of_every_relation(self):
        tag = "f" + uuid.uuid4().hex[:8]
        me = self.person("Me", tag)
        friend = self.person("Fred", tag, email=f"Fred.{tag}@Example.com")
        asked = self.person("Ada", tag)
        stranger = self.person("Fred", tag + "s")
        me.befriend(friend)
        me.request(asked)

        exact = me.ok("GET", path_of("friendship", "search", "email",
                                     f"fred.{tag}@example.com", exact="true"))
        self.assertEqual(len(exact), 1)
        self.assertEqual(set(exact[0]), RELATION_KEYS)
        self.assertEqual((exact[0]["user_id"], exact[0]["friendship_state"]), (friend.id, 2))
        self.assertEqual(me.ok("GET", path_of("friendship", "search", "email", "fred",
                                              exact="true")), [])
        self.assertEqual(ids(me.ok("GET", path_of("friendship", "search", "email", "FRED."))),
                         [friend.id])
        self.assertEqual(me.status("GET", path_of("friendship", "search", "email", "x",
                                                  exact="maybe")), 400)
        by_name = me.ok("GET", path_of("friendship", "search", "name", tag))
        self.assertEqual([(r["user_id"], r["friendship_state"]) for r in by_name],
                         [(asked.id, 1), (friend.id, 2)])
        self.assertNotIn(stranger.id, ids(by_name))

        everything = me.ok("GET", "/friendship/all")
        self.assertEqual(ids(everything), [asked.id, friend.id])
        self.assert_row({k: everything[0][k] for k in ROW_KEYS}, me, asked, accepted=False)
        self.assertEqual(ids(me.ok("GET", "/friendship/all?limit=1&offset=1")), [friend.id])

    # -- share notifications ------------------------------------------------------------
    def test_a_share_with_all_friends_is_unread_for_each_of_them_at_once(self):
        ann, bob, cid, eve = (self.person("Ann", "A"), self.person("Bob", "B"),
                              self.person("Cid", "C"), self.person("Eve", "E"))
        ann.befriend(bob)
        ann.befriend(cid)
        for who in (bob, cid, eve):
            self.assertEqual(who.unread(), [])
        event_id = ann.ok("POST", "/notifications/share",
                          {"url": "https://news.example/a", "title": "A story",
                           "sent_to": eve.id})
        self.assertRegex(event_id, UUID)

        for who in (bob, cid):
            unread = who.unread()
            self.assertEqual(len(unread), 1)
            self.assertEqual(set(unread[0]), RECEIVED_KEYS)
            n = unread[0]
            self.assertEqual((n["event_id"], n["user_id"], n["url"], n["title"], n["seen_at"],
                              n["first_name"], n["last_name"]),
                             (event_id, ann.id, "https://news.example/a", "A story", None, "Ann",
                              "A"))
            self.assertRegex(n["sent_at"], TIMESTAMP)
        self.assertEqual(eve.unread(), [])
        self.assertEqual(ann.unread(), [])

        sent = ann.ok("GET", "/notifications/share/sent")
        self.assertEqual(len(sent), 1)
        self.assertEqual(set(sent[0]), SENT_KEYS)
        self.assertEqual((sent[0]["event_id"], sent[0]["sent_to"], sent[0]["not_seen_count"],
                          sent[0]["first_name"]), (event_id, None, 2, None))

        self.assertEqual(bob.ok("POST", "/notifications/share/read", [{"event_id": event_id}]),
                         {"success": True})
        self.assertEqual(bob.unread(), [])
        read = bob.ok("GET", "/notifications/share?is_read=true")
        self.assertEqual(ids(read, "event_id"), [event_id])
        self.assertRegex(read[0]["seen_at"], TIMESTAMP)
        self.assertEqual(ids(bob.ok("GET", "/notifications/share"), "event_id"), [event_id])
        self.assertEqual(len(cid.unread()), 1)
        self.assertEqual(ann.ok("GET", "/notifications/share/sent")[0]["not_seen_count"], 1)

    def test_unread_shares_are_newest_first_and_the_sent_list_is_paged(self):
        ann, bob = self.person(), self.person()
        ann.befriend(bob)
        warm(bob)
        events = [ann.ok("POST", "/notifications/share",
                         {"url": f"https://x.example/{i}", "title": str(i)}) for i in range(3)]
        self.assertEqual(ids(bob.unread(), "event_id"), events[::-1])
        self.assertEqual(ids(ann.ok("GET", "/notifications/share/sent?limit=2"), "event_id"),
                         events[:0:-1])
        self.assertEqual(ids(ann.ok("GET", "/notifications/share/sent?limit=2&offset=2"),
                             "event_id"), events[:1])

    def test_personal_shares_go_to_accepted_friends_only(self):
        ann, bob, eve = self.person("Ann", "A"), self.person("Bob", "Baker"), self.person()
        pending = self.person()
        ann.befriend(bob)
        ann.request(pending)
        warm(bob)
        body = {"url": "http://x.example/p", "title": "For you"}
        event_id = ann.ok("POST", "/notifications/share/personal", dict(body, sent_to=bob.id))
        self.assertEqual(ids(bob.unread(), "event_id"), [event_id])
        sent = ann.ok("GET", "/notifications/share/sent")[0]
        self.assertEqual((sent["sent_to"], sent["not_seen_count"], sent["first_name"],
                          sent["last_name"]), (bob.id, 1, "Bob", "Baker"))
        for to, status in ((eve.id, 403), (pending.id, 403), ("nobody", 404), (ann.id, 400)):
            self.assertEqual(ann.status("POST", "/notifications/share/personal",
                                        dict(body, sent_to=to)), status, to)
        self.assertEqual(eve.unread(), [])
        self.assertEqual(ann.status("POST", "/notifications/share/personal", body), 400)

    def test_a_share_without_friends_has_no_recipients(self):
        loner = self.person()
        event_id = loner.ok("POST", "/notifications/share",
                            {"url": "https://x.example", "title": ""})
        sent = loner.ok("GET", "/notifications/share/sent")
        self.assertEqual([(s["event_id"], s["not_seen_count"]) for s in sent], [(event_id, 0)])

    def test_share_bodies_and_filters_are_validated(self):
        ann = self.person()
        bad = [{"title": "t"}, {"url": "https://x.example"}, {"url": 5, "title": "t"},
               {"url": "ftp://x.example", "title": "t"}, {"url": "https://", "title": "t"},
               {"url": "javascript:alert(1)", "title": "t"},
               {"url": "https://x.example/a b", "title": "t"},
               {"url": "https://x.example/" + "a" * 2040, "title": "t"},
               {"url": "https://x.example", "title": "t" * 513}]
        for body in bad:
            status, reply = ann.call("POST", "/notifications/share", body)
            self.assertEqual(status, 400, body)
            self.assertIn("detail", reply)
        self.assertEqual(ann.status("POST", "/notifications/share",
                                    {"url": "HTTPS://x.example/" + "a" * 2030, "title": "t" * 512}),
                         200)
        self.assertEqual(ann.status("GET", "/notifications/share?is_read=maybe"), 400)
        for body in ({"event_id": str(uuid.uuid4())}, [{"id": "x"}], [{"event_id": "nope"}],
                     ["x"], "[{", [{"event_id": 5}]):
            self.assertEqual(ann.status("POST", "/notifications/share/read", body), 400, body)
        self.assertEqual(ann.ok("POST", "/notifications/share/read", []), {"success": True})
        # Someone else's or unknown events are ignored.
        self.assertEqual(ann.ok("POST", "/notifications/share/read",
                                [{"event_id": str(uuid.uuid4()).upper()}]), {"success": True})

    # -- authentication ---------------------------------------------------------------------
    def test_every_route_needs_a_token(self):
        routes = [("GET", "/friendship/check/x"), ("POST", "/friendship/requests"),
                  ("GET", "/friendship/requests/x"), ("GET", "/friendship/requests"),
                  ("POST", "/friendship/accept"), ("DELETE", "/friendship/requests/x"),
                  ("POST", "/friendship/delete"), ("GET", "/friendship/search/email/x"),
                  ("GET", "/friendship/search/name/x"), ("GET", "/friendship/all"),
                  ("GET", "/users/id/x/mutual-friends"), ("GET", "/users/id/x/mutual-friends/count"),
                  ("GET", "/users/id/x/friends"), ("GET", "/users/id/x/friends/count"),
                  ("GET", "/users/search/email/x"), ("GET", "/users/search/name/x"),
                  ("POST", "/notifications/share"), ("POST", "/notifications/share/personal"),
                  ("GET", "/notifications/share"), ("GET", "/notifications/share/sent"),
                  ("POST", "/notifications/share/read"), ("DELETE", "/friendship/requests")]
        for method, path in routes:
            status, headers, _ = self.node.request(method, path, body="{}")
            self.assertEqual(status, 401, (method, path))
            self.assertEqual(headers.get("www-authenticate"), "Bearer", (method, path))


class SocialPassivation(NodeTestCase):
    """User actors stop when idle and reload on the next use."""
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_USERS_IDLE_TIMEOUT_S": "1"}

    def test_an_idle_user_actor_reloads_what_was_written_behind_its_back(self):
        ann, bob = Person(self, "Ann", "A"), Person(self, "Bob", "B")
        ann.befriend(bob)
        self.assertEqual(ann.unread(), [])
        # A share written straight into the database, as another node would: the live
        # actor does not know it; once idle it stops, and the next use loads it.
        psql(self.node.db_dsn, f"""
            WITH e AS (INSERT INTO share_events (sender, url, title)
                       VALUES ('{bob.id}', 'https://behind.example', 'Behind')
                       RETURNING event_id)
            INSERT INTO share_recipients (event_id, user_id) SELECT event_id, '{ann.id}' FROM e""")
        # Polls further apart than the idle timeout, so that the actor can go idle.
        found = self.node.wait_for(lambda: ann.unread(), timeout=30, interval=2.5)
        self.assertEqual([(n["user_id"], n["url"]) for n in found],
                         [(bob.id, "https://behind.example")])
        self.assertEqual(ann.check(bob)["user_id1"], ann.id)


# -- issue 15: pending requests expire, are capped per sender and can be declined at once -------
def query(dsn, sql):
    """The single value `sql` selects from the database `dsn`."""
    return subprocess.run(["psql", dsn, "-tAc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def expired_total(node):
    """tandem_friend_requests_expired_total of the node's /metrics."""
    _, _, text = node.request("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith("tandem_friend_requests_expired_total "):
            return int(line.split()[1])
    raise AssertionError("no tandem_friend_requests_expired_total in /metrics")


class RequestExpiry(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_USERS_REQUEST_TTL_S": "5",
                "TANDEM_USERS_REQUEST_PURGE_INTERVAL_S": "1",
                "TANDEM_USERS_MAX_PENDING_REQUESTS": "2"}

    def test_a_pending_request_expires_for_both_users_and_is_deleted(self):
        amy, bob, cat = Person(self, "Amy", "A"), Person(self, "Bob", "B"), Person(self, "Cat", "C")
        warm(amy, bob, cat)
        amy.request(bob)
        cat.request(bob)
        self.assertEqual(set(ids(bob.incoming())), {amy.id, cat.id})
        self.assertEqual(amy.check(bob)["user_id1"], amy.id)
        # Both sides' live actors drop it once it expires, the polled view included.
        self.node.wait_for(lambda: bob.incoming() == [], timeout=20)
        for me, other in ((amy, bob), (bob, amy)):
            self.assertIsNone(me.check(other))
            self.assertEqual(me.ok("GET", "/friendship/all"), [])
        self.assertIsNone(amy.ok("GET", path_of("friendship", "requests", bob.id)))
        status, reply = bob.call("POST", "/friendship/accept", {"user_id1": amy.id})
        self.assertEqual((status, reply), (404, {"detail": "Friend request not found"}))
        self.assertEqual(bob.status("DELETE", path_of("friendship", "requests", amy.id)), 404)
        found = bob.ok("GET", path_of("users", "search", "email", amy.id))
        self.assertEqual([(x["user_id"], x["friendship_state"]) for x in found], [(amy.id, 0)])
        # The purge deletes the rows and counts them.
        self.node.wait_for(lambda: query(self.node.db_dsn,
                                         "SELECT count(*) FROM friendships") == "0", timeout=10)
        self.assertGreaterEqual(expired_total(self.node), 2)
        # A new request of the pair, the other way round, is a fresh one.
        bob.request(amy)
        self.assertEqual(ids(amy.incoming()), [bob.id])
        self.assertEqual(amy.check(bob)["user_id1"], bob.id)

    def test_expired_requests_do_not_count_toward_the_bound(self):
        amy, bob, cat, dan = (Person(self, "Amy", "A"), Person(self, "Bob", "B"),
                              Person(self, "Cat", "C"), Person(self, "Dan", "D"))
        amy.request(bob)
        cat.request(bob)          # at the bound of 2
        status, reply = dan.call("POST", "/friendship/requests", {"user_id2": bob.id})
        self.assertEqual((status, reply),
                         (429, {"detail": "Too many pending friend requests for this user"}))
        self.node.wait_for(lambda: bob.incoming() == [], timeout=20)
        dan.request(bob)
        self.assertEqual(ids(bob.incoming()), [dan.id])


class OutgoingRequestBound(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_USERS_MAX_OUTGOING_REQUESTS": "3"}

    def test_a_user_has_at_most_the_configured_requests_pending_at_once(self):
        eve = Person(self, "Eve", "E")
        others = [Person(self, f"P{i}", "X") for i in range(5)]
        for p in others[:3]:
            eve.request(p)                          # at the bound
        for _ in range(2):                          # past it, and again
            status, headers, text = self.node.request(
                "POST", "/friendship/requests", body=json.dumps({"user_id2": others[3].id}),
                headers=eve.headers)
            self.assertEqual(status, 429, text)
            self.assertEqual(json.loads(text), {
                "detail": "Too many pending friend requests sent: at most 3 wait at once, "
                          "until accepted, declined, cancelled or expired"})
            self.assertNotIn("retry-after", headers)
        self.assertIsNone(eve.check(others[3]))
        self.assertEqual(others[3].incoming(), [])
        # Others may still ask eve; an answered request frees a place.
        others[4].request(eve)
        others[0].accept(eve)
        eve.request(others[3])
        self.assertEqual(ids(others[3].incoming()), [eve.id])


class BulkDecline(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY}

    def test_every_pending_request_to_the_caller_is_declined_at_once(self):
        bob = Person(self, "Bob", "B")
        askers = [Person(self, f"Asker{i}", "A") for i in range(3)]
        eve, fay = Person(self, "Eve", "E"), Person(self, "Fay", "F")
        warm(bob, eve, fay, *askers)
        for p in askers:
            p.request(bob)
        bob.request(eve)                            # his own request stays
        fay.befriend(bob)                           # and so does a friend
        self.assertEqual(len(bob.incoming()), 3)
        self.assertEqual(bob.ok("DELETE", "/friendship/requests"),
                         {"success": True, "declined": 3})
        self.assertEqual(bob.incoming(), [])
        for p in askers:                            # the requesters' next reads show it
            self.assertIsNone(p.check(bob))
            self.assertEqual(p.ok("GET", "/friendship/all"), [])
        self.assertEqual(bob.check(eve)["user_id1"], bob.id)
        self.assertEqual(eve.check(bob)["user_id1"], bob.id)
        self.assertIsNotNone(bob.check(fay)["accepted_at"])
        self.assertEqual(ids(bob.friends_of(bob)), [fay.id])
        # Nothing left: nothing declined; and a declined requester may ask again.
        self.assertEqual(bob.ok("DELETE", "/friendship/requests"),
                         {"success": True, "declined": 0})
        askers[0].request(bob)
        self.assertEqual(ids(bob.incoming()), [askers[0].id])

    def test_a_thousand_pending_requests_go_in_one_call(self):
        bob = Person(self, "Bob", "B", register=False)
        # Bob and the strangers' requests written straight into the database (as many
        # users would); his actor, spawned by his first read, loads them all.
        psql(self.node.db_dsn, f"""
            INSERT INTO users (user_id, email, first_name, last_name)
            VALUES ('{bob.id}', '{bob.email}', 'Bob', 'B');
            INSERT INTO users (user_id, email, first_name, last_name)
            SELECT 'flood-' || i, 'flood-' || i || '@example.com', 'Flood', 'F'
              FROM generate_series(1, 1000) i;
            INSERT INTO friendships (user_low, user_high, requester)
            SELECT least('flood-' || i, '{bob.id}'), greatest('flood-' || i, '{bob.id}'),
                   'flood-' || i
              FROM generate_series(1, 1000) i""")
        self.assertEqual(len(bob.incoming()), 1000)
        self.assertEqual(bob.ok("DELETE", "/friendship/requests"),
                         {"success": True, "declined": 1000})
        self.assertEqual(bob.incoming(), [])
        self.assertEqual(query(self.node.db_dsn, "SELECT count(*) FROM friendships"), "0")


if __name__ == "__main__":
    unittest.main()
