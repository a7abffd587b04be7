"""Authorization matrix (issue 15): every HTTP route, every WebSocket path and every inbound
frame, each sent by every principal, answers the status this file expects.

The principals: the owner of the resource a request names (its user, its group
conversation, its profile image), a friend of the owner, a member of the owner's group who
is not a friend, a stranger, a client without a token and one with an expired token.

What is served comes from the binary itself (`tandem routes`), not from this file: a route,
path or frame that the binary serves and that has no entry in ROUTES or FRAMES fails the
test, and so does an entry for something the binary does not serve. Adding a route is one
line in ROUTES: its key is the line `tandem routes` prints (METHOD PATTERN GUARD), so a
route whose guard changes (a token route made public) also fails.

A column holds a status for HTTP, and for frames ACCEPTED (the frame did what it does) or
REFUSED (an `error` frame naming the action); a client without a valid token never gets a
socket (401 at the upgrade).

The routes are sent in the order the binary lists them, the principals in PRINCIPALS'
order, all on one node: a route that undoes what later lines rely on (the owner's
friendship with the friend, the group's members, the owner's image) must act on something
of its own instead, as POST /friendship/delete does with the owner's request to the filler
below.
"""
import asyncio
import http.client
import json
import time
import urllib.parse
import uuid

from tandem import (
    JWT_KEY, MEDIA_KEY, RealtimeCase, dir_name, mint_token, png_image, served_routes,
    sign_media_url)


PRINCIPALS = ("owner", "friend", "member", "stranger", "none", "expired")
# Neither the per-socket frame limit nor the chat rate limit in the way; argon2 cheap.
NODE_ENV = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_MEDIA_URL_KEY": MEDIA_KEY,
            "TANDEM_WS_RATE_PER_S": "1000", "TANDEM_WS_RATE_BURST": "1000",
            "TANDEM_CHAT_RATE_PER_S": "1000", "TANDEM_CHAT_RATE_BURST": "1000",
            "TANDEM_AUTH_ARGON2_MEMORY_KIB": "1024", "TANDEM_AUTH_ARGON2_ITERATIONS": "1"}
PASSWORD = "matrix-password-" + "p" * 16
FRAME_S = 3.0   # a frame's answer or effect arrives within this


def expect(owner, friend, member, stranger, none, expired):
    return dict(zip(PRINCIPALS, (owner, friend, member, stranger, none, expired)))


PUBLIC = expect(200, 200, 200, 200, 200, 200)
ANY_USER = expect(200, 200, 200, 200, 401, 401)
MEMBERS = expect(200, 403, 200, 403, 401, 401)
FRIENDS = expect(200, 200, 403, 403, 401, 401)
# Requests about the owner that the owner may not make about itself.
NOT_SELF = expect(400, 200, 200, 200, 401, 401)
# Answering the owner's friend request, of which there is none.
NO_REQUEST = expect(400, 404, 404, 404, 401, 401)
ACCEPTED, REFUSED = "accepted", "refused"


class Entry:
    """How to send a route and what each principal gets. `params` overrides the path
    parameters of `Matrix.params`; `body(ctx, who)` and `query` complete the request;
    `target(ctx, who)` replaces the whole path and query (signed URLs)."""

    def __init__(self, statuses, params=None, query="", body=None, target=None):
        self.statuses, self.params, self.query = statuses, params or {}, query
        self.body, self.target = body, target


def fixed(value):
    return lambda ctx, who: value


