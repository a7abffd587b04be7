"""One user's expensive reads against the database queue (issue 15, item 2): searches
past db.max_search_offset are refused, a user's concurrent searches are bounded by
db.max_expensive_per_user (429 with Retry-After), and another user's requests keep
answering fast while one user floods the node with searches."""
import json
import threading
import time
import unittest
import uuid

from tandem import NodeTestCase, mint_token, psql


JWT_KEY = "e2e-overload-signing-key-" + "k" * 32
MAX_OFFSET = 1000
MAX_EXPENSIVE = 2
# Enough matching users that ranking them costs the database real work per search.
SEEDED = 50000


def bearer(user_id):
    return {"Authorization": "Bearer " + mint_token(JWT_KEY, user_id, user_id + "@example.com")}


class Overload(NodeTestCase):
    node_env = {
        "TANDEM_AUTH_JWT_KEY": JWT_KEY,
        "TANDEM_DB_POOL_SIZE": "2",
        "TANDEM_DB_MAX_SEARCH_OFFSET": str(MAX_OFFSET),
        "TANDEM_DB_MAX_EXPENSIVE_PER_USER": str(MAX_EXPENSIVE),
        "TANDEM_LOG_REQUESTS": "false",
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        psql(cls.node.db_dsn,
             "INSERT INTO users (user_id, email, first_name, last_name) "
             "SELECT 'seed-' || i, 'seed' || i || '@example.com', 'Seed' || i, 'Seedling' "
             f"FROM generate_series(1, {SEEDED}) AS i")

    def new_user(self):
        user_id = "e2e-" + uuid.uuid4().hex
        status, _, body = self.node.request(
            "POST", "/users/me", json.dumps({"first_name": "Ann", "last_name": "Lee"}),
            bearer(user_id))
        self.assertEqual(status, 200, body)
        return user_id

    def search(self, user_id, offset):
        return self.node.request("GET", "/users/search/name/seed?offset=%d" % offset,
                                 headers=bearer(user_id))

    def test_a_search_offset_past_the_limit_is_400(self):
        user = self.new_user()
        status, _, body = self.search(user, MAX_OFFSET)
        self.assertEqual(status, 200, body)
        for offset in (MAX_OFFSET + 1, 2147483647):
            status, _, body = self.search(user, offset)
            self.assertEqual(status, 400, body)
            self.assertIn("offset must be at most %d" % MAX_OFFSET, json.loads(body)["detail"])

    def test_one_users_search_flood_is_bounded_and_others_answer_fast(self):
        flooder, other = self.new_user(), self.new_user()
        statuses, retry_after, lock = [], [], threading.Lock()
        stop = threading.Event()

        def flood():
            while not stop.is_set():
                status, headers, _ = self.search(flooder, MAX_OFFSET)
                with lock:
                    statuses.append(status)
                    if status == 429:
                        retry_after.append(headers.get("retry-after"))

        threads = [threading.Thread(target=flood) for _ in range(24)]
        for t in threads:
            t.start()
        latencies = []
        try:
            # Another user's reads of the same kind, one at a time, during the flood.
            for _ in range(20):
                began = time.monotonic()
                status, _, body = self.search(other, 0)
                latencies.append(time.monotonic() - began)
                self.assertEqual(status, 200, body)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertIn(429, statuses)
        self.assertTrue(set(statuses) <= {200, 429}, sorted(set(statuses)))
        self.assertTrue(all(r is not None and int(r) >= 1 for r in retry_after), retry_after)
        # Behind an unbounded flood, each of these would wait for up to 24 searches.
        self.assertLess(max(latencies), 1.0, latencies)
        self.assertGreaterEqual(statuses.count(200), 1)


if __name__ == "__main__":
    unittest.main()
