"""The API description (issue 18): docs/openapi.json, embedded in the binary and served at
GET /openapi.json, is valid OpenAPI 3.1, describes exactly what the binary serves (its
HTTP routes, WebSocket paths and inbound frames, as `tandem routes` lists them), and real
traffic validates against it: every response of a scenario that calls every route (errors
included) against its operation's schema for that status, every request body that
succeeded against the operation's request schema, and every WebSocket frame sent or
received against the frame schemas of its path (`x-websocket` of the path's GET).

Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect), checked with Debian's
python3-jsonschema; the document itself is checked with @apidevtools/swagger-parser
(tests/tools/openapi/validate installs it from its lock file) and with the rules that
validator leaves out for 3.1 (declared path parameters, resolvable $refs, well-formed schemas).
"""
import http.client
import json
import os
import re
import subprocess
import urllib.parse
import uuid

import jsonschema

from tandem import (
    BASE_ENV, FAST_ARGON2, JWT_KEY, MEDIA_KEY, RealtimeCase, Socket, mint_token, path_of,
    png_image, served_routes)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(REPO, "docs", "openapi.json")
VALIDATOR = os.path.join(REPO, "tests", "tools", "openapi", "validate")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
NODE_ENV = {**BASE_ENV, **FAST_ARGON2, "TANDEM_MEDIA_URL_KEY": MEDIA_KEY,
            # One invitation, so that the second is the 429 the scenario validates.
            "TANDEM_USERS_INVITATIONS_MAX": "1"}
# What the scenario must have seen validated beside every operation's success.
ERROR_STATUSES = {400, 401, 403, 404, 405, 409, 426, 429}


def load_document(path=DOCUMENT):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Spec:
    """The document and the checks of traffic against it. Problems are collected (each a
    line naming the request), so that one run lists them all."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver.from_schema(doc)
        self.problems = []
        self.seen = set()          # (METHOD, template, status) validated
        self.frames_in, self.frames_out = set(), set()
        self.inbound = self.ref("#/components/schemas/InboundFrame")

    # -- the document ------------------------------------------------------------------
    def ref(self, pointer):
        return self.resolver.resolve(pointer)[1]

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.ref(node["$ref"])
        return node

    def errors(self, schema, value):
        validator = jsonschema.Draft202012Validator(
            schema, resolver=self.resolver, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in validator.iter_errors(value)]

    def operation(self, method, path):
        """(template, operation) of the documented path that `path` matches best (the
        most literal segments), or (None, None)."""
        segments = path.split("/")
        best = (None, None, -1)
        for template, item in self.doc["paths"].items():
            parts = template.split("/")
            if len(parts) != len(segments) or method.lower() not in item:
                continue
            literal = 0
            for part, seg in zip(parts, segments):
                if part.startswith("{"):
                    if not seg:
                        break
                elif part == seg:
                    literal += 1
                else:
                    break
            else:
                if literal > best[2]:
                    best = (template, item[method.lower()], literal)
        return best[0], best[1]

    # -- traffic -----------------------------------------------------------------------
    def check(self, method, target, status, headers, body, request_body=None):
        """Checks one exchange: `headers` lower-cased, `body` bytes."""
        path = urllib.parse.urlsplit(target).path
        what = f"{method} {path} -> {status}"
        template, operation = self.operation(method, path)
        if operation is None:
            # An unknown route or method: the generic refusal.
            if status not in (404, 405):
                self.problems.append(f"{what}: not documented, yet answered {status}")
                return
            self.seen.add((method, None, status))
            response = self.deref({"$ref": "#/components/responses/Problem"})
        else:
            self.seen.add((method, template, status))
            responses = operation["responses"]
            response = self.deref(responses.get(str(status), responses.get("default")))
        for name, header in response.get("headers", {}).items():
            if header.get("required") and name.lower() not in headers:
                self.problems.append(f"{what}: no {name} header")
        content = response.get("content")
        if not content:
            if body:
                self.problems.append(f"{what}: a body ({len(body)} bytes) where none is documented")
            return
        media = headers.get("content-type", "")
        if media not in content:
            self.problems.append(f"{what}: Content-Type {media!r}, documented {sorted(content)}")
            return
        if media != "application/json":
            return
        if not body and response.get("x-empty-body-is-null"):
            value = None
        else:
            try:
                value = json.loads(body)
            except ValueError:
                self.problems.append(f"{what}: not JSON: {body[:120]!r}")
                return
        for e in self.errors(content[media]["schema"], value):
            self.problems.append(f"{what}: response {e} ({body[:200]!r})")
        if 200 <= status < 300 and request_body is not None and "requestBody" in operation:
            schema = operation["requestBody"]["content"].get("application/json", {}).get("schema")
            if schema is not None:
                for e in self.errors(schema, json.loads(request_body)):
                    self.problems.append(f"{what}: request {e} ({request_body[:200]!r})")

    def check_frame(self, path, direction, frame):
        """An inbound frame against InboundFrame; an outbound one against the frames
        the path's `x-websocket` lists."""
        name = f"{direction} frame on {path}"
        if direction == "inbound":
            self.frames_in.add(frame.get("action"))
            schema = {"$ref": "#/components/schemas/InboundFrame"}
        else:
            self.frames_out.add(frame.get("type"))
            listed = self.doc["paths"][path]["get"]["x-websocket"]["outbound"]
            schema = {"oneOf": listed}
        for e in self.errors(schema, frame):
            self.problems.append(f"{name}: {e} ({json.dumps(frame)[:200]})")

    # -- the frames the document names -------------------------------------------------
    def frame_kinds(self, union, key):
        return set(self.ref("#/components/schemas/" + union)["discriminator"]["mapping"])


