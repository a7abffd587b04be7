"""Budgets of writes (issue 15, item 3), each at its limit and one past it, against a real
node: registrations per client address, the hashing workers that logins keep while
registrations flood the node, shares, e-mail invitations and token refreshes per user.
Past a budget: 429 with Retry-After and a plain {"detail"}; the refusals are counted on
/metrics by route and status.
"""
import http.client
import json
import random
import subprocess
import threading
import time
import unittest
import uuid

from tandem import NodeTestCase, mint_token


JWT_KEY = "e2e-budgets-signing-key-" + "b" * 32
FAST_ARGON2 = {"TANDEM_AUTH_ARGON2_MEMORY_KIB": "1024", "TANDEM_AUTH_ARGON2_ITERATIONS": "1"}
PASSWORD = "correct horse battery"


def new_email():
    return "e2e-" + uuid.uuid4().hex[:16] + "@example.com"


def new_address():
    """A loopback address of this test alone: per-address counters live in the Redis that
    every test shares."""
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254),
                             random.randint(1, 254))


class BudgetCase(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY}

    def call(self, method, path, body=None, headers=None, source=None):
        """(status, lower-case headers, parsed JSON or None); `source` binds the client's
        address."""
        conn = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=20,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=headers or {})
            res = conn.getresponse()
            text = res.read().decode()
            return (res.status, {k.lower(): v for k, v in res.getheaders()},
                    json.loads(text) if text else None)
        finally:
            conn.close()

    def assert_past_budget(self, answer, detail, longest_wait, shortest_wait=1):
        status, headers, body = answer
        self.assertEqual(status, 429, body)
        self.assertEqual(body, {"detail": detail})
        self.assertIn("retry-after", headers)
        self.assertGreaterEqual(int(headers["retry-after"]), shortest_wait, headers)
        self.assertLessEqual(int(headers["retry-after"]), longest_wait, headers)

    def refusals(self, method, route):
        """429s the node counted for `route` on /metrics."""
        status, _, text = self.node.request("GET", "/metrics")
        self.assertEqual(status, 200)
        series = 'tandem_http_requests_total{method="%s",route="%s",status="429"} ' % (
            method, route)
        for line in text.splitlines():
            if line.startswith(series):
                return int(line[len(series):])
        return 0

    def register(self, source, email=None):
        return self.call("POST", "/auth/register",
                         {"email": email or new_email(), "password": PASSWORD}, source=source)


class RegistrationBudget(BudgetCase):
    node_env = dict(BudgetCase.node_env, **FAST_ARGON2,
                    TANDEM_AUTH_REGISTER_MAX_PER_ADDRESS="3",
                    TANDEM_AUTH_REGISTER_WINDOW_S="600")

    def test_registrations_from_one_address_past_the_budget_are_429(self):
        source = new_address()
        # Malformed bodies are refused before counting.
        for _ in range(5):
            status, _, body = self.call("POST", "/auth/register", {"email": "x"}, source=source)
            self.assertEqual(status, 400, body)
        taken = new_email()
        self.assertEqual(self.register(source, taken)[0], 201)
        # A taken email costs an attempt too: registration must not probe emails for free.
        self.assertEqual(self.register(source, taken)[0], 409)
        self.assertEqual(self.register(source)[0], 201)   # the third: at the limit
        for _ in range(2):                               # past it, and again
            self.assert_past_budget(self.register(source),
                                    "Too many registrations from this address; try again later",
                                    600, 590)
        self.assertEqual(self.refusals("POST", "/auth/register"), 2)
        # Another address registers; the throttled one still logs in.
        self.assertEqual(self.register(new_address())[0], 201)
        status, _, body = self.call("POST", "/auth/login", {"email": taken, "password": PASSWORD},
                                    source=source)
        self.assertEqual(status, 200, body)


