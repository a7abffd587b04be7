"""The web client's files (web/, embedded in the binary): GET / and GET /app/{file} answer
exactly the files of web/ with their Content-Type, an ETag that a revalidation turns into
a 304, and the security headers (a Content-Security-Policy of the node's own origin and
its WebSockets, no inline script, no framing); anything else under /app is 404 and reads
no file system."""
import hashlib
import os

from tandem import NodeTestCase

WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
         "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}


def web_files():
    return sorted(os.listdir(WEB_DIR))


class WebClientFiles(NodeTestCase):
    def get(self, target, headers=None):
        return self.node.request("GET", target, headers=headers)

    def assert_secured(self, headers, host):
        policy = headers.get("content-security-policy", "")
        directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in policy.split(";"))
        self.assertEqual(directives.get("default-src"), "'self'", policy)
        self.assertEqual(directives.get("script-src"), "'self'", policy)   # no inline script
        self.assertEqual(directives.get("frame-ancestors"), "'none'", policy)
        self.assertEqual(directives.get("connect-src"),
                         f"'self' ws://{host} wss://{host}", policy)
        self.assertEqual(headers.get("x-frame-options"), "DENY")

    def test_every_file_of_web_is_served_with_its_type_etag_and_security_headers(self):
        host = f"127.0.0.1:{self.node.port}"
        for name in web_files():
            with open(os.path.join(WEB_DIR, name), "rb") as f:
                content = f.read()
            status, headers, body = self.get("/app/" + name, {"Host": host})
            self.assertEqual(status, 200, name)
            self.assertEqual(body.encode(), content, name)
            self.assertEqual(headers["content-type"], TYPES[name.rsplit(".", 1)[1]], name)
            self.assertEqual(headers["etag"], '"%s"' % hashlib.sha256(content).hexdigest()[:20])
            self.assertEqual(headers["cache-control"], "no-cache", name)
            self.assert_secured(headers, host)

    def test_root_is_the_page_with_no_inline_script(self):
        host = f"localhost:{self.node.port}"
        status, headers, body = self.get("/", {"Host": host})
        with open(os.path.join(WEB_DIR, "index.html"), encoding="utf-8") as f:
            self.assertEqual((status, body), (200, f.read()))
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assert_secured(headers, host)
        # Every script of the page is a file of its own ('self'), never inline.
        self.assertNotRegex(body, r"<script(?![^>]*\bsrc=)[^>]*>", "inline script in index.html")

    def test_a_revalidation_with_the_etag_is_304_without_a_body(self):
        _, headers, _ = self.get("/app/app.js")
        etag = headers["etag"]
        for value in (etag, "W/" + etag, '"other", ' + etag, "*"):
            status, headers304, body = self.get("/app/app.js", {"If-None-Match": value})
            self.assertEqual((status, body), (304, ""), value)
            self.assertEqual(headers304["etag"], etag)
            self.assertEqual(headers304["x-frame-options"], "DENY")
        status, _, _ = self.get("/app/app.js", {"If-None-Match": '"stale"'})
        self.assertEqual(status, 200)

    def test_a_host_that_could_inject_a_directive_is_not_echoed_into_the_policy(self):
        status, headers, _ = self.get("/", {"Host": "evil.example; script-src *"})
        self.assertEqual(status, 200)
        policy = headers["content-security-policy"]
        self.assertNotIn("evil", policy)
        self.assertIn("connect-src 'self';", policy)
        self.assertEqual(policy.count("script-src"), 1, policy)

    def test_only_the_embedded_files_are_served(self):
        for target in ("/app/nope.js", "/app/..%2F..%2FCMakeLists.txt", "/app/%2e%2e",
                       "/app/..%2Fhttp%2Froutes.cpp", "/app/index.html%00.js", "/app/",
                       "/app/APP.JS", "/index.html", "/app/app.js/x", "/web/app.js"):
            status, headers, body = self.get(target)
            self.assertIn(status, (400, 404), target)
            self.assertEqual(headers["content-type"], "application/json", target)
            self.assertIn("detail", body, target)

    def test_the_files_answer_only_get(self):
        for target in ("/", "/app/app.js"):
            status, headers, _ = self.node.request("POST", target, body="{}")
            self.assertEqual(status, 405, target)
            self.assertEqual(headers["allow"], "GET", target)
