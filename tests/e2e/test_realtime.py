"""The real-time gateway over real WebSockets (issue 5; docs/api.md, Presence and WebSockets): handshake
refusals, presence fan-out to friends only, server-side privacy, going offline by closing or
by timing out, bad frames, the connection cap, the presence REST routes (P1, P2), live
friendship and share pushes, and which event kinds each path gets.

The client is python3-websockets 10.4 (asyncio API) from Debian. Test methods stay plain
`def test_...` (CMake registers them by that pattern); each runs its scenario with
asyncio.run. "Receives nothing" is checked after a later marker frame that a wrong route
would have delivered first, plus a short bounded wait; never with a sleep.
"""
import asyncio
import json
import subprocess
import sys
import time
import unittest
import urllib.parse

from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from tandem import (
    BASE_ENV, JWT_KEY, Node, RealtimeCase, TITLE, URL, mint_token, presence, services)


# For tests that flood on purpose: every update-presence goes out (ws.presence_*).
NO_PRESENCE_BUDGET = {"TANDEM_WS_PRESENCE_PER_S": "100000", "TANDEM_WS_PRESENCE_BURST": "100000"}
WS_PATHS = ("/ws", "/ws/chat", "/ws/presence")
DOMAIN = "example.co.uk"

CARD_KEYS = {"user_id", "first_name", "last_name", "description", "profile_image_uploaded_at",
             "profile_image_extension"}
INFO_KEYS = {"user_id", "first_name", "last_name", "profile_image_extension"}
# docs/api.md, Conventions: UTC without an offset.
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"


def timeout_frame(user):
    return {"type": "presence-timeout", "userId": user.id}


def without_type(frame):
    return {k: v for k, v in frame.items() if k != "type"}


# -- handshake ------------------------------------------------------------------------------
class Handshake(RealtimeCase):

    def test_a_missing_bad_forged_or_expired_token_is_refused_with_401(self):
        ann = self.person()
        email = f"{ann.id}@example.com"
        tokens = {"missing": None, "garbage": "not-a-token",
                  "forged": mint_token("wrong-key-" + "w" * 32, ann.id, email),
                  "expired": mint_token(JWT_KEY, ann.id, email, ttl_s=-3600)}
        for case, token in tokens.items():
            for path in WS_PATHS:
                for where in ("query", "header"):
                    with self.subTest(token=case, path=path, where=where):
                        target, headers = path, {}
                        if token is not None and where == "query":
                            target += "?Authorization=" + urllib.parse.quote(token, safe="")
                        elif token is not None:
                            headers = {"Authorization": "Bearer " + token}
                        status, hdrs, body = self.upgrade(target, headers)
                        self.assertEqual(status, 401, body)
                        self.assertEqual(hdrs.get("www-authenticate"), "Bearer")
                        self.assertEqual(hdrs.get("content-type"), "application/json")
                        self.assert_detail(body)

        async def body():
            # A real client sees the refusal as a failed handshake, never as an open socket.
            for token in tokens.values():
                if token is None:
                    continue
                with self.assertRaises(InvalidStatusCode) as refused:
                    await self.open_socket("/ws?Authorization=" + urllib.parse.quote(token))
                self.assertEqual(refused.exception.status_code, 401)
        self.scenario(body)

    def test_a_valid_token_is_taken_from_the_query_or_the_header_raw_or_bearer(self):
        ann = self.person("Ann", "A")
        ann.share_all()
        quoted = urllib.parse.quote
        ways = {"query raw": ("/ws?Authorization=" + quoted(ann.token, safe=""), {}),
                "query bearer": ("/ws?Authorization=" + quoted("Bearer " + ann.token, safe=""),
                                 {}),
                "header bearer": ("/ws", {"Authorization": "Bearer " + ann.token}),
                "header raw": ("/ws/presence", {"Authorization": ann.token})}

        async def body():
            for way, (target, headers) in ways.items():
                with self.subTest(way=way):
                    s = await self.open_socket(target, headers, name=way)
                    await s.update(URL, way)
                    self.assertEqual(await s.recv(),
                                     presence(ann, URL, way, DOMAIN, (URL, way, DOMAIN)))
                    await s.close()
        self.scenario(body)

    def test_a_user_without_a_profile_yet_connects_and_goes_on_once_it_is_created(self):
        # PageNow's extension connects and polls as soon as it has a token,
        # before the popup's sign-up (U2); the old services answered 200 and accepted.
        ann = self.person("Ann", "A")
        ann.share_all()
        newcomer = self.person("New", "Comer", register=False)

        async def body():
            sockets = {path: await newcomer.connect(path) for path in WS_PATHS}
            self.assertEqual(newcomer.call("GET", "/friendship/requests"), (200, []))
            self.assertEqual(newcomer.call("GET", "/notifications/share?is_read=false"),
                             (200, []))
            offline = {"userId": newcomer.id, "page": None, "latestPage": None}
            self.assertEqual(newcomer.call("GET", "/presence"),
                             (200, {"userPresence": offline, "presenceArr": [],
                                    "userInfoMap": {}}))
            # Sign-up completes; the same sockets go on, no reconnect.
            newcomer.ok("POST", "/users/me", {"first_name": "New", "last_name": "Comer"})
            newcomer.share_all()
            ann.request(newcomer)
            request = await sockets["/ws/presence"].expect("friend-request")
            self.assertEqual(request["user_id"], ann.id)
            newcomer.accept(ann)
            a = await ann.connect("/ws/presence")
            await sockets["/ws"].update(URL, TITLE)
            self.assertEqual(await a.recv(),
                             presence(newcomer, URL, TITLE, DOMAIN, (URL, TITLE, DOMAIN)))
            got = newcomer.ok("GET", "/presence")
            self.assertEqual(got["presenceArr"], [{"userId": ann.id, "page": None,
                                                  "latestPage": None}])
            self.assertEqual(set(got["userInfoMap"]), {newcomer.id, ann.id})
        self.scenario(body)

    def test_a_refused_upgrade_tells_the_client_only_to_try_again(self):
        # Without its database the node cannot load a user who has no actor yet.
        newcomer = self.person(register=False)
        target = "/ws?Authorization=" + urllib.parse.quote(newcomer.token, safe="")
        services("pg-stop")
        try:
            status, _, body = self.upgrade(target)
        finally:
            services("pg-start")
        plain = {503: "Service temporarily unavailable; try again later",
                 504: "Timed out; try again later"}
        self.assertIn(status, plain, body)
        self.assert_detail(body, plain[status])
        errors = [e for e in self.node.logs if e.get("level") == "error"]
        self.assertEqual(errors, [])

    def test_a_plain_get_on_a_websocket_path_is_426(self):
        ann = self.person()
        for path in WS_PATHS:
            with self.subTest(path=path):
                status, headers, body = self.node.request(
                    "GET", path + "?Authorization=" + urllib.parse.quote(ann.token, safe=""))
                self.assertEqual(status, 426, body)
                self.assertEqual(headers.get("content-type"), "application/json")
                self.assert_detail(body)