class LoginsKeepHashingWorkers(BudgetCase):
    # Real argon2 costs, two workers and a short queue: a registration flood fills what
    # registrations may use, and logins still find a worker or a queue slot.
    node_env = dict(BudgetCase.node_env, TANDEM_AUTH_HASHER_THREADS="2",
                    TANDEM_AUTH_HASHER_QUEUE_LIMIT="2", TANDEM_AUTH_HASHER_LOGIN_RESERVE="1",
                    TANDEM_AUTH_REGISTER_MAX_PER_ADDRESS="1000000",
                    TANDEM_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS="1000000",
                    TANDEM_LOG_REQUESTS="false")
    FLOODERS = 16
    LOGINS = 12

    def test_a_registration_flood_never_makes_a_login_answer_503(self):
        email = new_email()
        self.assertEqual(self.register(new_address(), email)[0], 201)
        stop = threading.Event()
        answers = []                       # (status, retry-after) of every flood request
        lock = threading.Lock()

        def flood():
            source = new_address()
            deadline = time.monotonic() + 60   # bounded, whatever happens
            while not stop.is_set() and time.monotonic() < deadline:
                status, headers, _ = self.register(source)
                with lock:
                    answers.append((status, headers.get("retry-after")))

        threads = [threading.Thread(target=flood) for _ in range(self.FLOODERS)]
        for t in threads:
            t.start()
        try:
            # Logins start once the flood is refused: registrations hold their whole share.
            self.node.wait_for(lambda: any(s == 503 for s, _ in list(answers)), timeout=30)
            logins = [self.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
                      for _ in range(self.LOGINS)]
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual([(s, b.get("detail") if s != 200 else None) for s, _, b in logins],
                         [(200, None)] * self.LOGINS)
        statuses = {s for s, _ in answers}
        self.assertLessEqual(statuses, {201, 503}, statuses)
        self.assertIn(201, statuses)
        self.assertTrue(all(r == "1" for s, r in answers if s == 503), answers)


class ShareBudget(BudgetCase):
    node_env = dict(BudgetCase.node_env, TANDEM_USERS_SHARES_PER_HOUR="1",
                    TANDEM_USERS_SHARES_BURST="3")

    def person(self, first):
        user_id = str(uuid.uuid4())
        headers = {"Authorization": "Bearer " + mint_token(JWT_KEY, user_id,
                                                           user_id + "@example.com")}
        status, _, body = self.call("POST", "/users/me",
                                    {"first_name": first, "last_name": "Lee"}, headers)
        self.assertEqual(status, 200, body)
        return user_id, headers

    def test_shares_past_the_burst_are_429_general_and_personal_alike(self):
        ann, ann_h = self.person("Ann")
        bob, bob_h = self.person("Bob")
        self.assertEqual(self.call("POST", "/friendship/requests", {"user_id2": bob}, ann_h)[0], 200)
        self.assertEqual(self.call("POST", "/friendship/accept", {"user_id1": ann}, bob_h)[0], 200)
        page = {"url": "https://example.com/a", "title": "A page"}
        personal = dict(page, sent_to=bob)
        # A refused body costs nothing.
        self.assertEqual(self.call("POST", "/notifications/share", {"url": "x"}, ann_h)[0], 400)
        for path, body in (("/notifications/share", page),
                           ("/notifications/share/personal", personal),
                           ("/notifications/share", page)):       # the third: at the limit
            status, _, reply = self.call("POST", path, body, ann_h)
            self.assertEqual(status, 200, reply)
        # One token an hour: the next one is about an hour away.
        for path, body in (("/notifications/share", page),
                           ("/notifications/share/personal", personal)):
            self.assert_past_budget(self.call("POST", path, body, ann_h),
                                    "Too many shares; try again later", 3600, 3500)
        self.assertEqual(self.refusals("POST", "/notifications/share"), 1)
        self.assertEqual(self.refusals("POST", "/notifications/share/personal"), 1)
        status, _, unread = self.call("GET", "/notifications/share?is_read=false", None, bob_h)
        self.assertEqual((status, len(unread)), (200, 3))
        # Bob's budget is his own.
        status, _, reply = self.call("POST", "/notifications/share", page, bob_h)
        self.assertEqual(status, 200, reply)