# -- the route table: one line per route, keyed by its line in `tandem routes` ------------
ROUTES = {
    "GET /ping public": Entry(PUBLIC),
    "GET /healthz public": Entry(PUBLIC),
    "GET /readyz public": Entry(PUBLIC),
    "GET /metrics public": Entry(PUBLIC),
    "GET /openapi.json public": Entry(PUBLIC),
    # The web client's page and files (web/): public, as any static site.
    "GET / public": Entry(PUBLIC),
    "GET /app/{file} public": Entry(PUBLIC, params={"file": "app.js"}),
    "POST /auth/register public": Entry(expect(*[201] * 6), body=lambda ctx, who: {
        "email": f"reg-{uuid.uuid4().hex}@example.com", "password": PASSWORD}),
    "POST /auth/login public": Entry(PUBLIC, body=lambda ctx, who: ctx.account),
    "POST /auth/refresh public": Entry(PUBLIC, body=lambda ctx, who: ctx.fresh_refresh()),
    "POST /auth/logout public": Entry(expect(*[204] * 6), body=lambda ctx, who: ctx.fresh_refresh()),
    "POST /users/me token": Entry(expect(400, 400, 400, 400, 401, 401), body=fixed(
        {"first_name": "Again", "last_name": "Again"})),
    "GET /users/me token": Entry(ANY_USER),
    "PUT /users/me token": Entry(ANY_USER, body=lambda ctx, who: ctx.profile(who)),
    "PUT /users/me/domain_array/{share_type} token": Entry(ANY_USER, body=fixed(["example.com"])),
    "GET /users/id/{id} public": Entry(PUBLIC),
    "GET /users/ids/{ids} public": Entry(PUBLIC),
    "GET /domains/share/warnings token": Entry(ANY_USER),
    "GET /users/me/profile-image-upload-url token": Entry(ANY_USER, query="image_ext=png"),
    "GET /users/id/{user_id}/profile-image-url public": Entry(PUBLIC, query="image_ext=png"),
    "GET /users/ids/{user_ids}/profile-image-url public": Entry(PUBLIC, query="image_ext_arr=png"),
    "DELETE /users/me/profile-image token": Entry(ANY_USER),
    # Only the owner's own upload URL writes the owner's image; another user's signature
    # does not carry over to the owner's path.
    "PUT /media/{owner}/{file} signed-url": Entry(expect(200, 403, 403, 403, 403, 403),
                                                  body=fixed(png_image()),
                                                  target=lambda ctx, who: ctx.upload_target(who)),
    # Profile images are public (U13): any holder of the URL U13 signs reads it.
    "GET /media/{owner}/{file} signed-url": Entry(expect(200, 200, 200, 200, 403, 403),
                                                  target=lambda ctx, who: ctx.image_target(who)),
    "POST /email token": Entry(ANY_USER, body=fixed({
        "senderFirstName": "Owen", "senderLastName": "Owner",
        "recipientEmail": "invitee@example.com"})),
    "GET /friendship/check/{id} token": Entry(ANY_USER),
    # The friend is one already (409); member and stranger ask the owner here...
    "POST /friendship/requests token": Entry(expect(400, 409, 200, 200, 401, 401),
                                             body=lambda ctx, who: {"user_id2": ctx.owner.id}),
    "GET /friendship/requests/{id} token": Entry(ANY_USER),
    "GET /friendship/requests token": Entry(ANY_USER),
    # ...and cannot accept their own request: only an addressee accepts (404 for everyone
    # else, as no request from the owner is addressed to them).
    "POST /friendship/accept token": Entry(NO_REQUEST,
                                           body=lambda ctx, who: {"user_id1": ctx.owner.id}),
    "DELETE /friendship/requests/{id} token": Entry(NO_REQUEST),
    # Declines every request to the caller (the owner's come from member and stranger).
    "DELETE /friendship/requests token": Entry(ANY_USER),
    # Only a party ends a relationship (compat F7: 403 otherwise): here the owner's
    # pending request to the filler, which nothing else in the matrix uses (and which no
    # bulk decline reaches: the filler is no principal).
    "POST /friendship/delete token": Entry(expect(200, 403, 403, 403, 401, 401),
                                           body=lambda ctx, who: {"user_id1": ctx.owner.id,
                                                                  "user_id2": ctx.filler.id}),
    "GET /friendship/search/email/{q} token": Entry(ANY_USER, params={"q": "example.com"}),
    "GET /friendship/search/name/{q} token": Entry(ANY_USER),
    "GET /friendship/all token": Entry(ANY_USER),
    "GET /users/id/{id}/mutual-friends token": Entry(ANY_USER),
    "GET /users/id/{id}/mutual-friends/count token": Entry(ANY_USER),
    "GET /users/id/{id}/friends token": Entry(ANY_USER),
    "GET /users/id/{id}/friends/count token": Entry(ANY_USER),
    "GET /users/search/email/{q} token": Entry(ANY_USER, params={"q": "example.com"}),
    "GET /users/search/name/{q} token": Entry(ANY_USER),
    "POST /notifications/share token": Entry(ANY_USER, body=fixed(
        {"url": "https://example.com/a", "title": "A page"})),
    # Personal shares go to friends only (not upstream's rule: it had no check).
    "POST /notifications/share/personal token": Entry(expect(400, 200, 403, 403, 401, 401), body=lambda ctx, who: {
        "sent_to": ctx.owner.id, "url": "https://example.com/b", "title": "B page"}),
    "GET /notifications/share token": Entry(ANY_USER),
    "GET /notifications/share/sent token": Entry(ANY_USER),
    "POST /notifications/share/read token": Entry(ANY_USER, body=lambda ctx, who: [
        {"event_id": ctx.event_id}]),
    "POST /conversation token": Entry(NOT_SELF, body=lambda ctx, who: {
        "recipientIdArr": [ctx.owner.id], "isGroup": False, "title": ""}),
    "GET /conversation/direct/{userId} token": Entry(ANY_USER),
    "GET /conversations token": Entry(ANY_USER),
    "GET /conversations/{id} token": Entry(MEMBERS, params={"id": "group"}),
    "GET /conversations/{id}/messages token": Entry(MEMBERS, params={"id": "group"},
                                                   query="limit=10&offset=0"),
    "GET /conversations/{id}/participants token": Entry(MEMBERS, params={"id": "group"}),
    # Leaving changes its group's members, so it acts on a group of its own.
    "DELETE /conversations/{id}/participants/me token": Entry(MEMBERS,
                                                             params={"id": "spare_group"}),
    "GET /presence token": Entry(ANY_USER),
    "GET /presence/{userId} token": Entry(FRIENDS),
    "GET /ws public": Entry(expect(*[426] * 6)),
    "GET /ws/chat public": Entry(expect(*[426] * 6)),
    "GET /ws/presence public": Entry(expect(*[426] * 6)),
}

