"""Profiles over real HTTP (docs/api.md, Profiles: U2-U7, U18): exact key sets, null rules,
validation, timestamps, and the 404 that the clients read as "not registered yet".

Access tokens are minted by tandem.py (HS256 with the key the node is given), so these
tests do not depend on the register and login routes.
"""
import json
import unittest
import urllib.parse
import uuid

from tandem import NodeTestCase, mint_token, psql


JWT_KEY = "e2e-profiles-signing-key-" + "k" * 32

PUBLIC_KEYS = {
    "user_id", "first_name", "last_name", "description", "profile_image_uploaded_at",
    "profile_image_extension", "friendship_state", "mutual_friend_count", "dob", "gender",
    "school", "work", "location",
}
PRIVATE_KEYS = PUBLIC_KEYS | {
    "email", "email_public", "dob_public", "gender_public", "school_public", "work_public",
    "location_public", "share_mode", "domain_allow_array", "domain_deny_array",
}
DEFAULT_DENY = ["facebook.com", "instagram.com", "amazon.com", "twitter.com", "messenger.com",
                "google.com"]
# docs/api.md, Conventions: UTC without an offset; the clients append the Z themselves.
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"


def bearer(user_id, email=None):
    return {"Authorization": "Bearer " + mint_token(JWT_KEY, user_id,
                                                    email or user_id + "@example.com")}


def path_of(*segments):
    return "/" + "/".join(urllib.parse.quote(s, safe=",") for s in segments)