class CheckedNode:
    """The class's node, with every request checked against the document: what tandem.py's
    helpers (Person.call) send goes through `request`, which returns what Node.request does."""

    def __init__(self, node, spec):
        self._node, self.spec = node, spec

    def __getattr__(self, name):
        return getattr(self._node, name)

    def exchange(self, method, target, body=None, headers=None):
        """(status, lower-cased headers, body bytes), checked."""
        conn = http.client.HTTPConnection("127.0.0.1", self._node.port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            res = conn.getresponse()
            hdrs = {k.lower(): v for k, v in res.getheaders()}
            data = res.read()
        finally:
            conn.close()
        # A JSON body sent is checked against the request schema if it succeeded.
        sent = body if isinstance(body, str) and _is_json(body) else None
        self.spec.check(method, target, res.status, hdrs, data, sent)
        return res.status, hdrs, data

    def request(self, method, path, body=None, headers=None):
        status, hdrs, data = self.exchange(method, path, body, headers)
        return status, hdrs, data.decode()


def _is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


class CheckedSocket(Socket):
    """A socket whose frames, both ways, are checked against the frame schemas."""

    def __init__(self, test, ws, name, path):
        super().__init__(test, ws, name)
        self.path = path

    async def send(self, frame):
        if isinstance(frame, dict):
            self.test.spec.check_frame(self.path, "inbound", frame)
        await super().send(frame)

    async def recv(self, timeout=3.0):
        frame = await super().recv(timeout)
        self.test.spec.check_frame(self.path, "outbound", frame)
        return frame



class DocumentCase(RealtimeCase):
    node_env = NODE_ENV

    def setUp(self):
        self.doc = load_document()
        self.spec = Spec(self.doc)
        self.node = CheckedNode(type(self).node, self.spec)

    async def open_socket(self, target, headers=None, name=None, port=None):
        plain = await super().open_socket(target, headers, name, port)
        path = target.split("?")[0]
        self.spec.seen.add(("GET", path, 101))
        s = CheckedSocket(self, plain.ws, plain.name, path)
        self.sockets[self.sockets.index(plain)] = s
        return s

    def assert_no_problems(self):
        self.assertEqual(self.spec.problems, [], "\n".join(self.spec.problems))


class Document(DocumentCase):

    def test_the_document_is_valid_openapi_3_1(self):
        out = subprocess.run([VALIDATOR, DOCUMENT], capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("valid: OpenAPI 3.1", out.stdout)
        # What swagger-parser does not check in a 3.1 document.
        problems = document_problems(self.doc)
        self.assertEqual(problems, [], "\n".join(problems))

    def test_the_node_serves_the_document_publicly_and_cacheably(self):
        status, headers, body = self.node.exchange("GET", "/openapi.json")
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertRegex(headers.get("cache-control", ""), r"^public, max-age=\d+$")
        # Not assertEqual: its diff of two 100 KB documents would bury the message.
        self.assertTrue(json.loads(body) == self.doc,
                        "the served document is not docs/openapi.json (rebuild the binary?)")
        self.assert_no_problems()

    def test_the_document_describes_exactly_what_the_binary_serves(self):
        problems = coverage_problems(self.doc, served_routes(NODE_ENV))
        self.assertEqual(problems, [], "\n".join(problems))


def walk(node, where="#"):
    """Every (pointer, dict) of a JSON document."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, f"{where}/{k.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{where}/{i}")


def document_problems(doc):
    """Rules of OpenAPI 3.1 that the schema of the specification cannot express."""
    problems = []
    resolver = jsonschema.RefResolver.from_schema(doc)
    for where, node in walk(doc):
        if isinstance(node.get("$ref"), str):
            try:
                resolver.resolve(node["$ref"])
            except jsonschema.RefResolutionError as e:
                problems.append(f"{where}: $ref {node['$ref']} does not resolve ({e})")
    for name, schema in doc["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append(f"components/schemas/{name}: not a JSON Schema 2020-12: {e.message}")
    operation_ids = []
    for template, item in doc["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", template))
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            operation_ids.append(operation.get("operationId"))
            declared = {p["name"] for p in (resolver.resolve(p["$ref"])[1] if "$ref" in p else p
                                            for p in operation.get("parameters", []))
                        if p["in"] == "path"}
            if declared != names:
                problems.append(f"{method.upper()} {template}: path parameters {sorted(declared)}, "
                                f"the path has {sorted(names)}")
            if "security" not in operation:
                problems.append(f"{method.upper()} {template}: no security (use [] for public)")
    missing_or_twice = [i for i in operation_ids if i is None or operation_ids.count(i) > 1]
    if missing_or_twice:
        problems.append(f"operationIds missing or not unique: {sorted(set(map(str, missing_or_twice)))}")
    return problems


def coverage_problems(doc, lines):
    """Served lines the document lacks and documented things not served. The guard of an
    HTTP line must match the operation's security: `token` bearer, `public` and
    `signed-url` none (a signed URL carries `expires` and `signature`), except on the
    WebSocket paths, public as HTTP routes while their upgrade needs the token."""
    problems = []
    documented = {(m.upper(), t): op for t, item in doc["paths"].items()
                  for m, op in item.items() if m in METHODS}
    ws_documented = {t for (m, t), op in documented.items() if "x-websocket" in op}
    served_http, served_ws, served_frames = {}, set(), set()
    for line in lines:
        kind, rest = line.split()[0], line.split()[1:]
        if kind == "WS":
            served_ws.add(rest[0])
        elif kind == "FRAME":
            served_frames.add(rest[0])
        else:
            served_http[(kind, rest[0])] = rest[1]
    for key, guard in served_http.items():
        op = documented.get(key)
        if op is None:
            problems.append(f"served, not in docs/openapi.json: {' '.join(key)}")
            continue
        schemes = sorted(name for requirement in op.get("security", []) for name in requirement)
        wanted = {"token": ["bearer"], "public": [], "signed-url": []}.get(guard)
        if key[1] in ws_documented:
            wanted = ["bearer", "queryToken"]
        if schemes != wanted:
            problems.append(f"{' '.join(key)} (guard {guard}): documented security {schemes}")
        if guard == "signed-url":
            query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query" and p["required"]}
            if not {"expires", "signature"} <= query:
                problems.append(f"{' '.join(key)}: a signed URL needs expires and signature")
    for key in documented:
        if key not in served_http:
            problems.append(f"documented, not served: {' '.join(key)}")
    if served_ws != ws_documented:
        problems.append(f"WebSocket paths served {sorted(served_ws)}, documented {sorted(ws_documented)}")
    mapping = doc["components"]["schemas"]["InboundFrame"]["discriminator"]["mapping"]
    if served_frames != set(mapping):
        problems.append(f"inbound frames served {sorted(served_frames)}, documented {sorted(mapping)}")
    return problems


class Traffic(DocumentCase):
    """One scenario of real users that calls every documented route, gets each error kind
    and each frame kind; everything it sees is checked against the document."""

    def test_real_responses_validate_against_the_document(self):
        ann, bob, cat, dan = (self.person(n, "Tester") for n in ("Ann", "Bob", "Cat", "Dan"))
        self.operations_and_accounts()
        self.profiles_and_media(ann, bob)
        self.friendships(ann, bob, cat, dan)
        self.shares(ann, bob)
        self.chat(ann, bob, cat)
        self.refusals(ann, dan)
        self.assert_no_problems()
        # Every documented operation answered a success that was checked, and every
        # error kind was seen.
        missing = []
        for template, item in self.doc["paths"].items():
            for method, operation in item.items():
                if method in METHODS and not any(
                        (m, t, s) for (m, t, s) in self.spec.seen
                        if (m, t) == (method.upper(), template) and s < 300):
                    missing.append(f"{method.upper()} {template}")
        self.assertEqual(missing, [], "no success checked for:\n" + "\n".join(missing))
        statuses = {s for (_, _, s) in self.spec.seen}
        self.assertEqual(ERROR_STATUSES - statuses, set(), f"error kinds not seen; saw {statuses}")

    def test_real_websocket_frames_validate_against_the_frame_schemas(self):
        ann, bob = self.person("Ann", "Framer"), self.person("Bob", "Framer")
        ann.befriend(bob)
        ann.share_all()
        bob.share_all()
        cat = self.person("Cat", "Framer")

        async def body():
            a_all = await ann.connect("/ws")
            b_chat = await bob.connect("/ws/chat")
            b_pres = await bob.connect("/ws/presence")
            cid = ann.ok("POST", "/conversation", {
                "recipientIdArr": [bob.id, cat.id], "isGroup": True, "title": "Frames"})["conversationId"]
            await a_all.send({"action": "heartbeat"})
            await a_all.send({"action": "update-presence", "url": "https://example.com/p",
                              "title": "P"})
            await a_all.next_of("update-presence")
            await b_pres.next_of("update-presence")
            temp = "t-" + uuid.uuid4().hex[:8]
            await a_all.send({"action": "send-message", "tempMessageId": temp,
                              "conversationId": cid, "content": "hello"})
            await a_all.next_of("new-message")
            await b_chat.next_of("new-message")
            await b_chat.send({"action": "read-messages", "conversationId": cid})
            await b_chat.next_of("read-messages")
            await a_all.next_of("read-receipt")
            await b_chat.send({"action": "typing", "conversationId": cid})
            await a_all.next_of("typing")
            await b_chat.send({"action": "authenticate", "token": bob.token})
            await b_chat.next_of("authenticated")
            # Not a frame of the document (sent as text, so not checked): an error frame.
            await b_chat.send(json.dumps({"action": "no-such-action"}))
            await b_chat.next_of("error")
            ann.ok("POST", "/notifications/share", {"url": "https://example.com/s", "title": "S"})
            await b_pres.next_of("share-notification")
            # A friend request and its acceptance, each pushed to its addressee.
            dan = self.person("Dan", "Framer")
            d_pres = await dan.connect("/ws/presence")
            dan.request(bob)
            await b_pres.next_of("friend-request")
            bob.accept(dan)
            await d_pres.next_of("friend-accepted")
            # Bob's last presence socket closes: his friends hear of the timeout.
            await b_pres.send({"action": "update-presence", "url": "https://example.com/b",
                               "title": "B"})
            await a_all.next_of("update-presence")
            await b_pres.close()
            await a_all.next_of("presence-timeout")
            bob.ok("DELETE", f"/conversations/{cid}/participants/me")
            await a_all.next_of("participant-left")
            # A token close to its expiry gets the notice at once.
            short = mint_token(JWT_KEY, ann.id, ann.email, ttl_s=61)
            s = await self.open_socket("/ws/chat?Authorization=" + urllib.parse.quote(short, safe=""))
            await s.next_of("token-expiring", timeout=5)
        self.scenario(body)
        self.assert_no_problems()
        self.assertEqual(self.spec.frames_in, self.spec.frame_kinds("InboundFrame", "action"))
        self.assertEqual(self.spec.frames_out, self.spec.frame_kinds("OutboundFrame", "type"))

    # -- the parts of the scenario -----------------------------------------------------
    def operations_and_accounts(self):
        for path in ("/ping", "/healthz", "/readyz", "/metrics", "/openapi.json", "/",
                     "/app/app.js"):
            status, _, _ = self.node.exchange("GET", path)
            self.assertEqual(status, 200, path)
        account = {"email": f"doc-{uuid.uuid4().hex}@example.com", "password": "document-password"}
        pair = self.post_json("/auth/register", account, 201)
        self.post_json("/auth/login", account, 200)
        self.post_json("/auth/login", dict(account, password="wrong-password"), 401)
        fresh = self.post_json("/auth/refresh", {"refresh_token": pair["refresh_token"]}, 200)
        self.post_json("/auth/refresh", {"refresh_token": pair["refresh_token"]}, 401)
        self.post_json("/auth/logout", {"refresh_token": fresh["refresh_token"]}, 204)
        self.post_json("/auth/register", account, 409)

    def post_json(self, path, body, expected):
        status, _, data = self.node.exchange("POST", path, json.dumps(body))
        self.assertEqual(status, expected, f"POST {path}: {data[:200]!r}")
        return json.loads(data) if data else None

    def profiles_and_media(self, ann, bob):
        ann.share_all()
        ann.ok("PUT", "/users/me/domain_array/allow", ["example.com"])
        ann.ok("GET", path_of("users", "id", bob.id))
        ann.ok("GET", path_of("users", "ids", f"{ann.id},{bob.id}"))
        ann.ok("GET", "/domains/share/warnings")
        upload = ann.ok("GET", "/users/me/profile-image-upload-url?image_ext=png")
        target = self.local(upload)
        status, _, data = self.node.exchange("PUT", target, png_image(),
                                             {"Content-Type": "image/png"})
        self.assertEqual(status, 200, data)
        image = bob.ok("GET", path_of("users", "id", ann.id, "profile-image-url"))
        status, _, data = self.node.exchange("GET", self.local(image))
        self.assertEqual((status, data), (200, png_image()))
        bob.ok("GET", path_of("users", "ids", f"{ann.id},{bob.id}", "profile-image-url"))
        status, _, _ = self.node.exchange("GET", self.local(image).replace("signature=", "signature=0"))
        self.assertEqual(status, 403)
        ann.ok("DELETE", "/users/me/profile-image")
        invitation = {"senderFirstName": "Ann", "senderLastName": "Tester",
                      "recipientEmail": "friend@example.com"}
        ann.ok("POST", "/email", invitation)
        self.assertEqual(ann.status("POST", "/email", invitation), 429)

    @staticmethod
    def local(url):
        parts = urllib.parse.urlsplit(url)
        return parts.path + "?" + parts.query

    def friendships(self, ann, bob, cat, dan):
        ann.request(bob)
        self.assertEqual(ann.status("POST", "/friendship/requests", {"user_id2": bob.id}), 409)
        ann.ok("GET", path_of("friendship", "requests", bob.id))
        bob.ok("GET", "/friendship/requests")
        bob.accept(ann)
        ann.ok("GET", path_of("friendship", "check", bob.id))
        cat.request(ann)
        ann.ok("DELETE", path_of("friendship", "requests", cat.id))
        dan.request(ann)
        ann.ok("DELETE", "/friendship/requests")
        cat.request(ann)
        ann.ok("POST", "/friendship/delete", {"user_id1": cat.id, "user_id2": ann.id})
        bob.befriend(cat)
        ann.ok("GET", path_of("friendship", "search", "email", "example.com"))
        ann.ok("GET", path_of("friendship", "search", "name", "Bob"))
        ann.ok("GET", "/friendship/all")
        ann.ok("GET", path_of("users", "id", cat.id, "mutual-friends"))
        ann.ok("GET", path_of("users", "id", cat.id, "mutual-friends", "count"))
        ann.ok("GET", path_of("users", "id", bob.id, "friends"))
        ann.ok("GET", path_of("users", "id", bob.id, "friends", "count"))
        ann.ok("GET", path_of("users", "search", "email", "example.com"))
        ann.ok("GET", path_of("users", "search", "name", "Tester"))

    def shares(self, ann, bob):
        ann.ok("POST", "/notifications/share", {"url": "https://example.com/a", "title": "A"})
        event = ann.ok("POST", "/notifications/share/personal",
                       {"sent_to": bob.id, "url": "https://example.com/b", "title": "B"})
        bob.ok("GET", "/notifications/share")
        bob.ok("GET", "/notifications/share?is_read=false")
        ann.ok("GET", "/notifications/share/sent")
        bob.ok("POST", "/notifications/share/read", [{"event_id": event}])
        ann.ok("GET", "/presence")
        self.assertEqual(ann.ok("GET", path_of("presence", bob.id)), "")
        bob.share_all()

        async def online():
            s = await bob.connect("/ws/presence")
            await s.send({"action": "update-presence", "url": "https://example.com/x",
                          "title": "X"})
            await s.next_of("update-presence")
            self.assertEqual(ann.ok("GET", path_of("presence", bob.id))["title"], "X")
            ann.ok("GET", "/presence")
        self.scenario(online)
        for path in ("/ws", "/ws/chat", "/ws/presence"):
            status, _, _ = self.node.exchange("GET", path, headers={"Authorization": "Bearer " + ann.token})
            self.assertEqual(status, 426, path)

    def chat(self, ann, bob, cat):
        self.assertEqual(ann.ok("GET", path_of("conversation", "direct", bob.id)), "")
        direct = ann.ok("POST", "/conversation", {"recipientIdArr": [bob.id], "isGroup": False,
                                                  "title": ""})["conversationId"]
        ann.ok("GET", path_of("conversation", "direct", bob.id))
        group = ann.ok("POST", "/conversation", {"recipientIdArr": [bob.id, cat.id],
                                                 "isGroup": True, "title": "Doc"})["conversationId"]

        async def talk():
            s = await ann.connect("/ws/chat")
            every = await bob.connect("/ws")
            for cid in (direct, group):
                await s.send({"action": "send-message", "tempMessageId": "d-" + uuid.uuid4().hex[:8],
                              "conversationId": cid, "content": "hi"})
                await s.next_of("new-message")
                await every.next_of("new-message")
        self.scenario(talk)
        ann.ok("GET", "/conversations")
        bob.ok("GET", "/conversations?isRead=false")
        ann.ok("GET", f"/conversations/{group}")
        ann.ok("GET", f"/conversations/{group}/messages?limit=10&offset=0")
        ann.ok("GET", f"/conversations/{group}/messages?after_seq=0")
        ann.ok("GET", f"/conversations/{group}/participants")
        cat.ok("DELETE", f"/conversations/{group}/participants/me")
        self.assertEqual(cat.status("GET", f"/conversations/{group}"), 403)
        self.assertEqual(ann.status("DELETE", f"/conversations/{direct}/participants/me"), 400)

    def refusals(self, ann, dan):
        self.assertEqual(ann.status("POST", "/friendship/requests", "{not json"), 400)
        self.assertEqual(ann.status("GET", path_of("users", "id", "nobody-" + uuid.uuid4().hex)), 404)
        status, _, _ = self.node.exchange("GET", "/users/me")
        self.assertEqual(status, 401)
        status, _, _ = self.node.exchange("GET", "/no/such/route")
        self.assertEqual(status, 404)
        status, _, _ = self.node.exchange("PATCH", "/users/me", "{}", dan.headers)
        self.assertEqual(status, 405)