# -- WebSocket paths (upgrade status) and inbound frames -----------------------------------
UPGRADE = expect(101, 101, 101, 101, 401, 401)
WS_PATHS = {
    "WS /ws token": UPGRADE,
    "WS /ws/chat token": UPGRADE,
    "WS /ws/presence token": UPGRADE,
}
ANYONE_CONNECTED = expect(ACCEPTED, ACCEPTED, ACCEPTED, ACCEPTED, 401, 401)
GROUP_MEMBERS = expect(ACCEPTED, REFUSED, ACCEPTED, REFUSED, 401, 401)


class Frame:
    """A frame `frame(ctx, who)` and what each principal gets. Without `effect` the frame
    is accepted when a probe sent after it gets the first error frame (for actions that
    answer nothing and are refused at once); with one, `Matrix.effect_<effect>` decides."""

    def __init__(self, outcomes, frame, effect=None):
        self.outcomes, self.frame, self.effect = outcomes, frame, effect


def in_group(action, temp=False, **extra):
    """A frame about the owner's group; `temp` adds a fresh tempMessageId."""
    def make(ctx, who):
        frame = {"action": action, "conversationId": ctx.group, **extra}
        if temp:
            frame["tempMessageId"] = "matrix-" + uuid.uuid4().hex[:8]
        return frame
    return make


FRAMES = {
    "FRAME heartbeat": Frame(ANYONE_CONNECTED, fixed({"action": "heartbeat"})),
    "FRAME update-presence": Frame(ANYONE_CONNECTED, fixed(
        {"action": "update-presence", "url": "", "title": ""}), effect="own_update"),
    "FRAME send-message": Frame(GROUP_MEMBERS, in_group("send-message", temp=True, content="hello"),
                                effect="echo"),
    "FRAME read-messages": Frame(GROUP_MEMBERS, in_group("read-messages"), effect="read"),
    "FRAME typing": Frame(GROUP_MEMBERS, in_group("typing"), effect="seen_typing"),
    # A fresh token of the socket's own user and session keeps the socket.
    "FRAME authenticate": Frame(ANYONE_CONNECTED, lambda ctx, who: {
        "action": "authenticate", "token": ctx.people[who].token}),
}