class InvitationBudget(BudgetCase):
    node_env = dict(BudgetCase.node_env, TANDEM_USERS_INVITATIONS_MAX="3",
                    TANDEM_USERS_INVITATIONS_WINDOW_S="600")

    def sender(self):
        user_id = str(uuid.uuid4())
        return user_id, {"Authorization": "Bearer " + mint_token(JWT_KEY, user_id,
                                                                 user_id + "@example.com")}

    def invite(self, headers, recipient=None):
        return self.call("POST", "/email",
                         {"senderFirstName": "Ann", "senderLastName": "Lee",
                          "recipientEmail": recipient or new_email()}, headers)

    def test_invitations_past_the_budget_are_429_and_queue_nothing(self):
        ann, ann_h = self.sender()
        # One the node cannot send costs nothing.
        self.assertEqual(self.invite(ann_h, "not-an-address")[2], {"result": "Failed"})
        for _ in range(3):
            status, _, body = self.invite(ann_h)
            self.assertEqual((status, body), (200, {"result": "Success"}))
        for _ in range(2):
            self.assert_past_budget(self.invite(ann_h), "Too many invitations; try again later",
                                    600, 590)
        self.assertEqual(self.refusals("POST", "/email"), 2)
        queued = subprocess.run(
            ["psql", self.node.db_dsn, "-tAc",
             "SELECT count(*) FROM email_outbox WHERE sender_user_id = '%s'" % ann],
            check=True, capture_output=True, text=True).stdout
        self.assertEqual(queued.strip(), "3")
        bob, bob_h = self.sender()
        self.assertEqual(self.invite(bob_h)[:3:2], (200, {"result": "Success"}))


class RefreshBudget(BudgetCase):
    # One token every 5 s, 3 at once: four refreshes in a row pass the burst whatever
    # the machine's speed, and the wait after the refusal is short.
    node_env = dict(BudgetCase.node_env, **FAST_ARGON2, TANDEM_AUTH_REFRESHES_PER_HOUR="720",
                    TANDEM_AUTH_REFRESHES_BURST="3")

    def refresh(self, token):
        return self.call("POST", "/auth/refresh", {"refresh_token": token})

    def test_refreshes_of_one_user_past_the_burst_are_429_and_the_token_stays_valid(self):
        email = new_email()
        status, _, pair = self.register(new_address(), email)
        self.assertEqual(status, 201, pair)
        token = pair["refresh_token"]
        for _ in range(3):
            status, _, pair = self.refresh(token)
            self.assertEqual(status, 200, pair)
            token = pair["refresh_token"]
        self.assert_past_budget(self.refresh(token), "Too many token refreshes; try again later",
                                5)
        # The budget is the user's: a second session of the same user is refused too.
        status, _, second = self.call("POST", "/auth/login",
                                      {"email": email, "password": PASSWORD})
        self.assertEqual(status, 200, second)
        self.assert_past_budget(self.refresh(second["refresh_token"]),
                                "Too many token refreshes; try again later", 5)
        self.assertEqual(self.refusals("POST", "/auth/refresh"), 2)
        # Another user is not affected.
        status, _, other = self.register(new_address())
        self.assertEqual(self.refresh(other["refresh_token"])[0], 200)
        # The refused token was left as it was: once a token is back, it rotates (a
        # rotated or revoked one would be 401).
        answers = []
        self.node.wait_for(lambda: answers.append(self.refresh(token)) or answers[-1][0] != 429,
                           timeout=15)
        self.assertEqual(answers[-1][0], 200, answers[-1])


if __name__ == "__main__":
    unittest.main()