class Profiles(NodeTestCase):
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY}

    # -- helpers ---------------------------------------------------------------------

    def call(self, method, path, headers=None, body=None):
        """(status, parsed JSON body, headers); `body` is sent as JSON unless a str."""
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        status, hdrs, text = self.node.request(method, path, body=body, headers=headers or {})
        self.assertEqual(hdrs.get("content-type"), "application/json", text)
        return status, json.loads(text), hdrs

    def new_user_id(self):
        return "e2e-" + uuid.uuid4().hex

    def register(self, user_id, first="Ada", last="Lovelace"):
        status, body, _ = self.call("POST", "/users/me", bearer(user_id),
                                    {"first_name": first, "last_name": last})
        self.assertEqual(status, 200, body)
        return body

    def full_update(self, profile, **changes):
        """What the chat-client sends to U4: the whole UserPrivate with edits spread in."""
        body = dict(profile)
        body.update(changes)
        return body

    def assert_error(self, response, status, detail=None):
        got_status, body, _ = response
        self.assertEqual(got_status, status, body)
        self.assertEqual(set(body), {"detail"})
        if detail is not None:
            self.assertEqual(body["detail"], detail)

    # -- U2, U3: create and read one's own profile -----------------------------------

    def test_get_me_is_404_until_created_then_both_answer_user_private(self):
        uid = self.new_user_id()
        self.assert_error(self.call("GET", "/users/me", bearer(uid)), 404, "User not found")
        created = self.register(uid)
        self.assertEqual(set(created), PRIVATE_KEYS)
        self.assertEqual(created["user_id"], uid)
        self.assertEqual(created["email"], uid + "@example.com")
        self.assertEqual((created["first_name"], created["last_name"]), ("Ada", "Lovelace"))
        for key in ("friendship_state", "mutual_friend_count", "dob", "profile_image_uploaded_at",
                    "profile_image_extension"):
            self.assertIsNone(created[key], key)
        for key in ("description", "gender", "school", "work", "location"):
            self.assertEqual(created[key], "", key)
        for key in ("email_public", "dob_public", "gender_public", "school_public",
                    "work_public", "location_public"):
            self.assertIs(created[key], False, key)
        self.assertEqual(created["share_mode"], "default_none")
        allow = created["domain_allow_array"]
        self.assertEqual(len(allow), 119)
        self.assertEqual(len(set(allow)), len(allow))
        self.assertEqual((allow[0], allow[-1]), ("wikipedia.org", "plainenglish.io"))
        self.assertEqual(created["domain_deny_array"], DEFAULT_DENY)

        status, me, _ = self.call("GET", "/users/me", bearer(uid))
        self.assertEqual(status, 200)
        self.assertEqual(me, created)

    def test_create_takes_the_identity_from_the_token_and_ignores_extra_fields(self):
        uid = self.new_user_id()
        # The chat-client JSON.stringify's its body, so it arrives as text/plain.
        body = json.dumps({"first_name": "Ada", "last_name": "L", "dob": "2000-01-01",
                           "gender": "f", "user_id": "someone-else",
                           "email": "evil@example.com"})
        headers = dict(bearer(uid, "ada@example.com"), **{"Content-Type": "text/plain"})
        status, created, _ = self.call("POST", "/users/me", headers, body)
        self.assertEqual(status, 200, created)
        self.assertEqual((created["user_id"], created["email"]), (uid, "ada@example.com"))
        self.assertIsNone(created["dob"])
        self.assertEqual(created["gender"], "")
        self.assert_error(self.call("GET", path_of("users", "id", "someone-else")), 404)

    def test_creating_a_profile_twice_is_400_user_already_exists(self):
        uid = self.new_user_id()
        self.register(uid)
        self.assert_error(self.call("POST", "/users/me", bearer(uid),
                                    {"first_name": "B", "last_name": "C"}),
                          400, "User already exists")
        status, me, _ = self.call("GET", "/users/me", bearer(uid))
        self.assertEqual((status, me["first_name"]), (200, "Ada"))

    def test_create_validates_names_and_json_types(self):
        uid = self.new_user_id()
        auth = bearer(uid)
        cases = [
            ({"first_name": "A" * 51, "last_name": "L"},
             "first_name must be 1 to 50 characters, not blank"),
            ({"first_name": "", "last_name": "L"},
             "first_name must be 1 to 50 characters, not blank"),
            ({"first_name": "A"}, "last_name is required"),
            ({"first_name": 7, "last_name": "L"}, "first_name must be a string"),
            ([], "Request body must be a JSON object"),
            ("not json", "Request body is not valid JSON"),
        ]
        for body, detail in cases:
            with self.subTest(body=body):
                self.assert_error(self.call("POST", "/users/me", auth, body), 400, detail)
        # 50 characters of two bytes each are 50 characters.
        created = self.register(uid, first="é" * 50)
        self.assertEqual(created["first_name"], "é" * 50)

    def test_names_refuse_controls_bidi_overrides_and_invisible_only_text(self):
        uid = self.new_user_id()
        auth = bearer(uid)
        cases = [
            ("\u200b\u200b", "first_name must be 1 to 50 characters, not blank"),
            ("\u3164", "first_name must be 1 to 50 characters, not blank"),
            ("\u00ad \u2800", "first_name must be 1 to 50 characters, not blank"),
            ("\u202eadA", "first_name must not contain bidirectional override or isolate characters"),
            ("A\u2066da", "first_name must not contain bidirectional override or isolate characters"),
            ("Ada\nL", "first_name must not contain control characters"),
            ("Ada\u0007", "first_name must not contain control characters"),
            ("Ada\u0000", "'first_name' must not contain NUL characters"),
        ]
        for first, detail in cases:
            with self.subTest(first=first):
                self.assert_error(self.call("POST", "/users/me", auth,
                                            {"first_name": first, "last_name": "L"}),
                                  400, detail)
        created = self.register(uid, first="\u674e", last="\u0645\u062d\u0645\u062f")
        update = self.full_update(created, last_name="\u202eevil")
        self.assert_error(self.call("PUT", "/users/me", auth, update), 400,
                          "last_name must not contain bidirectional override or isolate characters")
        update = self.full_update(created, school="a\u0000b")
        self.assert_error(self.call("PUT", "/users/me", auth, update), 400,
                          "'school' must not contain NUL characters")

    def test_bodies_and_paths_that_are_not_utf8_text_are_400_and_not_logged_as_errors(self):
        logged_before = len(self.node.logs)
        for path in ("/users/id/%FF", "/users/id/%C0%AF", "/users/id/%ED%A0%80",
                     "/users/id/a%00b"):
            with self.subTest(path=path):
                status, body, _ = self.call("GET", path)
                self.assertEqual(status, 400, body)
                self.assertEqual(set(body), {"detail"})
        status, hdrs, text = self.node.request("POST", "/users/me",
                                               headers=bearer(self.new_user_id()),
                                               body=b'{"first_name":"\xff","last_name":"L"}')
        self.assertEqual((status, json.loads(text)), (400, {"detail": "Text must be valid UTF-8"}))
        self.assertEqual(self.call("GET", path_of("users", "id", "caf\u00e9"))[0], 404)
        errors = [e for e in self.node.logs[logged_before:] if e.get("level") == "error"]
        self.assertEqual(errors, [])

    # -- U4: full update ---------------------------------------------------------------

    def test_full_update_replaces_the_fields_and_refreshes_the_email(self):
        uid = self.new_user_id()
        profile = self.register(uid)
        body = self.full_update(
            profile, first_name="Grace", last_name="Hopper", description="Admiral",
            share_mode="default_all", domain_allow_array=["GitHub.com", "dev.to", "github.com"],
            domain_deny_array=[], gender="f", school="Yale", work="Navy", location="Arlington",
            email_public=True, gender_public=True, school_public=False, work_public=True,
            location_public=False, domain_allow_arr=["ignored.com"], dob="1906-12-09")
        status, updated, _ = self.call("PUT", "/users/me", bearer(uid, "grace@example.com"), body)
        self.assertEqual(status, 200, updated)
        self.assertEqual(set(updated), PRIVATE_KEYS)
        expected = dict(profile, first_name="Grace", last_name="Hopper", description="Admiral",
                        share_mode="default_all", domain_allow_array=["github.com", "dev.to"],
                        domain_deny_array=[], gender="f", school="Yale", work="Navy",
                        location="Arlington", email_public=True, gender_public=True,
                        work_public=True, email="grace@example.com")
        self.assertEqual(updated, expected)
        status, me, _ = self.call("GET", "/users/me", bearer(uid))
        self.assertEqual((status, me), (200, expected))

    def test_update_requires_every_field_and_names_the_bad_one(self):
        uid = self.new_user_id()
        profile = self.register(uid)
        auth = bearer(uid)
        for key in ("description", "share_mode", "domain_deny_array", "location_public"):
            with self.subTest(missing=key):
                body = self.full_update(profile)
                del body[key]
                self.assert_error(self.call("PUT", "/users/me", auth, body), 400,
                                  key + " is required")
        cases = [
            ({"email_public": "yes"}, "email_public must be true or false"),
            ({"work_public": 1}, "work_public must be true or false"),
            ({"share_mode": "everyone"}, 'share_mode must be "default_none" or "default_all"'),
            ({"last_name": "L" * 51}, "last_name must be 1 to 50 characters, not blank"),
            ({"description": "d" * 201}, "description must be at most 200 characters"),
            ({"school": None}, "school must be a string"),
            ({"domain_allow_array": "github.com"},
             "domain_allow_array must be an array of domain names"),
            ({"domain_allow_array": ["https://github.com/x"]},
             'domain_allow_array[0] must be a domain name such as "example.com"'),
            ({"domain_deny_array": ["d%d.com" % i for i in range(501)]},
             "domain_deny_array must have at most 500 entries"),
        ]
        for changes, detail in cases:
            with self.subTest(changes=list(changes)):
                self.assert_error(self.call("PUT", "/users/me", auth,
                                            self.full_update(profile, **changes)), 400, detail)
        status, me, _ = self.call("GET", "/users/me", auth)
        self.assertEqual((status, me), (200, profile))

    def test_update_and_domain_lists_before_the_profile_exists_are_404(self):
        uid = self.new_user_id()
        auth = bearer(uid)
        body = {"first_name": "A", "last_name": "B", "description": "", "share_mode":
                "default_none", "domain_allow_array": [], "domain_deny_array": [], "gender": "",
                "school": "", "work": "", "location": "", "email_public": False,
                "gender_public": False, "school_public": False, "work_public": False,
                "location_public": False}
        self.assert_error(self.call("PUT", "/users/me", auth, body), 404, "User not found")
        self.assert_error(self.call("PUT", "/users/me/domain_array/allow", auth, ["a.com"]),
                          404, "User not found")

    # -- U5: one domain list -------------------------------------------------------------

    def test_domain_array_replaces_one_list(self):
        uid = self.new_user_id()
        profile = self.register(uid)
        auth = bearer(uid)
        status, updated, _ = self.call("PUT", "/users/me/domain_array/allow", auth,
                                       ["GitHub.com", "dev.to", "github.com"])
        self.assertEqual(status, 200, updated)
        self.assertEqual(set(updated), PRIVATE_KEYS)
        self.assertEqual(updated["domain_allow_array"], ["github.com", "dev.to"])
        self.assertEqual(updated["domain_deny_array"], profile["domain_deny_array"])
        status, updated, _ = self.call("PUT", "/users/me/domain_array/deny", auth, [])
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["domain_deny_array"], [])
        self.assertEqual(updated["domain_allow_array"], ["github.com", "dev.to"])
        status, me, _ = self.call("GET", "/users/me", auth)
        self.assertEqual(me, updated)

    def test_every_profile_write_is_in_the_next_read_at_once(self):
        # The user's actor answers reads from its state and runs the writes: a write is
        # answered only once that state has it.
        uid = self.new_user_id()
        profile = self.register(uid)
        auth = bearer(uid)
        for n in range(5):
            status, updated, _ = self.call("PUT", "/users/me", auth,
                                           self.full_update(profile, description="take %d" % n))
            self.assertEqual((status, updated["description"]), (200, "take %d" % n))
            self.assertEqual(self.call("GET", "/users/me", auth)[:2], (200, updated))
            status, public, _ = self.call("GET", path_of("users", "id", uid))
            self.assertEqual((status, public["description"]), (200, "take %d" % n))
            status, updated, _ = self.call("PUT", "/users/me/domain_array/deny", auth,
                                           ["d%d.com" % n])
            self.assertEqual((status, updated["domain_deny_array"]), (200, ["d%d.com" % n]))
            self.assertEqual(self.call("GET", "/users/me", auth)[:2], (200, updated))

    def test_domain_array_rejects_a_bad_share_type_and_bad_bodies_with_400(self):
        uid = self.new_user_id()
        profile = self.register(uid)
        auth = bearer(uid)
        self.assert_error(self.call("PUT", "/users/me/domain_array/block", auth, ["a.com"]),
                          400, 'share_type must be "allow" or "deny"')
        cases = [
            ({"domains": ["a.com"]}, "domain_allow_array must be an array of domain names"),
            ("[not json", "Request body is not valid JSON"),
            (["a.com", 5], 'domain_allow_array[1] must be a domain name such as "example.com"'),
            (["localhost"], 'domain_allow_array[0] must be a domain name such as "example.com"'),
            (["10.0.0.1"], 'domain_allow_array[0] must be a domain name such as "example.com"'),
            (["d%d.com" % i for i in range(501)],
             "domain_allow_array must have at most 500 entries"),
        ]
        for body, detail in cases:
            with self.subTest(body=str(body)[:40]):
                self.assert_error(self.call("PUT", "/users/me/domain_array/allow", auth, body),
                                  400, detail)
        self.assert_error(self.call("PUT", "/users/me/domain_array/deny", auth, ["x_y.com"]),
                          400, 'domain_deny_array[0] must be a domain name such as "example.com"')
        status, me, _ = self.call("GET", "/users/me", auth)
        self.assertEqual((status, me), (200, profile))

    # -- U6, U7: public profiles -----------------------------------------------------------

    def test_an_unknown_public_profile_is_404(self):
        self.assert_error(self.call("GET", path_of("users", "id", "no such user")), 404,
                          "User not found")

    def test_ids_route_answers_known_public_profiles_and_skips_unknown_ones(self):
        first, second = self.new_user_id(), self.new_user_id() + " spaced"
        self.register(first)
        self.register(second, first="Grace")
        status, found, _ = self.call("GET", path_of("users", "ids",
                                                    f"{second},nobody,{first},,{second}"))
        self.assertEqual(status, 200, found)
        self.assertEqual([p["user_id"] for p in found], [second, first])
        for p in found:
            self.assertEqual(set(p), PUBLIC_KEYS)
        status, found, _ = self.call("GET", path_of("users", "ids", "nobody,nobody-else"))
        self.assertEqual((status, found), (200, []))
        status, found, _ = self.call("GET", path_of("users", "ids", ","))
        self.assertEqual((status, found), (200, []))
        too_many = ",".join("u%d" % i for i in range(101))
        self.assert_error(self.call("GET", path_of("users", "ids", too_many)), 400,
                          "At most 100 user ids per request")

    # -- U18 and authentication ------------------------------------------------------------

    def test_share_warnings_name_three_domains(self):
        status, warnings, _ = self.call("GET", "/domains/share/warnings",
                                        bearer(self.new_user_id()))
        self.assertEqual(status, 200, warnings)
        self.assertEqual(set(warnings), {"google.com", "messenger.com", "notion.so"})
        self.assertEqual(warnings["google.com"], "Allowing google.com may result in sharing "
                                                 "personal activities (e.g. Gmail, Calendar)")

    def test_protected_routes_refuse_a_missing_or_forged_token(self):
        uid = self.new_user_id()
        forged = {"Authorization": "Bearer " + mint_token("wrong-key", uid, "x@example.com")}
        routes = [("GET", "/users/me", None), ("POST", "/users/me", {"first_name": "A",
                                                                      "last_name": "B"}),
                  ("PUT", "/users/me", {}), ("PUT", "/users/me/domain_array/allow", []),
                  ("GET", "/domains/share/warnings", None)]
        for method, path, body in routes:
            for headers in ({}, forged):
                with self.subTest(route=method + " " + path, forged=bool(headers)):
                    response = self.call(method, path, headers, body)
                    self.assert_error(response, 401)
                    self.assertEqual(response[2].get("www-authenticate"), "Bearer")
        self.assert_error(self.call("GET", "/users/me", bearer(uid)), 404)