def about(person, kind):
    """Whether a frame is a `kind` frame about `person`."""
    return lambda f: f.get("type") == kind and f.get("userId") == person.id


def kind_of(line):
    """WS, FRAME or HTTP: the table a line of `tandem routes` belongs in."""
    first = line.split()[0]
    return first if first in ("WS", "FRAME") else "HTTP"


def no_entry(line):
    return (f"served but no matrix entry: '{line}' (add it to the table of its kind in "
            f"tests/e2e/test_authz_matrix.py)")


def table_problems(lines, table):
    """Served lines without an entry and entries not served, each named."""
    return ([no_entry(line) for line in lines if line not in table]
            + [f"matrix entry for something not served: '{key}' (`tandem routes` does not "
               f"list it)" for key in table if key not in lines])


class Matrix(RealtimeCase):
    node_env = NODE_ENV

    def setUp(self):
        lines = served_routes(NODE_ENV)
        self.http_lines, self.ws_lines, self.frame_lines = (
            [line for line in lines if kind_of(line) == kind] for kind in ("HTTP", "WS", "FRAME"))

    # -- principals ----------------------------------------------------------------------
    def principals(self):
        """Owner, friend (of the owner), member (of the owner's group, not a friend),
        stranger, plus the filler who makes the group a group; the owner has an image."""
        self.owner = self.person("Owen", "Owner")
        self.friend = self.person("Fay", "Friend")
        self.member = self.person("Mel", "Member")
        self.stranger = self.person("Stan", "Stranger")
        self.filler = self.person("Phil", "Filler")
        self.owner.befriend(self.friend)
        self.owner.request(self.filler)
        reply = self.owner.ok("POST", "/conversation", {
            "recipientIdArr": [self.member.id, self.filler.id], "isGroup": True,
            "title": "Matrix"})
        self.group = reply["conversationId"]
        self.spare_group = self.owner.ok("POST", "/conversation", {
            "recipientIdArr": [self.member.id, self.filler.id], "isGroup": True,
            "title": "Matrix spare"})["conversationId"]
        now = int(time.time())
        # Issued two hours ago, expired one hour ago.
        self.expired = mint_token(JWT_KEY, self.owner.id, self.owner.email, ttl_s=3600,
                                  issued_at=now - 7200)
        self.people = {"owner": self.owner, "friend": self.friend, "member": self.member,
                       "stranger": self.stranger}
        # Refused for its expiry, not for anything else about it.
        status, _, text = self.node.request("GET", "/users/me", headers=self.headers("expired"))
        self.assertEqual((status, json.loads(text)), (401, {"detail": "Token expired"}))
        status, _, text = self.node.request("PUT", self.upload_target("owner"), body=png_image(),
                                            headers={"Content-Type": "image/png"})
        self.assertEqual(status, 200, f"the owner's image upload: {text}")

    def headers(self, who):
        if who == "none":
            return {}
        token = self.expired if who == "expired" else self.people[who].token
        return {"Authorization": "Bearer " + token}

    def params(self, entry):
        values = {"id": self.owner.id, "userId": self.owner.id, "user_id": self.owner.id,
                  "user_ids": self.owner.id, "ids": self.owner.id, "q": "Owen",
                  "share_type": "allow", "owner": dir_name(self.owner.id),
                  "file": "profile_image.png", "group": self.group,
                  "spare_group": self.spare_group}
        return {name: values.get(value, value)
                for name, value in {**values, **entry.params}.items()}

    # -- what some bodies and targets need -----------------------------------------------
    def profile(self, who):
        """The whole profile of `who` (the owner's for a client without a valid token)."""
        person = self.people.get(who, self.owner)
        profile = person.ok("GET", "/users/me")
        return {k: v for k, v in profile.items() if k not in ("user_id", "email")}

    def fresh_refresh(self):
        """A refresh token of a login of its own (a refresh rotates it, a logout ends it)."""
        status, _, text = self.node.request("POST", "/auth/login", json.dumps(self.account))
        self.assertEqual(status, 200, text)
        return {"refresh_token": json.loads(text)["refresh_token"]}

    def upload_target(self, who):
        """The owner's image path with the query of `who`'s own upload URL: only the
        owner's URL signs that path."""
        return self.media_target(who, "PUT", lambda person: person.ok(
            "GET", "/users/me/profile-image-upload-url?image_ext=png"))

    def image_target(self, who):
        """The owner's image path with the query of the URL that U13 (public) signs for
        `who`."""
        return self.media_target(who, "GET", lambda person: person.ok(
            "GET", "/users/id/%s/profile-image-url?image_ext=png" % self.owner.id))

    def media_target(self, who, method, url_of):
        """The owner's image path and a query: `url_of(person)`'s for a principal with a
        token, none without one, a signature past its time for an expired token."""
        key = "%s/profile_image.png" % dir_name(self.owner.id)
        if who == "none":
            return "/media/" + key
        if who == "expired":
            url = sign_media_url(MEDIA_KEY, self.node.port, method, key, int(time.time()) - 60)
        else:
            url = url_of(self.people[who])
        return "/media/" + key + "?" + urllib.parse.urlsplit(url).query

    # -- the checks ------------------------------------------------------------------------
    def test_every_route_path_and_frame_the_binary_serves_has_a_matrix_entry(self):
        problems = (table_problems(self.http_lines, ROUTES)
                    + table_problems(self.ws_lines, WS_PATHS)
                    + table_problems(self.frame_lines, FRAMES))
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertTrue(self.http_lines and self.ws_lines and self.frame_lines,
                        "tandem routes lists no route, WebSocket path or frame")

    def test_every_route_answers_every_principal_as_expected(self):
        self.principals()
        self.account = {"email": f"matrix-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
        status, _, text = self.node.request("POST", "/auth/register", json.dumps(self.account))
        self.assertEqual(status, 201, text)
        self.event_id = self.owner.ok("POST", "/notifications/share",
                                      {"url": "https://example.com/e", "title": "E"})
        wrong = []
        for line in self.http_lines:
            entry = ROUTES.get(line)
            if entry is None:
                wrong.append(no_entry(line))
                continue
            method, pattern, _ = line.split()
            for who in PRINCIPALS:
                status, text = self.send(entry, method, pattern, who)
                if status != entry.statuses[who]:
                    wrong.append(f"{line} as {who}: {status}, expected {entry.statuses[who]}"
                                 f" ({text[:160]!r})")
        self.assertEqual(wrong, [], "\n".join(wrong))

    def send(self, entry, method, pattern, who):
        """(status, body text) of `method pattern` sent by `who`."""
        if entry.target is not None:
            target = entry.target(self, who)
        else:
            values = self.params(entry)
            target = "/".join(urllib.parse.quote(values[s[1:-1]], safe="")
                              if s.startswith("{") else s for s in pattern.split("/"))
            if entry.query:
                target += "?" + entry.query
        body = entry.body(self, who) if entry.body is not None else None
        headers = self.headers(who)
        if isinstance(body, bytes):
            headers["Content-Type"] = "image/png"
        elif body is not None:
            body = json.dumps(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers)
            res = conn.getresponse()
            # An image route answers bytes: the text is only for the failure message.
            return res.status, res.read().decode(errors="replace")
        finally:
            conn.close()

    def test_every_websocket_path_and_frame_answers_every_principal_as_expected(self):
        self.principals()
        wrong = []
        for line in self.ws_lines:
            if line not in WS_PATHS:
                wrong.append(no_entry(line))
                continue
            path = line.split()[1]
            for who in PRINCIPALS:
                status, _, body = self.upgrade(path, self.headers(who))
                if status != WS_PATHS[line][who]:
                    wrong.append(f"{line} as {who}: {status}, expected {WS_PATHS[line][who]}"
                                 f" ({body[:160]!r})")

        async def body():
            # The filler posts before each read-messages (so that there is something to
            # read) and watches the group for typing.
            self.watch = await self.filler.connect("/ws", name="filler")
            for line in self.frame_lines:
                entry = FRAMES.get(line)
                if entry is None:
                    wrong.append(no_entry(line))
                    continue
                action = line.split()[1]
                for who in PRINCIPALS:
                    got = await self.frame_outcome(entry, action, who)
                    if got != entry.outcomes[who]:
                        wrong.append(f"{line} as {who}: {got}, expected {entry.outcomes[who]}")
        self.scenario(body)
        self.assertEqual(wrong, [], "\n".join(wrong))

    async def frame_outcome(self, entry, action, who):
        """ACCEPTED, REFUSED (an error frame naming the action) or the upgrade's status
        for a client without a valid token."""
        if who in ("none", "expired"):
            return self.upgrade("/ws", self.headers(who))[0]
        person = self.people[who]
        sock = await person.connect("/ws", name=f"{who} {action}")
        try:
            frame = entry.frame(self, who)
            if entry.effect is None:
                return await self.effect_none(sock, frame)
            return await getattr(self, "effect_" + entry.effect)(person, sock, frame)
        finally:
            await sock.close()

    async def next_of(self, sock, wanted, what):
        """The first frame for which `wanted` is true; other frames are passed over."""
        deadline = time.monotonic() + FRAME_S
        seen = []
        while time.monotonic() < deadline:
            frame = await sock.recv(max(0.01, deadline - time.monotonic()))
            if wanted(frame):
                return frame
            seen.append(frame)
        self.fail(f"{sock.name}: no {what} within {FRAME_S} s; got {seen}")

    async def answer(self, sock, frame, effect):
        """Sends `frame`: ACCEPTED once a frame matching `effect` arrives on `sock`,
        REFUSED on an error frame naming the action first."""
        await sock.send(frame)
        action = frame["action"]
        got = await self.next_of(
            sock, lambda f: effect(f) or (f.get("type") == "error" and f.get("action") == action),
            f"effect of {action} or error")
        return REFUSED if got.get("type") == "error" else ACCEPTED

    async def effect_none(self, sock, frame):
        # No answer when accepted: a probe's error frame comes after any the frame got.
        await sock.send(frame)
        await sock.send({"action": "matrix-probe"})
        error = await self.next_of(sock, lambda f: f.get("type") == "error", "error frame")
        return ACCEPTED if error.get("action") == "matrix-probe" else REFUSED

    async def effect_own_update(self, person, sock, frame):
        # The sender's own sockets get its update.
        return await self.answer(sock, frame, about(person, "update-presence"))

    async def effect_echo(self, person, sock, frame):
        return await self.answer(sock, frame, lambda f: f.get("type") == "new-message"
                                 and f.get("tempMessageId") == frame["tempMessageId"])

    async def effect_read(self, person, sock, frame):
        # Something new to read first; the reader's own sockets hear of its read.
        temp = "filler-" + uuid.uuid4().hex[:8]
        await self.watch.send({"action": "send-message", "tempMessageId": temp,
                               "conversationId": self.group, "content": "read me"})
        await self.next_of(self.watch, lambda f: f.get("tempMessageId") == temp, "echo")
        return await self.answer(sock, frame, about(person, "read-messages"))

    async def effect_seen_typing(self, person, sock, frame):
        # A member's typing reaches the other members (the filler); a refusal, the sender.
        await sock.send(frame)
        seen = asyncio.ensure_future(self.next_of(self.watch, about(person, "typing"),
                                                  "typing frame"))
        refused = asyncio.ensure_future(self.next_of(
            sock, lambda f: f.get("type") == "error" and f.get("action") == frame["action"],
            "error frame"))
        done, pending = await asyncio.wait({seen, refused}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        first = done.pop()
        first.result()  # neither within FRAME_S: the failure of the first to give up
        return ACCEPTED if first is seen else REFUSED
