"""The HTTP front over real sockets: routes, error shapes, CORS, limits, logs, metrics."""
import json
import http.client
import unittest

from tandem import NodeTestCase



class HttpFront(NodeTestCase):
    node_env = {"TANDEM_HTTP_BODY_LIMIT": "1024"}

    def test_ping_answers_pong_with_a_request_id(self):
        status, headers, body = self.get_json("/ping")
        self.assertEqual(status, 200)
        self.assertEqual(body, "pong")
        self.assertRegex(headers["x-request-id"], r"^[0-9a-f]{16}$")

    def test_a_plain_client_request_id_is_echoed_and_a_hostile_one_replaced(self):
        _, headers, _ = self.node.request("GET", "/ping", headers={"X-Request-Id": "abc-123"})
        self.assertEqual(headers["x-request-id"], "abc-123")
        _, headers, _ = self.node.request("GET", "/ping", headers={"X-Request-Id": "a b\"c"})
        self.assertRegex(headers["x-request-id"], r"^[0-9a-f]{16}$")

    def test_unknown_route_is_404_with_detail(self):
        status, _, body = self.get_json("/no/such/route")
        self.assertEqual((status, body), (404, {"detail": "Not Found"}))

    def test_wrong_method_is_405_with_allow(self):
        status, headers, body = self.node.request("DELETE", "/ping")
        self.assertEqual(status, 405)
        self.assertEqual(json.loads(body), {"detail": "Method Not Allowed"})
        self.assertEqual(headers["allow"], "GET")

    def test_body_over_the_limit_is_413_with_detail(self):
        status, _, body = self.node.request("POST", "/ping", body="x" * 4096,
                                            headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 413)
        self.assertIn("1024", json.loads(body)["detail"])

    def test_malformed_http_is_400_with_detail_and_the_node_keeps_serving(self):
        reply = self.node.raw(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
        self.assertTrue(reply.startswith("HTTP/1.1 400"), reply)
        self.assertIn('"detail"', reply)
        status, _, _ = self.get_json("/ping")
        self.assertEqual(status, 200)

    def test_bad_percent_encoding_in_the_path_is_400(self):
        status, _, body = self.get_json("/users/id/%zz")
        self.assertEqual(status, 400)
        self.assertIn("percent", body["detail"])

    def test_preflight_from_an_extension_origin_is_answered(self):
        origin = "chrome-extension://abcdefghijklmnop"
        status, headers, _ = self.node.request("OPTIONS", "/ping", headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,content-type"})
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], origin)
        self.assertEqual(headers["access-control-allow-credentials"], "true")
        self.assertIn("Authorization", headers["access-control-allow-headers"])
        self.assertIn("GET", headers["access-control-allow-methods"])

    def test_responses_echo_the_origin_even_for_errors(self):
        origin = "https://app.example"
        _, headers, _ = self.node.request("GET", "/nope", headers={"Origin": origin})
        self.assertEqual(headers["access-control-allow-origin"], origin)

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=5)
        try:
            for _ in range(3):
                conn.request("GET", "/healthz")
                res = conn.getresponse()
                self.assertEqual(res.status, 200)
                res.read()
        finally:
            conn.close()

    def test_readyz_is_200_when_postgres_redis_and_migrations_are_fine(self):
        status, _, body = self.get_json("/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["checks"], {"postgres": "ok", "redis": "ok", "migrations": "ok"})

    def test_metrics_count_requests_by_route_and_status(self):
        self.node.request("GET", "/ping")
        self.node.request("GET", "/no/such/route")
        status, headers, text = self.node.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertRegex(text, r'tandem_http_requests_total\{method="GET",route="/ping",'
                               r'status="200"\} [1-9]')
        self.assertRegex(text, r'tandem_http_requests_total\{method="GET",route="unmatched",'
                               r'status="404"\} [1-9]')
        self.assertIn('tandem_http_request_duration_seconds_bucket{method="GET",route="/ping",'
                      'le="+Inf"}', text)

    def test_each_request_is_logged_as_one_json_line(self):
        _, headers, _ = self.node.request("GET", "/healthz")
        rid = headers["x-request-id"]
        entry = self.node.wait_for(lambda: next(
            (e for e in self.node.logs if e.get("request_id") == rid), None), timeout=5)
        self.assertEqual(entry["msg"], "request")
        self.assertEqual(entry["method"], "GET")
        self.assertEqual(entry["route"], "/healthz")
        self.assertEqual(entry["status"], 200)
        self.assertIsInstance(entry["latency_ms"], (int, float))
        self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


if __name__ == "__main__":
    unittest.main()