class ProfilesWrittenInTheDatabase(NodeTestCase):
    """Columns that no route writes (dob, stored times in another zone), set straight in
    the database: the user's actor owns the profile, so its reads show them once it has
    gone idle and loaded again."""
    node_env = {"TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_USERS_IDLE_TIMEOUT_S": "1"}

    call = Profiles.call
    new_user_id = Profiles.new_user_id
    register = Profiles.register
    full_update = Profiles.full_update

    def await_reload(self, uid, shows):
        """Polls GET /users/me further apart than the idle timeout until `shows(me)`."""
        self.node.wait_for(lambda: shows(self.call("GET", "/users/me", bearer(uid))[1]),
                           timeout=30, interval=2.5)

    def test_public_profile_shows_optional_fields_only_when_their_flag_is_set(self):
        uid = self.new_user_id()
        profile = self.register(uid)
        edits = dict(gender="f", school="Yale", work="Navy", location="Arlington",
                     description="Admiral")
        self.call("PUT", "/users/me", bearer(uid), self.full_update(profile, **edits))
        psql(self.node.db_dsn, f"UPDATE users SET dob = '1906-12-09' WHERE user_id = '{uid}'")
        self.await_reload(uid, lambda me: me["dob"] == "1906-12-09")

        status, public, _ = self.call("GET", path_of("users", "id", uid))
        self.assertEqual(status, 200, public)
        self.assertEqual(set(public), PUBLIC_KEYS)
        self.assertEqual((public["user_id"], public["first_name"], public["description"]),
                         (uid, "Ada", "Admiral"))
        for key in ("dob", "gender", "school", "work", "location", "friendship_state",
                    "mutual_friend_count"):
            self.assertIsNone(public[key], key)

        status, me, _ = self.call("GET", "/users/me", bearer(uid))
        self.assertEqual(me["dob"], "1906-12-09")
        flags = dict(email_public=True, gender_public=True, school_public=False,
                     work_public=True, location_public=True)
        self.call("PUT", "/users/me", bearer(uid), self.full_update(me, **flags))
        psql(self.node.db_dsn, f"UPDATE users SET dob_public = true WHERE user_id = '{uid}'")
        self.await_reload(uid, lambda me: me["dob_public"])
        status, public, _ = self.call("GET", path_of("users", "id", uid))
        self.assertEqual(set(public), PUBLIC_KEYS)  # no email even with email_public
        self.assertEqual([public[k] for k in ("dob", "gender", "school", "work", "location")],
                         ["1906-12-09", "f", None, "Navy", "Arlington"])

    # -- timestamps ----------------------------------------------------------------------

    def test_timestamps_are_utc_without_an_offset(self):
        uid = self.new_user_id()
        self.register(uid)
        # Stored with a +02 offset from a session in another zone: shown as UTC, no offset.
        psql(self.node.db_dsn,
             "SET TimeZone = 'America/New_York'; UPDATE users SET profile_image_extension = "
             "'png', profile_image_uploaded_at = '2024-01-02 05:04:05.25+02' "
             f"WHERE user_id = '{uid}'")
        self.await_reload(uid, lambda me: me["profile_image_extension"] == "png")
        status, me, _ = self.call("GET", "/users/me", bearer(uid))
        self.assertEqual(status, 200)
        self.assertEqual(me["profile_image_uploaded_at"], "2024-01-02T03:04:05.250000")
        self.assertEqual(me["profile_image_extension"], "png")
        status, public, _ = self.call("GET", path_of("users", "id", uid))
        self.assertEqual(public["profile_image_uploaded_at"], "2024-01-02T03:04:05.250000")
        psql(self.node.db_dsn,
             f"UPDATE users SET profile_image_uploaded_at = now() WHERE user_id = '{uid}'")
        self.await_reload(uid, lambda me: not me["profile_image_uploaded_at"].startswith("2024"))
        status, me, _ = self.call("GET", "/users/me", bearer(uid))
        self.assertRegex(me["profile_image_uploaded_at"], TIMESTAMP)


if __name__ == "__main__":
    unittest.main()
