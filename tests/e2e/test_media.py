"""Profile images and invitations over real HTTP: the built-in media store that stands in
for S3 presigned URLs (U12-U15) and POST /email (docs/api.md, Profile images and invitations).

Access tokens come from tandem.py (HS256 with the key the node is given); expired media
URLs are signed here with the node's media key, so that no test waits for a clock.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid

from tandem import (
    MediaClient, NodeTestCase, bearer, create_database, dir_name, media_env, png_image,
    required_env)


MAX_BYTES = 2 * 1024 * 1024
# docs/api.md, Conventions: UTC without an offset; the clients append the Z themselves.
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?$"


# A JPEG's first bytes (SOI, APP0/JFIF) are all the store reads to know the format.
JPEG_IMAGE = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


class Media(MediaClient, NodeTestCase):
    @classmethod
    def setUpClass(cls):
        cls.media_dir = tempfile.mkdtemp(prefix="tandem-e2e-media-")
        cls.node_env = media_env(os.path.join(cls.media_dir, "store"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.media_dir, ignore_errors=True)

    # -- U12, PUT, GET, U15 ----------------------------------------------------------

    def test_an_uploaded_png_comes_back_byte_identical_and_delete_removes_it(self):
        user = self.new_user()
        url = self.upload_url(user, "png")
        self.assertIn("/media/%s/profile_image.png?expires=" % user, url)
        image = png_image()
        status, _, body = self.put_image(url, image)
        self.assertEqual((status, body), (200, b""))

        status, profile = self.call("GET", "/users/me", bearer(user))
        self.assertEqual(status, 200, profile)
        self.assertEqual(profile["profile_image_extension"], "png")
        self.assertRegex(profile["profile_image_uploaded_at"], TIMESTAMP)
        self.assertNotIn("+00:00", profile["profile_image_uploaded_at"])

        status, get_url = self.image_url(user)
        self.assertEqual(status, 200, get_url)
        status, hdrs, body = self.media("GET", get_url)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["content-type"], "image/png")
        self.assertEqual(body, image)
        self.assertEqual(self.stored_files(user), [user + "/profile_image.png"])

        status, answer = self.call("DELETE", "/users/me/profile-image", bearer(user))
        self.assertEqual((status, answer), (200, {"success": True}))
        status, _, _ = self.media("GET", get_url)
        self.assertEqual(status, 404)
        self.assertEqual(self.stored_files(user), [])
        _, profile = self.call("GET", "/users/me", bearer(user))
        self.assertIsNone(profile["profile_image_extension"])
        self.assertIsNone(profile["profile_image_uploaded_at"])
        status, _ = self.image_url(user)
        self.assertEqual(status, 404)

    def test_delete_removes_the_stored_extension_not_always_the_png(self):
        user = self.new_user()
        status, _, _ = self.put_image(self.upload_url(user, "jpg"), JPEG_IMAGE, "image/jpeg")
        self.assertEqual(status, 200)
        self.assertEqual(self.stored_files(user), [user + "/profile_image.jpg"])
        status, _, body = self.media("GET", self.image_url(user)[1])
        self.assertEqual((status, body), (200, JPEG_IMAGE))
        status, _ = self.call("DELETE", "/users/me/profile-image", bearer(user))
        self.assertEqual(status, 200)
        self.assertEqual(self.stored_files(user), [])

    def test_a_new_upload_replaces_the_image_of_another_format(self):
        user = self.new_user()
        self.put_image(self.upload_url(user, "png"), png_image())
        status, _, _ = self.put_image(self.upload_url(user, "jpeg"), JPEG_IMAGE, "image/jpeg")
        self.assertEqual(status, 200)
        self.assertEqual(self.stored_files(user), [user + "/profile_image.jpeg"])

    def test_an_upload_larger_than_http_body_limit_but_within_media_max_bytes_is_stored(self):
        user = self.new_user()
        image = png_image(padding=MAX_BYTES - 4096)
        self.assertGreater(len(image), 1024 * 1024)
        status, _, body = self.put_image(self.upload_url(user), image)
        self.assertEqual(status, 200, body)
        status, _, body = self.media("GET", self.image_url(user)[1])
        self.assertEqual((status, body), (200, image))

    def test_an_upload_over_media_max_bytes_is_413_before_its_body_is_read(self):
        user = self.new_user()
        parts = urllib.parse.urlsplit(self.upload_url(user))
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            # Headers only: the node must refuse by the declared length, not after reading.
            s.sendall(("PUT %s?%s HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                       "Content-Length: %d\r\n\r\n" % (parts.path, parts.query, MAX_BYTES + 1))
                      .encode())
            status, _, body = self.read_response(s)
        self.assertEqual(status, 413)
        self.assertIn(str(MAX_BYTES), json.loads(body)["detail"])
        self.assertEqual(self.stored_files(user), [])

    def test_a_jpeg_labelled_png_and_other_mismatches_are_refused(self):
        user = self.new_user()
        url = self.upload_url(user, "png")
        cases = [
            (JPEG_IMAGE, "image/png"),       # the bytes say JPEG, the label PNG
            (JPEG_IMAGE, "image/jpeg"),      # honest label, but the URL is for a .png
            (png_image(), "image/jpeg"),     # a PNG labelled JPEG
            (b"GIF89a" + b"\x00" * 32, "image/png"),
            (png_image(), "text/html"),
            (png_image(), None),
        ]
        for data, content_type in cases:
            with self.subTest(content_type=content_type, head=data[:4]):
                headers = {"Content-Type": content_type} if content_type else {}
                status, hdrs, body = self.media("PUT", url, data, headers)
                self.assertEqual(status, 415, body)
                self.assertIn("detail", json.loads(body))
        status, _, body = self.put_image(url, b"")
        self.assertEqual(status, 400, body)
        self.assertEqual(self.stored_files(user), [])

    def test_tampered_expired_and_missing_signatures_are_403(self):
        user = self.new_user()
        url = self.upload_url(user, "png")
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        sig = query["signature"][0]
        flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        tampered = [
            url.replace(sig, flipped),
            url.replace("expires=%s" % query["expires"][0],
                        "expires=%d" % (int(query["expires"][0]) + 3600)),
            url.replace("profile_image.png", "profile_image.jpg"),
            url.replace("/media/" + user, "/media/" + user + "x"),
            url.split("?")[0],
            url.split("&signature=")[0],
        ]
        for bad in tampered:
            with self.subTest(url=bad):
                status, _, body = self.put_image(bad, png_image())
                self.assertEqual(status, 403, body)
                self.assertIn("signature", json.loads(body)["detail"])
        # A PUT URL is no GET URL.
        status, _, _ = self.media("GET", url)
        self.assertEqual(status, 403)
        # Well signed but past its expiry.
        expired = self.signed("PUT", user + "/profile_image.png", int(time.time()) - 1)
        status, _, body = self.put_image(expired, png_image())
        self.assertEqual(status, 403, body)
        self.assertIn("expired", json.loads(body)["detail"])
        # The same signing in the future is accepted: the test signs as the node does.
        status, _, _ = self.put_image(
            self.signed("PUT", user + "/profile_image.png", int(time.time()) + 60), png_image())
        self.assertEqual(status, 200)

    def test_the_upload_url_needs_a_token_a_profile_and_a_known_extension(self):
        status, _ = self.call("GET", "/users/me/profile-image-upload-url?image_ext=png")
        self.assertEqual(status, 401)
        stranger = bearer("e2e-" + uuid.uuid4().hex)
        status, body = self.call("GET", "/users/me/profile-image-upload-url?image_ext=png",
                                 stranger)
        self.assertEqual((status, body), (404, {"detail": "User not found"}))
        user = self.new_user()
        for query in ("", "?image_ext=", "?image_ext=gif", "?image_ext=png%2F..%2Fx"):
            with self.subTest(query=query):
                status, body = self.call("GET", "/users/me/profile-image-upload-url" + query,
                                         bearer(user))
                self.assertEqual(status, 400, body)
        # Upper case is the same extension.
        status, url = self.call("GET", "/users/me/profile-image-upload-url?image_ext=PNG",
                                bearer(user))
        self.assertEqual(status, 200)
        self.assertIn("profile_image.png?", url)
        status, _ = self.call("DELETE", "/users/me/profile-image")
        self.assertEqual(status, 401)

    def test_a_hostile_user_id_cannot_escape_the_media_directory(self):
        user = self.new_user("../escape/%2e%2e/" + uuid.uuid4().hex[:8])
        url = self.upload_url(user)
        status, _, _ = self.put_image(url, png_image())
        self.assertEqual(status, 200)
        self.assertEqual(self.stored_files(user), [dir_name(user) + "/profile_image.png"])
        # Nothing was written beside the store, where "../.." would have led.
        self.assertEqual(os.listdir(self.media_dir), ["store"])
        status, _, body = self.media("GET", self.image_url(user)[1])
        self.assertEqual((status, body), (200, png_image()))
        self.call("DELETE", "/users/me/profile-image", bearer(user))

    # -- U13, U14 ----------------------------------------------------------------------

    def test_image_urls_for_one_and_for_many_users(self):
        with_image = self.new_user()
        self.put_image(self.upload_url(with_image), png_image())
        without = self.new_user()

        status, url = self.image_url(with_image)
        self.assertEqual(status, 200)
        self.assertRegex(url, r"/media/%s/profile_image\.png\?expires=\d+&signature=[0-9a-f]{64}$"
                         % with_image)
        status, body = self.image_url(without)
        self.assertEqual((status, body), (404, {"detail": "No profile image"}))
        status, _ = self.image_url(with_image, "gif")
        self.assertEqual(status, 400)

        ids = "%s,%s" % (with_image, without)
        status, urls = self.call("GET", "/users/ids/%s/profile-image-url?image_ext_arr=png,png"
                                 % ids)
        self.assertEqual(status, 200, urls)
        self.assertEqual(list(urls), [with_image])
        status, _, body = self.media("GET", urls[with_image])
        self.assertEqual((status, body), (200, png_image()))

        status, body = self.call("GET", "/users/ids/%s/profile-image-url?image_ext_arr=png" % ids)
        self.assertEqual(status, 400, body)
        status, _ = self.call("GET", "/users/ids/%s/profile-image-url?image_ext_arr=png,bmp" % ids)
        self.assertEqual(status, 400)
        many = ",".join("u%d" % i for i in range(101))
        status, body = self.call("GET", "/users/ids/%s/profile-image-url" % many)
        self.assertEqual(status, 400, body)

    def test_an_upload_url_is_preflighted_for_the_headers_the_clients_send(self):
        status, hdrs, _ = self.node.request("OPTIONS", "/media/x/profile_image.png", headers={
            "Origin": "chrome-extension://abcdefghijklmnop",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-amz-acl"})
        self.assertEqual(status, 204)
        self.assertIn("PUT", hdrs["access-control-allow-methods"])
        allowed = hdrs["access-control-allow-headers"].lower()
        self.assertIn("content-type", allowed)
        self.assertIn("x-amz-acl", allowed)

    # -- POST /email ---------------------------------------------------------------------

    def outbox(self, sender):
        out = self.node_psql("SELECT sender_first_name, sender_last_name, recipient_email "
                             "FROM email_outbox WHERE sender_user_id = '%s' ORDER BY id" % sender)
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def node_psql(self, sql):
        return subprocess.run(["psql", self.node.db_dsn, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                              check=True, capture_output=True, text=True).stdout

    def test_an_invitation_is_queued_and_bad_input_answers_failed(self):
        user = "e2e-" + uuid.uuid4().hex
        invite = {"senderFirstName": "Grace", "senderLastName": "Hopper",
                  "recipientEmail": "friend@example.com", "extra": "ignored"}
        status, body = self.call("POST", "/email", bearer(user), invite)
        self.assertEqual((status, body), (200, {"result": "Success"}))
        self.assertEqual(self.outbox(user), [("Grace", "Hopper", "friend@example.com")])

        failing = [
            dict(invite, recipientEmail="not-an-address"),
            dict(invite, recipientEmail="a@b"),
            dict(invite, senderFirstName="x" * 51),
            dict(invite, senderLastName=""),
            dict(invite, senderLastName="\u200b"),
            dict(invite, senderFirstName="\u202eecarG"),
            dict(invite, senderFirstName="Grace\r\nBcc: x@example.com"),
            {k: v for k, v in invite.items() if k != "recipientEmail"},
            dict(invite, recipientEmail=42),
        ]
        for body_in in failing:
            with self.subTest(body=body_in):
                status, body = self.call("POST", "/email", bearer(user), body_in)
                self.assertEqual((status, body), (200, {"result": "Failed"}))
        self.assertEqual(len(self.outbox(user)), 1)
        # Fifty characters of any script are fine.
        status, body = self.call("POST", "/email", bearer(user),
                                 dict(invite, senderFirstName="\u00e9" * 50))
        self.assertEqual((status, body), (200, {"result": "Success"}))

        status, _ = self.call("POST", "/email", None, invite)
        self.assertEqual(status, 401)
        status, body = self.call("POST", "/email", bearer(user), "not json")
        self.assertEqual(status, 400, body)


class MediaStartUp(unittest.TestCase):
    def test_a_media_dir_that_cannot_be_created_stops_start_up_with_one_clear_line(self):
        with tempfile.NamedTemporaryFile() as blocker:
            env = dict(os.environ, TANDEM_DB_DSN=create_database(), TANDEM_HTTP_PORT="0",
                       TANDEM_MEDIA_DIR=os.path.join(blocker.name, "media"))
            result = subprocess.run([required_env("TANDEM_TEST_BIN"), "serve"], env=env,
                                    capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
        self.assertIn("media.dir", result.stderr)


if __name__ == "__main__":
    unittest.main()