# -- presence fan-out, privacy, going offline, REST, pushes, paths ----------------------------
class Presence(RealtimeCase):

    def test_an_update_reaches_friends_and_the_senders_sockets_but_not_strangers(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid", "C")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            a1, a2 = await ann.connect("/ws"), await ann.connect("/ws/presence")
            b = await bob.connect("/ws/presence")
            c = await cid.connect("/ws")
            await a1.update(URL, TITLE)
            want = presence(ann, URL, TITLE, DOMAIN, (URL, TITLE, DOMAIN))
            self.assertEqual(await b.recv(), want)
            self.assertEqual(await a1.recv(), want)
            self.assertEqual(await a2.recv(), want)

            # A blank page keeps the latest non-blank one.
            await a2.update("", "")
            want = presence(ann, "", "", "", (URL, TITLE, DOMAIN))
            for s in (b, a1, a2):
                self.assertEqual(await s.recv(), want)

            # The stranger's first frame is its own echo: it got neither of Ann's updates;
            # and Bob does not get the stranger's.
            await c.update("https://pagenow.io/", "PageNow")
            echo = await c.expect("update-presence")
            self.assertEqual(echo["userId"], cid.id)
            await c.quiet()
            await b.quiet()
        self.scenario(body)

    def test_domain_is_the_registrable_domain_and_null_for_hosts_without_one(self):
        ann = self.person()
        ann.share_all()
        cases = [("https://www.pagenow.io/x", "pagenow.io"),
                 ("https://a.b.example.co.uk/p?q=1", "example.co.uk"),
                 ("https://someone.github.io/page", "someone.github.io"),
                 ("http://localhost:8080/", None),
                 ("http://127.0.0.1/x", None),
                 ("chrome://extensions/", None)]

        async def body():
            a = await ann.connect("/ws/presence")
            for url, domain in cases:
                with self.subTest(url=url):
                    await a.update(url, "t")
                    frame = await a.expect("update-presence")
                    self.assertEqual((frame["url"], frame["domain"]), (url, domain))
        self.scenario(body)

    def test_update_presence_limits_on_url_and_title_length(self):
        ann = self.person()
        ann.share_all()
        long_url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))

        async def body():
            a = await ann.connect("/ws")
            await a.update(long_url, "t" * 512)
            frame = await a.expect("update-presence")
            self.assertEqual((frame["url"], frame["title"]), (long_url, "t" * 512))
            for url, title in ((long_url + "a", "t"), (URL, "t" * 513)):
                await a.update(url, title)
                error = await a.expect("error")
                self.assertEqual(error.get("action"), "update-presence", error)
                self.assertIsInstance(error.get("detail"), str)
            await a.update(URL, TITLE)
            self.assertEqual((await a.expect("update-presence"))["url"], URL)
        self.scenario(body)

    def test_default_none_blanks_the_page_until_its_domain_is_allowed(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        # New users are default_none with compat's default allow list (section 2a), which
        # does not hold example.co.uk; emptied here so that only the U5 below allows it.
        self.assertEqual(ann.ok("GET", "/users/me")["share_mode"], "default_none")
        ann.ok("PUT", "/users/me/domain_array/allow", [])

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws/presence")
            await a.update(URL, TITLE)
            blank = presence(ann, "", "", "")
            self.assertEqual(await b.recv(), blank)
            self.assertEqual(await a.recv(), blank)
            self.assertEqual(bob.presence_of(ann), (200, {"url": "", "title": ""}))

            ann.ok("PUT", "/users/me/domain_array/allow", [DOMAIN])
            await a.update(URL, TITLE)
            shared = presence(ann, URL, TITLE, DOMAIN, (URL, TITLE, DOMAIN))
            self.assertEqual(await b.recv(), shared)
            self.assertEqual(await a.recv(), shared)
            self.assertEqual(bob.presence_of(ann), (200, {"url": URL, "title": TITLE}))
            # Other domains stay hidden.
            await a.update("https://news.example.org/a", "News")
            self.assertEqual(await b.recv(), presence(ann, "", "", "", (URL, TITLE, DOMAIN)))
        self.scenario(body)

    def test_default_all_blanks_a_denied_domain(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.set_sharing("default_all", allow=[], deny=[DOMAIN])

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws")
            await a.update(URL, TITLE)
            self.assertEqual(await b.recv(), presence(ann, "", "", ""))
            other = "https://news.example.org/a"
            await a.update(other, "News")
            shared = ("https://news.example.org/a", "News", "example.org")
            self.assertEqual(await b.recv(), presence(ann, *shared, shared))
            await a.update(URL + "/deeper", TITLE)
            self.assertEqual(await b.recv(), presence(ann, "", "", "", shared))
        self.scenario(body)

    def test_a_domain_denied_by_u5_is_blank_in_the_very_next_update(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws/presence")
            # Each change is in force once its 200 has arrived: the update sent right
            # after it is judged by the new lists (repeated, as a late change is a race).
            # A change may also re-send the current page blanked: Bob may get extra blank
            # frames, but never the denied page, and the allowed one right after.
            for i in range(5):
                denied, allowed = f"{URL}/denied{i}", f"{URL}/allowed{i}"
                ann.ok("PUT", "/users/me/domain_array/deny", [DOMAIN])
                await a.update(denied, "Denied")
                ann.ok("PUT", "/users/me/domain_array/deny", [])
                await a.update(allowed, "Allowed")
                while True:
                    frame = await b.expect("update-presence")
                    if frame["url"] == allowed:
                        break
                    self.assertEqual((frame["url"], frame["title"]), ("", ""),
                                     f"round {i}: shared although denied")
        self.scenario(body)

    def test_closing_one_of_two_sockets_keeps_a_user_online_closing_the_last_does_not(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            a1, a2 = await ann.connect("/ws"), await ann.connect("/ws/presence")
            b = await bob.connect("/ws")
            await a1.update(URL, TITLE)
            await b.expect("update-presence")
            await a1.close()
            # Had the close made Ann offline, Bob would get presence-timeout before this.
            await a2.update(URL + "/2", "Second")
            frame = await b.expect("update-presence")
            self.assertEqual(frame["url"], URL + "/2")
            self.assertEqual(bob.presence_of(ann), (200, {"url": URL + "/2", "title": "Second"}))

            await a2.close()
            self.assertEqual(await b.recv(), timeout_frame(ann))
            self.assertEqual(bob.presence_of(ann), (200, ""))
            await b.quiet()
        self.scenario(body)

    def test_a_chat_socket_does_not_keep_a_user_online(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            a_chat, a_presence = await ann.connect("/ws/chat"), await ann.connect("/ws/presence")
            b = await bob.connect("/ws/presence")
            await a_presence.update(URL, TITLE)
            await b.expect("update-presence")
            await a_presence.close()
            self.assertEqual(await b.recv(), timeout_frame(ann))
            self.assertEqual(bob.presence_of(ann), (200, ""))
            await a_chat.quiet(0.1)   # still open
        self.scenario(body)

    def test_presence_lists_me_and_each_friend_online_or_offline(self):
        me, on, off = self.person("Me", "M"), self.person("On", "Line"), self.person("Off", "Line")
        stranger, pending = self.person("Str", "Anger"), self.person("Pen", "Ding")
        me.befriend(on)
        off.befriend(me)
        me.request(pending)
        on.share_all()
        stranger.share_all()

        def info(p):
            public = me.ok("GET", "/users/id/" + p.id)
            return {"user_id": p.id, "first_name": p.first, "last_name": p.last,
                    "profile_image_extension": public["profile_image_extension"]}

        def offline(p):
            return {"userId": p.id, "page": None, "latestPage": None}

        async def body():
            s_on, s_str = await on.connect("/ws/presence"), await stranger.connect("/ws")
            await s_on.update(URL, TITLE)
            await s_on.expect("update-presence")
            await s_str.update("https://pagenow.io/", "Secret")
            await s_str.expect("update-presence")

            got = me.ok("GET", "/presence")
            self.assertEqual(set(got), {"userPresence", "presenceArr", "userInfoMap"})
            self.assertEqual(got["userPresence"], offline(me))
            page = {"url": URL, "title": TITLE, "domain": DOMAIN}
            self.assertEqual(len(got["presenceArr"]), 2, got["presenceArr"])
            self.assertEqual({p["userId"]: p for p in got["presenceArr"]},
                             {on.id: {"userId": on.id, "page": page, "latestPage": page},
                              off.id: offline(off)})
            self.assertEqual(got["userInfoMap"], {p.id: info(p) for p in (me, on, off)})

            self.assertEqual(me.presence_of(on), (200, {"url": URL, "title": TITLE}))
            self.assertEqual(me.presence_of(off), (200, ""))
            self.assertEqual(me.presence_of(me), (200, ""))
            for other in (stranger, pending, self.person(register=False)):
                self.assertEqual(me.presence_of(other),
                                 (403, {"detail": "Forbidden access to user presence"}))

            # A blank current page; latestPage keeps the last non-blank one. Mine: online
            # with a blank page and no latest one.
            await s_on.update("", "")
            await s_on.expect("update-presence")
            s_me = await me.connect("/ws")
            await s_me.update("", "")
            await s_me.expect("update-presence")
            got = me.ok("GET", "/presence")
            blank = {"url": "", "title": "", "domain": ""}
            self.assertEqual(got["userPresence"],
                             {"userId": me.id, "page": blank, "latestPage": blank})
            self.assertEqual({p["userId"]: p for p in got["presenceArr"]}[on.id],
                             {"userId": on.id, "page": blank, "latestPage": page})
            self.assertEqual(me.presence_of(on), (200, {"url": "", "title": ""}))
            self.assertEqual(me.presence_of(me), (200, {"url": "", "title": ""}))
            self.assertEqual(on.presence_of(me), (200, {"url": "", "title": ""}))
        self.scenario(body)

    def test_presence_routes_need_a_token(self):
        for path in ("/presence", "/presence/someone"):
            status, headers, body = self.node.request("GET", path)
            self.assertEqual(status, 401, path)
            self.assertEqual(headers.get("www-authenticate"), "Bearer", path)
            self.assert_detail(body)

    def test_friend_requests_acceptances_and_shares_are_pushed(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid", "C")
        cid.befriend(bob)

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws/presence")
            c = await cid.connect("/ws")
            bob.request(ann)
            frame = await a.expect("friend-request")
            self.assertEqual(set(frame), {"type", "requested_at"} | CARD_KEYS)
            self.assertEqual(without_type(frame), ann.ok("GET", "/friendship/requests")[0])
            self.assertEqual((frame["user_id"], frame["first_name"], frame["last_name"]),
                             (bob.id, "Bob", "B"))
            self.assertRegex(frame["requested_at"], TIMESTAMP)

            ann.accept(bob)
            frame = await b.expect("friend-accepted")
            self.assertEqual(set(frame), {"type", "accepted_at"} | CARD_KEYS)
            card = ann.ok("GET", "/users/id/" + ann.id)
            self.assertEqual({k: frame[k] for k in CARD_KEYS}, {k: card[k] for k in CARD_KEYS})
            self.assertEqual(frame["user_id"], ann.id)
            self.assertRegex(frame["accepted_at"], TIMESTAMP)

            event_id = bob.ok("POST", "/notifications/share",
                              {"url": "https://news.example/a", "title": "A story"})
            for s, who in ((a, ann), (c, cid)):
                frame = await s.expect("share-notification")
                self.assertEqual(set(frame), {"type", "event_id", "user_id", "sent_at", "url",
                                              "title", "seen_at", "first_name", "last_name",
                                              "profile_image_extension"})
                self.assertEqual(without_type(frame), who.unread()[0])
                self.assertEqual((frame["event_id"], frame["user_id"], frame["url"],
                                  frame["title"], frame["seen_at"], frame["first_name"]),
                                 (event_id, bob.id, "https://news.example/a", "A story", None,
                                  "Bob"))
            # Ann got nothing more: her next frame is her own echo.
            await a.update("", "")
            self.assertEqual((await a.expect("update-presence"))["userId"], ann.id)
            await a.quiet()
        self.scenario(body)

    def test_pushes_reach_only_the_user_concerned(self):
        ann, bob, cid = self.person("Ann", "A"), self.person("Bob", "B"), self.person("Cid", "C")
        ann.befriend(bob)

        async def body():
            b, c = await bob.connect("/ws"), await cid.connect("/ws")
            dan = self.person("Dan", "D")
            dan.request(bob)
            await b.expect("friend-request")
            ann.ok("POST", "/notifications/share", {"url": "https://x.example/", "title": "X"})
            await b.expect("share-notification")
            # Cid is nobody's friend here: his first frame is his own echo.
            await c.update("", "")
            self.assertEqual((await c.expect("update-presence"))["userId"], cid.id)
            await c.quiet()
        self.scenario(body)

    def test_a_new_friend_gets_the_online_accepters_page_and_an_ex_friend_a_timeout(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.share_all()
        bob.share_all()

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws/presence")
            await a.update(URL, TITLE)
            await a.expect("update-presence")
            bob.request(ann)
            await a.expect("friend-request")
            ann.accept(bob)
            frames = await b.recv_many(2)
            by_type = {f.get("type"): f for f in frames}
            self.assertEqual(set(by_type), {"friend-accepted", "update-presence"}, frames)
            self.assertEqual(by_type["update-presence"],
                             presence(ann, URL, TITLE, DOMAIN, (URL, TITLE, DOMAIN)))
            # Bob is not online (no update yet), so Ann gets nothing of his.
            await a.quiet()
            # From now on Ann's updates reach Bob.
            await a.update(URL + "/next", "Next")
            self.assertEqual((await b.expect("update-presence"))["url"], URL + "/next")
            self.assertEqual((await a.expect("update-presence"))["url"], URL + "/next")

            bob.ok("POST", "/friendship/delete", {"user_id1": bob.id, "user_id2": ann.id})
            self.assertEqual(await b.recv(), timeout_frame(ann))
            self.assertEqual(bob.presence_of(ann)[0], 403)
            await a.update(URL + "/after", "After")
            frame = await a.recv()
            if frame == timeout_frame(bob):     # allowed, though Bob was not online
                frame = await a.recv()
            self.assertEqual((frame["type"], frame["userId"]), ("update-presence", ann.id))
            # Bob's own echo comes first: Ann's update did not reach him, his not Ann.
            await b.update("https://pagenow.io/", "Bob's page")
            self.assertEqual((await b.expect("update-presence"))["userId"], bob.id)
            await b.quiet()
            await a.quiet()
        self.scenario(body)

    def test_a_new_friend_gets_the_online_requesters_page(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.share_all()

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws")
            await a.update(URL, TITLE)
            await a.expect("update-presence")
            ann.request(bob)
            await b.expect("friend-request")
            await b.quiet(0.1)
            bob.accept(ann)
            self.assertEqual(await b.recv(),
                             presence(ann, URL, TITLE, DOMAIN, (URL, TITLE, DOMAIN)))
            await a.expect("friend-accepted")
            await a.quiet()
        self.scenario(body)

    def test_a_chat_socket_gets_no_presence_friendship_or_share_events(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            b_chat, b_presence = await bob.connect("/ws/chat"), await bob.connect("/ws/presence")
            a = await ann.connect("/ws")
            await a.update(URL, TITLE)
            await b_presence.expect("update-presence")
            ann.ok("POST", "/notifications/share", {"url": URL, "title": TITLE})
            await b_presence.expect("share-notification")
            self.person("Dan", "D").request(bob)
            await b_presence.expect("friend-request")
            await a.close()
            await b_presence.expect("presence-timeout")
            await b_chat.quiet()
        self.scenario(body)

    def test_update_presence_on_a_chat_socket_is_an_error_and_changes_nothing(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            a_chat, b = await ann.connect("/ws/chat"), await bob.connect("/ws/presence")
            await a_chat.update(URL, TITLE)
            error = await a_chat.expect("error")
            self.assertEqual(error.get("action"), "update-presence", error)
            self.assertIsInstance(error.get("detail"), str)
            self.assertEqual(bob.presence_of(ann), (200, ""))
            # Ann's first real update is the first thing Bob gets.
            a = await ann.connect("/ws/presence")
            await a.update(URL + "/real", "Real")
            self.assertEqual((await b.expect("update-presence"))["url"], URL + "/real")
            await a_chat.quiet()
        self.scenario(body)


# -- timing out ------------------------------------------------------------------------------
class PresenceTimeout(RealtimeCase):
    node_env = dict(BASE_ENV, TANDEM_WS_PRESENCE_TIMEOUT_S="1")

    def test_a_silent_user_times_out_and_friends_are_told(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            a, b = await ann.connect("/ws/presence"), await bob.connect("/ws")
            sent = time.monotonic()
            await a.update(URL, TITLE)
            await b.expect("update-presence")
            self.assertEqual(await b.recv(timeout=5), timeout_frame(ann))
            self.assertGreaterEqual(time.monotonic() - sent, 0.9, "timed out too early")
            self.assertEqual(bob.presence_of(ann), (200, ""))
            got = bob.ok("GET", "/presence")
            self.assertEqual(got["presenceArr"], [{"userId": ann.id, "page": None,
                                                  "latestPage": None}])
            # An update on the same socket makes her online again.
            await a.update(URL + "/back", "Back")
            self.assertEqual((await b.expect("update-presence"))["url"], URL + "/back")
        self.scenario(body)

    def test_heartbeats_keep_a_user_online(self):
        ann, bob = self.person("Ann", "A"), self.person("Bob", "B")
        ann.befriend(bob)
        ann.share_all()

        async def body():
            a, b = await ann.connect("/ws"), await bob.connect("/ws")
            await a.update(URL, TITLE)
            await b.expect("update-presence")
            await a.expect("update-presence")
            end = time.monotonic() + 2.5
            while time.monotonic() < end:
                await a.heartbeat()
                await b.quiet(0.3)      # no presence-timeout while heartbeats flow
            await a.quiet(0.01)         # a heartbeat gets no reply
            self.assertEqual(bob.presence_of(ann), (200, {"url": URL, "title": TITLE}))
            # Once they stop, she does time out.
            self.assertEqual(await b.recv(timeout=5), timeout_frame(ann))
        self.scenario(body)


# -- bad frames ------------------------------------------------------------------------------
class BadFrames(RealtimeCase):
    node_env = dict(BASE_ENV, TANDEM_WS_FRAME_LIMIT="1024")

    def test_each_bad_frame_gets_an_error_and_the_socket_stays_usable(self):
        ann = self.person("Ann", "A")
        ann.share_all()
        anything = object()   # the action key may or may not be there
        cases = [
            ("not json", "{not json", None),
            ("json array", json.dumps([{"action": "heartbeat"}]), None),
            ("json string", json.dumps("heartbeat"), None),
            ("no action", json.dumps({"url": URL, "title": TITLE}), None),
            ("number action", json.dumps({"action": 5}), None),
            ("unknown action", json.dumps({"action": "dance"}), "dance"),
            ("number url", json.dumps({"action": "update-presence", "url": 5, "title": "t"}),
             "update-presence"),
            ("missing title", json.dumps({"action": "update-presence", "url": URL}),
             "update-presence"),
            ("null title", json.dumps({"action": "update-presence", "url": URL, "title": None}),
             "update-presence"),
            ("oversize", json.dumps({"action": "heartbeat", "pad": "x" * 5000}), anything),
            ("binary", b"\x00\x01\x02binary", anything),
            ("binary json", json.dumps({"action": "heartbeat"}).encode(), anything),
        ]

        async def body():
            a = await ann.connect("/ws")
            for case, frame, action in cases:
                with self.subTest(case=case):
                    await a.send(frame)
                    error = await a.expect("error")
                    self.assertIsInstance(error.get("detail"), str, error)
                    self.assertTrue(error["detail"], error)
                    if action is anything:
                        self.assertLessEqual(set(error), {"type", "detail", "action"}, error)
                    elif action is None:
                        self.assertEqual(set(error), {"type", "detail"}, error)
                    else:
                        self.assertEqual(error, dict(error, action=action), error)
                        self.assertEqual(set(error), {"type", "detail", "action"}, error)
                    # Still usable: a good update is echoed.
                    await a.update(URL, case)
                    echo = await a.expect("update-presence")
                    self.assertEqual(echo["title"], case)
        self.scenario(body)

    def test_rest_and_websocket_refuse_the_same_bad_text_with_the_same_detail(self):
        # One decoder for REST bodies and WebSocket frames: a share (N1) and an
        # update-presence frame carrying the same bad text are refused in the same words.
        ann = self.person()
        ann.share_all()
        cases = [
            ("NUL in a value", '"title": "a\\u0000b"', "'title' must not contain NUL characters"),
            ("NUL in a member name", '"ti\\u0000tle": "t"',
             "A member name must not contain NUL characters"),
            ("NUL in a nested string", '"tags": ["\\u0000"]',
             "'tags' must not contain NUL characters"),
        ]

        async def body():
            a = await ann.connect("/ws")
            for case, member, detail in cases:
                with self.subTest(case=case):
                    rest = '{"url": "https://example.com/", ' + member + '}'
                    frame = '{"action": "update-presence", "url": "https://example.com/", ' \
                            + member + '}'
                    self.assertEqual(ann.call("POST", "/notifications/share", rest),
                                     (400, {"detail": detail}))
                    await a.send(frame)
                    self.assertEqual(await a.expect("error"), {"type": "error", "detail": detail})
            # Nothing of it was shared or shown, and the socket stays usable.
            self.assertEqual(ann.ok("GET", "/notifications/share/sent"), [])
            await a.update(URL, "after")
            self.assertEqual((await a.expect("update-presence"))["title"], "after")
        self.scenario(body)

    def test_a_frame_just_under_the_limit_is_accepted(self):
        ann = self.person()
        ann.share_all()

        async def body():
            a = await ann.connect("/ws")
            frame = {"action": "update-presence", "url": URL + "/", "title": TITLE}
            frame["url"] += "p" * (1000 - len(json.dumps(frame)))
            self.assertEqual(len(json.dumps(frame)), 1000)
            await a.send(frame)
            self.assertEqual((await a.expect("update-presence"))["url"], frame["url"])
        self.scenario(body)

    def test_a_flood_of_bad_frames_is_closed_with_1008(self):
        ann = self.person()

        async def body():
            a, other = await ann.connect("/ws"), await ann.connect("/ws/presence")
            try:
                for i in range(50):
                    await a.send(f"garbage {i}")
            except ConnectionClosed:
                pass
            code, _ = await a.closed(timeout=5)
            self.assertEqual(code, 1008)
            # Only the flooding socket is closed.
            await other.update("", "")
            await other.expect("update-presence")
        self.scenario(body)

    def test_a_good_frame_resets_the_count_of_bad_ones(self):
        ann = self.person()
        ann.share_all()

        async def body():
            a = await ann.connect("/ws")
            for round_ in range(3):
                for i in range(9):
                    await a.send(f"garbage {round_}.{i}")
                await a.update(URL, f"round {round_}")
                frames = await a.recv_many(10, timeout=2)
                self.assertEqual([f.get("type") for f in frames],
                                 ["error"] * 9 + ["update-presence"], frames)
            await a.update(URL, "still open")
            self.assertEqual((await a.expect("update-presence"))["title"], "still open")
        self.scenario(body)

    def test_frames_over_the_rate_limit_get_error_frames_and_the_socket_stays_open(self):
        ann = self.person()
        ann.share_all()

        async def body():
            a = await ann.connect("/ws")
            for _ in range(45):         # burst 40, 20/s
                await a.heartbeat()
            errors = []
            while True:                 # heartbeats get no reply: only errors arrive
                try:
                    data = await asyncio.wait_for(a.ws.recv(), 1.0)
                except asyncio.TimeoutError:
                    break
                errors.append(json.loads(data))
            self.assertTrue(errors, "no error frame for 45 frames at once")
            self.assertLessEqual(len(errors), 5, errors)
            self.assertEqual({e.get("type") for e in errors}, {"error"}, errors)
            await a.update(URL, "after the burst")
            self.assertEqual((await a.expect("update-presence"))["title"], "after the burst")
        self.scenario(body)


# -- slow readers ----------------------------------------------------------------------------
class FloodCase(RealtimeCase):
    """Pushes as fast as the server takes them to a socket that reads nothing."""
    LONG_URL = URL + "/" + "p" * 2000
    LONG_TITLE = "t" * 500
    HEARTBEAT_S = 0.2

    async def flood_until_cut(self, slow, senders, limit_s):
        """Each of `senders` (a socket of a user whose presence reaches `slow`) sends
        update-presence with a page of 2 KB and reads its echo, over and over, while
        `slow` sends heartbeats; returns the seconds until the server closed `slow`."""
        start = last_beat = time.monotonic()
        n = 0
        while slow.is_open():
            now = time.monotonic()
            if now - start > limit_s:
                self.fail(f"a socket that reads nothing but sends heartbeats is still "
                          f"connected after {limit_s} s of pushes ({n} rounds)")
            if now - last_beat >= self.HEARTBEAT_S:
                slow.heartbeat()
                last_beat = now
            for s in senders:
                await s.update(self.LONG_URL, f"{self.LONG_TITLE} {n}")
                await s.expect("update-presence")
            n += 1
        return time.monotonic() - start


class SlowReaders(FloodCase):
    node_env = dict(BASE_ENV, TANDEM_WS_WRITE_TIMEOUT_MS="1000",
                    TANDEM_WS_RATE_PER_S="100000", TANDEM_WS_RATE_BURST="100000",
                    **NO_PRESENCE_BUDGET)

    def test_a_socket_that_stops_reading_is_cut_at_the_write_deadline_despite_heartbeats(self):
        ann = self.person()
        ann.share_all()

        async def body():
            slow = self.raw(ann, "/ws")
            fast = await ann.connect("/ws/presence")
            # The user's own updates reach both; presence frames coalesce, so the slow
            # socket's queue never overflows: only the write deadline can drop it.
            took = await self.flood_until_cut(slow, [fast], limit_s=10)
            self.assertLess(took, 1.0 + 3.0, "cut, but long after the write deadline")
            # The socket that reads is untouched.
            await fast.update(URL, "after")
            self.assertEqual((await fast.expect("update-presence"))["title"], "after")
        self.scenario(body)


class OverflowingReaders(FloodCase):
    # The write deadline far away: the overflow's close is what must not wait.
    node_env = dict(BASE_ENV, TANDEM_WS_WRITE_TIMEOUT_MS="600000",
                    TANDEM_WS_CLOSE_TIMEOUT_MS="500", TANDEM_WS_SEND_QUEUE_LIMIT="2",
                    TANDEM_WS_RATE_PER_S="100000", TANDEM_WS_RATE_BURST="100000",
                    **NO_PRESENCE_BUDGET)

    def test_an_overflowing_socket_is_cut_at_the_close_deadline_despite_heartbeats(self):
        ann = self.person("Ann", "A")
        friends = [self.person(f"F{i}", "F") for i in range(3)]
        for f in friends:
            ann.befriend(f)
            f.share_all()

        async def body():
            slow = self.raw(ann, "/ws")
            senders = [await f.connect("/ws/presence") for f in friends]
            # Three friends' pages do not coalesce: the queue of 2 overflows once the
            # write blocks, and the close (1013) waits behind that write.
            took = await self.flood_until_cut(slow, senders, limit_s=10)
            self.assertLess(took, 0.5 + 3.0, "cut, but long after the close deadline")
        self.scenario(body)


# -- connection cap --------------------------------------------------------------------------
class ConnectionCap(RealtimeCase):
    node_env = dict(BASE_ENV, TANDEM_WS_MAX_CONNECTIONS="2", TANDEM_WS_CLOSE_TIMEOUT_MS="500")

    def test_a_socket_over_the_cap_replaces_the_oldest_with_4008(self):
        ann = self.person()
        ann.share_all()

        async def body():
            s1 = await ann.connect("/ws", name="first")
            s2 = await ann.connect("/ws", name="second")
            await s1.quiet(0.2)         # two are within the cap
            s3 = await ann.connect("/ws/presence", name="third")
            code, reason = await s1.closed(timeout=2)
            self.assertEqual((code, reason),
                             (4008, "too many connections: replaced by a newer one"))
            await s3.update(URL, "both")
            for s in (s2, s3):
                self.assertEqual((await s.expect("update-presence"))["title"], "both")
        self.scenario(body)

    def test_evicted_sockets_hold_their_seat_until_closed_and_close_within_the_deadline(self):
        ann = self.person()

        async def body():
            # Clients that read nothing never answer the close handshake (4008).
            sockets = [self.raw(ann), self.raw(ann)]
            for _ in range(4):
                sockets[-1].heartbeat()
                started = time.monotonic()
                sockets.append(self.raw(ann))   # its handshake waits for a free seat
                waited = time.monotonic() - started
                open_now = [s for s in sockets if s.is_open()]
                self.assertLessEqual(len(open_now), 2,
                                     f"{len(open_now)} sockets of one user open, cap 2")
                self.assertLess(waited, 0.5 + 3.0, "the eviction took past its deadline")
            self.assertTrue(sockets[-1].is_open() and sockets[-2].is_open())
        self.scenario(body)


# -- shutdown --------------------------------------------------------------------------------
class Shutdown(RealtimeCase):

    def test_sigterm_closes_websockets_with_going_away_and_exits_0(self):
        ann = self.person()

        async def body():
            s = await ann.connect("/ws")
            await s.heartbeat()
            loop = asyncio.get_running_loop()
            exit_code = loop.run_in_executor(None, self.node.terminate)
            code, _ = await s.closed(timeout=10)
            self.assertEqual(code, 1001)
            self.assertEqual(await exit_code, 0)
        self.scenario(body)

    def test_sigterm_under_load_closes_every_websocket_and_exits_0_round_after_round(self):
        # Issue 14, item 8: a node once died of SIGSEGV on SIGTERM with WebSockets open, a
        # race between sessions released on actor threads and the io_context going away.
        # Every round: friends chatting on many sockets, the CPU busy, then SIGTERM.
        for round_ in range(4):
            with self.subTest(round=round_):
                self.node = Node(dict(BASE_ENV, TANDEM_WS_RATE_PER_S="100000",
                                      TANDEM_WS_RATE_BURST="100000", **NO_PRESENCE_BUDGET))
                try:
                    self.shutdown_round()
                finally:
                    self.node.stop()

    def shutdown_round(self):
        people = [self.person(f"P{i}", "S") for i in range(4)]
        for i, p in enumerate(people):
            p.share_all()
            for q in people[i + 1:]:
                p.befriend(q)

        async def chatter(s, n=0):
            try:
                while True:
                    await s.update(URL, f"{n}")
                    n += 1
                    await asyncio.sleep(0.002)
            except ConnectionClosed:
                pass

        async def body():
            sockets = [await p.connect(path) for p in people for path in WS_PATHS]
            senders = [asyncio.create_task(chatter(s)) for s in sockets
                       if not s.name.endswith("/ws/chat")]
            await sockets[0].expect("update-presence")    # the traffic flows
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(2)]
            try:
                loop = asyncio.get_running_loop()
                exit_code = loop.run_in_executor(None, self.node.terminate)
                codes = [(await s.closed(timeout=10))[0] for s in sockets]
                self.assertEqual(await exit_code, 0, "the node did not stop cleanly")
            finally:
                for h in hogs:
                    h.kill()
                    h.wait()
            await asyncio.gather(*senders)
            self.assertEqual(codes, [1001] * len(sockets))
            self.assertTrue(any(e.get("msg") == "stopped" for e in self.node.logs))
        self.scenario(body)


class ShutdownDeadline(RealtimeCase):
    # No time at all to drain: every WebSocket is still open when the io threads stop.
    node_env = dict(BASE_ENV, TANDEM_HTTP_SHUTDOWN_TIMEOUT_MS="0")

    def test_sigterm_past_the_shutdown_deadline_cuts_websockets_and_still_exits_0(self):
        ann = self.person()

        async def body():
            sockets = [await ann.connect(path) for path in WS_PATHS]
            await sockets[0].heartbeat()
            loop = asyncio.get_running_loop()
            exit_code = loop.run_in_executor(None, lambda: self.node.terminate(timeout=10))
            for s in sockets:
                await s.closed(timeout=10)
            self.assertEqual(await exit_code, 0)
            self.assertTrue(any(e.get("msg") == "stopped" for e in self.node.logs))
        self.scenario(body)

if __name__ == "__main__":
    unittest.main()
