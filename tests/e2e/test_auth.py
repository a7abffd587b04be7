"""Accounts and tokens over real HTTP (docs/api.md, Accounts and tokens): registration, login, refresh
rotation with replay detection, logout, throttling, every forged token against a
protected route, external RS256 ID tokens, and the production key rules.

Argon2 runs with tiny costs here (TANDEM_AUTH_ARGON2_*) to keep the tests fast.
"""
import base64
import hashlib
import hmac
import asyncio
import http.client
import json
import os
import random
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid

import websockets

from tandem import FAST_ARGON2, Node, NodeTestCase, required_env


JWT_KEY = "e2e-auth-signing-key-" + "s" * 32
EXTERNAL_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_e2eTest"
EXTERNAL_CLIENT = "e2e-client-id"
PROTECTED = "/users/me"  # any route behind protected_route


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def our_claims(**overrides):
    now = int(time.time())
    claims = {"sub": "e2e-" + uuid.uuid4().hex, "email": "forger@example.com", "iat": now,
              "exp": now + 600, "iss": "tandem", "aud": "tandem-clients",
              "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return claims


def hs_token(claims, key=JWT_KEY, alg="HS256", header=None):
    header = header or {"alg": alg, "typ": "JWT"}
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = b64url_json(header) + "." + b64url_json(claims)
    mac = hmac.new(key.encode() if isinstance(key, str) else key, signing_input.encode(),
                   digest).digest()
    return signing_input + "." + b64url(mac)


class RsaKey:
    """An RSA key made with the openssl command: signs RS256 and describes itself as a JWK."""

    def __init__(self, directory):
        self.path = os.path.join(directory, uuid.uuid4().hex + ".pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", self.path], check=True,
                       capture_output=True)
        modulus = subprocess.run(["openssl", "rsa", "-in", self.path, "-noout", "-modulus"],
                                 check=True, capture_output=True, text=True).stdout
        self.n = b64url(bytes.fromhex(modulus.strip().split("=", 1)[1]))
        self.public_pem = subprocess.run(["openssl", "rsa", "-in", self.path, "-pubout"],
                                         check=True, capture_output=True).stdout

    def jwk(self, kid):
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": self.n, "e": "AQAB"}

    def sign(self, claims, kid, alg="RS256"):
        signing_input = b64url_json({"alg": alg, "kid": kid}) + "." + b64url_json(claims)
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.path],
                                   input=signing_input.encode(), check=True,
                                   capture_output=True).stdout
        return signing_input + "." + b64url(signature)


def id_token_claims(**overrides):
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "cognito:username": "google_" + uuid.uuid4().hex,
              "email": "cognito-user@example.com", "email_verified": True,
              "iss": EXTERNAL_ISSUER, "aud": EXTERNAL_CLIENT, "token_use": "id",
              "auth_time": now, "iat": now, "exp": now + 3600}
    claims.update(overrides)
    return claims


def run_binary(args, extra_env):
    env = dict(os.environ)
    env.update(extra_env)
    return subprocess.run([required_env("TANDEM_TEST_BIN"), *args], env=env,
                          capture_output=True, text=True, timeout=30)


class AuthTestCase(NodeTestCase):
    """Helpers shared by the classes below."""

    def call(self, method, path, body=None, headers=None, source=None):
        """(status, headers, parsed JSON or None); `source` binds the client's address."""
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=10,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            text = res.read().decode()
            hdrs = {k.lower(): v for k, v in res.getheaders()}
        finally:
            conn.close()
        return res.status, hdrs, json.loads(text) if text else None

    def new_email(self):
        return "e2e-" + uuid.uuid4().hex[:16] + "@example.com"

    def new_address(self):
        """A loopback address of this test alone, so that per-address counters of other
        tests sharing the Redis never interfere."""
        return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254),
                                 random.randint(1, 254))

    def register(self, email=None, password="correct horse battery"):
        # From an address of its own: registrations are counted per address.
        status, _, body = self.call("POST", "/auth/register",
                                    {"email": email or self.new_email(), "password": password},
                                    source=self.new_address())
        self.assertEqual(status, 201, body)
        return body

    def login(self, email, password, source=None):
        return self.call("POST", "/auth/login", {"email": email, "password": password},
                         source=source)

    def refresh(self, token):
        return self.call("POST", "/auth/refresh", {"refresh_token": token})

    def protected(self, authorization):
        headers = {} if authorization is None else {"Authorization": authorization}
        return self.call("GET", PROTECTED, headers=headers)

    def assert_pair(self, body):
        self.assertEqual(set(body), {"user_id", "access_token", "refresh_token", "token_type",
                                     "expires_in"})
        self.assertEqual(body["token_type"], "Bearer")
        # Opaque to clients: URL-safe text within the length the node looks up.
        self.assertRegex(body["refresh_token"], r"^[A-Za-z0-9._-]{1,256}$")

    def assert_accepted(self, authorization):
        status, headers, body = self.protected(authorization)
        self.assertNotEqual(status, 401, body)
        self.assertNotIn("www-authenticate", headers)

    def assert_refused(self, authorization, detail=None):
        status, headers, body = self.protected(authorization)
        self.assertEqual(status, 401, body)
        self.assertEqual(headers.get("www-authenticate"), "Bearer")
        self.assertIsInstance(body["detail"], str)
        if detail:
            self.assertEqual(body["detail"], detail)


class Accounts(AuthTestCase):
    node_env = dict(FAST_ARGON2, TANDEM_AUTH_JWT_KEY=JWT_KEY)

    def test_register_answers_a_token_pair_that_opens_protected_routes(self):
        body = self.register()
        self.assert_pair(body)
        self.assertEqual(body["expires_in"], 900)
        self.assert_accepted("Bearer " + body["access_token"])

    def test_raw_and_lower_case_bearer_authorization_are_accepted(self):
        token = self.register()["access_token"]
        self.assert_accepted(token)
        self.assert_accepted("bearer " + token)

    def test_login_ignores_email_case_and_answers_a_new_pair(self):
        email = self.new_email()
        reg = self.register(email)
        status, _, body = self.login(email.upper(), "correct horse battery")
        self.assertEqual(status, 200, body)
        self.assert_pair(body)
        self.assertEqual(body["user_id"], reg["user_id"])
        self.assertNotEqual(body["refresh_token"], reg["refresh_token"])

    def test_a_duplicate_email_in_another_case_is_409(self):
        email = self.new_email()
        self.register(email)
        status, _, body = self.call("POST", "/auth/register",
                                    {"email": email.upper(), "password": "another password"})
        self.assertEqual((status, body), (409, {"detail": "Email already registered"}))

    def test_bad_registrations_are_400_with_detail(self):
        cases = [
            ({"password": "correct horse"}, "email"),
            ({"email": self.new_email()}, "password"),
            ({"email": 7, "password": "correct horse"}, "email"),
            ({"email": "not-an-email", "password": "correct horse"}, "email"),
            ({"email": "a@b", "password": "correct horse"}, "email"),
            ({"email": self.new_email(), "password": "short"}, "8 to 256"),
            ({"email": self.new_email(), "password": "x" * 257}, "8 to 256"),
            ("not json", "JSON"),
            ("[1, 2]", "object"),
        ]
        for body, detail in cases:
            with self.subTest(body=body):
                status, _, answer = self.call("POST", "/auth/register", body)
                self.assertEqual(status, 400, answer)
                self.assertIn(detail, answer["detail"])

    def test_look_alike_spellings_of_a_registered_email_are_one_account_or_refused(self):
        local = "ann-" + uuid.uuid4().hex[:12]
        reg = self.register(local + "@example.com")
        fullwidth = "\uff41" + local[1:] + "@\uff25xample.com"  # FULLWIDTH a, E
        status, _, body = self.call("POST", "/auth/register",
                                    {"email": fullwidth, "password": "another password"})
        self.assertEqual((status, body), (409, {"detail": "Email already registered"}))
        status, _, body = self.login(fullwidth, "correct horse battery")
        self.assertEqual((status, body["user_id"]), (200, reg["user_id"]))
        for invisible in ("\u200b", "\u00ad", "\u2060", "\ufeff"):  # ZWSP, SHY, WJ, BOM
            with self.subTest(invisible=invisible):
                email = local[:2] + invisible + local[2:] + "@example.com"
                status, _, body = self.call("POST", "/auth/register",
                                            {"email": email, "password": "correct horse"})
                self.assertEqual(status, 400, body)
                self.assertEqual(body["detail"],
                                 "email must not contain invisible, control or space characters")

    def test_wrong_password_and_unknown_email_get_the_same_401(self):
        email = self.new_email()
        self.register(email)
        source = self.new_address()
        wrong = self.login(email, "wrong password", source)
        unknown = self.login(self.new_email(), "wrong password", source)
        for status, _, body in (wrong, unknown):
            self.assertEqual((status, body), (401, {"detail": "Invalid email or password"}))

    def test_refresh_without_a_token_is_400_and_an_unknown_one_401(self):
        status, _, body = self.call("POST", "/auth/refresh", {})
        self.assertEqual(status, 400, body)
        self.assertIn("refresh_token", body["detail"])
        status, _, body = self.refresh("x" * 43)
        self.assertEqual((status, body), (401, {"detail": "Invalid refresh token"}))

    def test_refresh_rotates_and_a_replay_revokes_the_family(self):
        first = self.register()
        status, _, second = self.refresh(first["refresh_token"])
        self.assertEqual(status, 200, second)
        self.assert_pair(second)
        self.assertEqual(second["user_id"], first["user_id"])
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        self.assert_accepted("Bearer " + second["access_token"])
        # The old token was rotated: presenting it again is theft, the family is revoked.
        status, _, body = self.refresh(first["refresh_token"])
        self.assertEqual(status, 401, body)
        status, _, body = self.refresh(second["refresh_token"])
        self.assertEqual((status, body), (401, {"detail": "Invalid refresh token"}))

    def test_logout_is_204_and_ends_the_family(self):
        first = self.register()
        status, _, second = self.refresh(first["refresh_token"])
        self.assertEqual(status, 200, second)
        status, headers, body = self.call("POST", "/auth/logout",
                                          {"refresh_token": second["refresh_token"]})
        self.assertEqual((status, body), (204, None))
        for token in (first["refresh_token"], second["refresh_token"]):
            status, _, body = self.refresh(token)
            self.assertEqual(status, 401, body)
        # Logging out twice is harmless.
        status, _, _ = self.call("POST", "/auth/logout", {"refresh_token": second["refresh_token"]})
        self.assertEqual(status, 204)

    # -- forged tokens on a protected route ---------------------------------------------

    def test_a_valid_token_made_with_the_node_key_is_accepted(self):
        self.assert_accepted("Bearer " + hs_token(our_claims()))

    def test_missing_and_garbage_authorization_is_401(self):
        self.assert_refused(None, "Not authenticated")
        self.assert_refused("", "Not authenticated")
        self.assert_refused("Bearer", "Not authenticated")
        self.assert_refused("Bearer   ", "Not authenticated")
        for garbage in ("garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer ...",
                        "Bearer " + "A" * 9000):
            with self.subTest(garbage=garbage[:40]):
                self.assert_refused(garbage)

    def test_alg_none_is_401(self):
        claims = b64url_json(our_claims())
        for alg in ("none", "None", "NONE"):
            header = b64url_json({"alg": alg, "typ": "JWT"})
            self.assert_refused("Bearer " + header + "." + claims + ".")
            self.assert_refused("Bearer " + header + "." + claims + "." + b64url(b"sig"))

    def test_hs256_with_a_wrong_key_is_401(self):
        self.assert_refused("Bearer " + hs_token(our_claims(), key="not-the-key" * 4),
                            "Invalid token")

    def test_other_algorithms_with_the_right_key_are_401(self):
        self.assert_refused("Bearer " + hs_token(our_claims(), alg="HS384"))
        self.assert_refused("Bearer " + hs_token(our_claims(), alg="HS512"))

    def test_rs256_signed_token_presented_as_ours_is_401(self):
        with tempfile.TemporaryDirectory() as tmp:
            key = RsaKey(tmp)
            self.assert_refused("Bearer " + key.sign(our_claims(), "any-kid"), "Invalid token")

    def test_expired_token_is_401_with_its_reason(self):
        now = int(time.time())
        self.assert_refused("Bearer " + hs_token(our_claims(iat=now - 1000, exp=now - 100)),
                            "Token expired")

    def test_wrong_issuer_or_audience_is_401(self):
        self.assert_refused("Bearer " + hs_token(our_claims(iss="someone-else")), "Invalid token")
        self.assert_refused("Bearer " + hs_token(our_claims(aud="another-app")), "Invalid token")

    def test_tampered_payload_is_401(self):
        token = self.register()["access_token"]
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = "someone-else"
        self.assert_refused("Bearer " + ".".join([header, b64url_json(claims), signature]),
                            "Invalid token")


class Throttling(AuthTestCase):
    node_env = dict(FAST_ARGON2, TANDEM_AUTH_JWT_KEY=JWT_KEY,
                    TANDEM_AUTH_LOGIN_MAX_FAILURES="3",
                    TANDEM_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS="5",
                    TANDEM_AUTH_LOGIN_WINDOW_S="120")

    def assert_throttled(self, answer):
        status, headers, body = answer
        self.assertEqual(status, 429, body)
        self.assertTrue(body["detail"])
        self.assertTrue(1 <= int(headers["retry-after"]) <= 120, headers)

    def test_failures_for_one_email_end_in_429_even_with_the_right_password(self):
        email = self.new_email()
        self.register(email)
        source = self.new_address()
        for _ in range(3):
            status, _, body = self.login(email, "wrong password", source)
            self.assertEqual(status, 401, body)
        self.assert_throttled(self.login(email, "wrong password", self.new_address()))
        self.assert_throttled(self.login(email.upper(), "correct horse battery", source))

    def test_no_spelling_of_a_locked_email_gets_a_fresh_budget(self):
        local = "kim-" + uuid.uuid4().hex[:12]
        email = local + "@example.com"
        self.register(email)
        source = self.new_address()
        for _ in range(3):
            status, _, body = self.login(email, "wrong password", source)
            self.assertEqual(status, 401, body)
        # KELVIN SIGN and FULLWIDTH k are k: the same lockout.
        for spelling in ("\u212a" + email[1:], "\uff4b" + email[1:], email.upper()):
            with self.subTest(spelling=spelling):
                self.assert_throttled(self.login(spelling, "correct horse battery",
                                                 self.new_address()))
        # A NUL cut the lookup short but not the counter's key: now refused outright.
        status, _, body = self.login(email + "\u0000", "correct horse battery",
                                     self.new_address())
        self.assertEqual((status, body), (400, {"detail": "'email' must not contain NUL characters"}))
        # Dotted capital I folds to i + U+0307, another address (PostgreSQL's lower() made it i).
        status, _, body = self.login(email.replace("i", "\u0130", 1), "correct horse battery",
                                     self.new_address())
        self.assertEqual(status, 401, body)

    def test_an_unknown_email_is_throttled_the_same_way(self):
        email = self.new_email()
        source = self.new_address()
        for _ in range(3):
            status, _, _ = self.login(email, "wrong password", source)
            self.assertEqual(status, 401)
        self.assert_throttled(self.login(email, "wrong password", source))

    def test_a_successful_login_does_not_count_as_a_failure(self):
        email = self.new_email()
        self.register(email)
        source = self.new_address()
        for _ in range(5):
            status, _, body = self.login(email, "correct horse battery", source)
            self.assertEqual(status, 200, body)

    def test_failures_from_one_address_end_in_429_for_any_email(self):
        source = self.new_address()
        for _ in range(5):
            status, _, _ = self.login(self.new_email(), "wrong password", source)
            self.assertEqual(status, 401)
        self.assert_throttled(self.login(self.new_email(), "wrong password", source))
        # Another address is not affected.
        status, _, _ = self.login(self.new_email(), "wrong password", self.new_address())
        self.assertEqual(status, 401)


class ShortLivedAccessTokens(AuthTestCase):
    node_env = dict(FAST_ARGON2, TANDEM_AUTH_JWT_KEY=JWT_KEY, TANDEM_AUTH_ACCESS_TTL_S="2")

    def test_full_life_cycle_register_use_expire_refresh_replay_logout(self):
        first = self.register()
        self.assertEqual(first["expires_in"], 2)
        access = "Bearer " + first["access_token"]
        self.assert_accepted(access)
        self.node.wait_for(lambda: self.protected(access)[0] == 401, timeout=10)
        self.assert_refused(access, "Token expired")

        status, _, second = self.refresh(first["refresh_token"])
        self.assertEqual(status, 200, second)
        self.assert_accepted("Bearer " + second["access_token"])

        # The rotated token no longer works, and presenting it revoked the family.
        status, _, body = self.refresh(first["refresh_token"])
        self.assertEqual(status, 401, body)
        status, _, body = self.refresh(second["refresh_token"])
        self.assertEqual(status, 401, body)

        # A fresh login starts a new family, which logout ends.
        email = self.new_email()
        self.register(email)
        status, _, third = self.login(email, "correct horse battery", self.new_address())
        self.assertEqual(status, 200, third)
        status, _, _ = self.call("POST", "/auth/logout", {"refresh_token": third["refresh_token"]})
        self.assertEqual(status, 204)
        status, _, body = self.refresh(third["refresh_token"])
        self.assertEqual(status, 401, body)


class ExternalIdentity(AuthTestCase):
    """RS256 ID tokens of a configured issuer (a Cognito user pool for PageNow)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.issuer_key = RsaKey(cls.tmp.name)
        cls.other_key = RsaKey(cls.tmp.name)
        jwks = os.path.join(cls.tmp.name, "jwks.json")
        with open(jwks, "w") as f:
            json.dump({"keys": [cls.issuer_key.jwk("kid-1"),
                                {"kty": "EC", "kid": "ec-1", "crv": "P-256"}]}, f)
        cls.node_env = dict(FAST_ARGON2, TANDEM_AUTH_JWT_KEY=JWT_KEY,
                            TANDEM_AUTH_EXTERNAL_ISSUER=EXTERNAL_ISSUER,
                            TANDEM_AUTH_EXTERNAL_JWKS_FILE=jwks,
                            TANDEM_AUTH_EXTERNAL_AUDIENCE=EXTERNAL_CLIENT)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.tmp.cleanup()

    def test_an_id_token_of_the_issuer_is_accepted_raw_and_as_bearer(self):
        token = self.issuer_key.sign(id_token_claims(), "kid-1")
        self.assert_accepted(token)
        self.assert_accepted("Bearer " + token)

    def test_the_user_id_is_minted_for_the_cognito_username(self):
        claims = id_token_claims()
        token = self.issuer_key.sign(claims, "kid-1")
        status, _, body = self.call("POST", PROTECTED, {"first_name": "Ada", "last_name": "L"},
                                    headers={"Authorization": token})
        self.assertIn(status, (200, 201), body)
        self.assertNotEqual(body["user_id"], claims["cognito:username"])
        self.assertEqual(body["email"], claims["email"])

    def test_forged_external_tokens_are_401(self):
        now = int(time.time())
        cases = {
            "unknown kid": self.issuer_key.sign(id_token_claims(), "kid-2"),
            "key outside the JWKS": self.other_key.sign(id_token_claims(), "kid-1"),
            "other issuer": self.issuer_key.sign(
                id_token_claims(iss=EXTERNAL_ISSUER + "-other"), "kid-1"),
            "other audience": self.issuer_key.sign(id_token_claims(aud="another"), "kid-1"),
            "expired": self.issuer_key.sign(id_token_claims(iat=now - 7200, exp=now - 3600),
                                            "kid-1"),
            "our claims signed by the issuer": self.issuer_key.sign(our_claims(), "kid-1"),
            # HS256 keyed with the issuer's public key: the classic key confusion.
            "hs256 with the public key": hs_token(id_token_claims(), key=self.issuer_key.public_pem,
                                                  header={"alg": "HS256", "kid": "kid-1"}),
            "hs256 with the public key and our claims": hs_token(
                our_claims(), key=self.issuer_key.public_pem,
                header={"alg": "HS256", "kid": "kid-1"}),
        }
        for name, token in cases.items():
            with self.subTest(name):
                self.assert_refused("Bearer " + token)

    def test_our_own_tokens_still_work_next_to_external_ones(self):
        self.assert_accepted("Bearer " + self.register()["access_token"])


class ProductionKeys(unittest.TestCase):
    """The node refuses to start in production without real keys (one line, exit 2)."""

    def start(self, env):
        base = {"TANDEM_NODE_MODE": "production", "TANDEM_HTTP_PORT": "0",
                "TANDEM_AUTH_JWT_KEY": "", "TANDEM_MEDIA_URL_KEY": "p" * 40}
        base.update(env)
        result = run_binary(["serve"], base)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
        return result.stderr

    def test_production_without_a_jwt_key_refuses_to_start(self):
        self.assertIn("auth.jwt_key", self.start({}))

    def test_production_with_the_development_key_refuses_to_start(self):
        self.assertIn("development key", self.start(
            {"TANDEM_AUTH_JWT_KEY": "tandem-development-jwt-key-not-secret-never-use-in-production"}))

    def test_production_with_a_short_key_refuses_to_start(self):
        self.assertIn("32 bytes", self.start({"TANDEM_AUTH_JWT_KEY": "short"}))

    def test_production_without_a_media_url_key_refuses_to_start(self):
        self.assertIn("media.url_key", self.start({"TANDEM_AUTH_JWT_KEY": JWT_KEY,
                                                   "TANDEM_MEDIA_URL_KEY": ""}))

    def test_a_bad_jwks_file_refuses_to_start(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write('{"keys": [{"kty": "RSA", "kid": "k", "n": "@@", "e": "AQAB"}]}')
            f.flush()
            stderr = self.start({"TANDEM_NODE_MODE": "development", "TANDEM_AUTH_JWT_KEY": JWT_KEY,
                                 "TANDEM_AUTH_EXTERNAL_ISSUER": EXTERNAL_ISSUER,
                                 "TANDEM_AUTH_EXTERNAL_JWKS_FILE": f.name})
            self.assertIn("auth.external_jwks_file", stderr)

    def test_production_with_real_keys_starts(self):
        node = Node({"TANDEM_NODE_MODE": "production", "TANDEM_AUTH_JWT_KEY": JWT_KEY,
                     "TANDEM_MEDIA_URL_KEY": "m" * 40})
        try:
            status, _, _ = node.request("GET", "/ping")
            self.assertEqual(status, 200)
        finally:
            node.stop()


class ExternalNamespace(AuthTestCase):
    """External identities live in a namespace of their own (issue 14, item 7): the node
    maps (issuer, subject) to a Tandem user id minted on first sight, and external tokens
    must be current ID tokens. A cache of one mapping makes most sights go to the database."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.issuer_key = RsaKey(cls.tmp.name)
        cls.jwks = os.path.join(cls.tmp.name, "jwks.json")
        with open(cls.jwks, "w") as f:
            json.dump({"keys": [cls.issuer_key.jwk("kid-1")]}, f)
        cls.node_env = dict(FAST_ARGON2, TANDEM_AUTH_JWT_KEY=JWT_KEY,
                            TANDEM_AUTH_EXTERNAL_ISSUER=EXTERNAL_ISSUER,
                            TANDEM_AUTH_EXTERNAL_JWKS_FILE=cls.jwks,
                            TANDEM_AUTH_EXTERNAL_AUDIENCE=EXTERNAL_CLIENT,
                            TANDEM_AUTH_EXTERNAL_IDENTITY_CACHE="1",
                            TANDEM_AUTH_CLOCK_LEEWAY_S="60")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.tmp.cleanup()

    def external(self, subject, **claims):
        """A fresh ID token (its own iat and exp) for the Cognito user `subject`."""
        return self.issuer_key.sign(id_token_claims(**{"cognito:username": subject}, **claims),
                                    "kid-1")

    def me(self, token, node=None):
        conn = http.client.HTTPConnection("127.0.0.1", (node or self.node).port, timeout=10)
        try:
            conn.request("GET", "/users/me", headers={"Authorization": token})
            res = conn.getresponse()
            return res.status, json.loads(res.read().decode())
        finally:
            conn.close()

    def create_profile(self, token, first_name):
        status, _, body = self.call("POST", "/users/me",
                                    {"first_name": first_name, "last_name": "Test"},
                                    headers={"Authorization": token})
        self.assertEqual(status, 200, body)
        return body

    def test_an_external_subject_equal_to_a_native_id_cannot_read_that_profile(self):
        native = self.register()
        native_token = "Bearer " + native["access_token"]
        self.create_profile(native_token, "Native")
        impostor = self.external(native["user_id"], email="impostor@example.com")
        # Today's main answers the native user's private profile here.
        status, body = self.me(impostor)
        self.assertEqual((status, body), (404, {"detail": "User not found"}))
        created = self.create_profile(impostor, "External")
        self.assertNotEqual(created["user_id"], native["user_id"])
        self.assertEqual(created["email"], "impostor@example.com")
        status, body = self.me(native_token)
        self.assertEqual((status, body["user_id"], body["first_name"]),
                         (200, native["user_id"], "Native"))
        status, body = self.me(self.external(native["user_id"]))
        self.assertEqual((status, body["user_id"], body["first_name"]),
                         (200, created["user_id"], "External"))

    def test_the_same_identity_keeps_its_id_across_logins_and_a_fresh_node(self):
        ann, bob = "google_" + uuid.uuid4().hex, "google_" + uuid.uuid4().hex
        ann_id = self.create_profile(self.external(ann), "Ann")["user_id"]
        bob_id = self.create_profile(self.external(bob), "Bob")["user_id"]
        self.assertNotEqual(ann_id, bob_id)
        # Each sign-in is a new token; with a cache of one, ann's mapping comes back from
        # the database after bob's pushed it out.
        for subject, expected in ((ann, ann_id), (bob, bob_id), (ann, ann_id)):
            status, body = self.me(self.external(subject))
            self.assertEqual((status, body["user_id"]), (200, expected))
        # A new process on the same database has nothing in memory.
        fresh = Node(dict(self.node_env, TANDEM_DB_DSN=self.node.db_dsn))
        try:
            # The WebSocket upgrade is the first sight of ann there: mapped, then accepted.
            async def connect():
                url = (f"ws://127.0.0.1:{fresh.port}/ws?Authorization="
                       + urllib.parse.quote(self.external(ann), safe=""))
                ws = await websockets.connect(url, open_timeout=10, close_timeout=2)
                await ws.close()
            asyncio.run(connect())
            for subject, expected in ((bob, bob_id), (ann, ann_id)):
                status, body = self.me(self.external(subject), node=fresh)
                self.assertEqual((status, body["user_id"]), (200, expected))
        finally:
            fresh.stop()

    def test_access_tokens_and_tokens_from_the_future_are_401(self):
        subject = "google_" + uuid.uuid4().hex
        self.assert_accepted(self.external(subject))
        now = int(time.time())
        cases = {
            "access token": (self.external(subject, token_use="access"), "Invalid token"),
            "no token_use": (self.issuer_key.sign(
                {k: v for k, v in id_token_claims().items() if k != "token_use"}, "kid-1"),
                "Invalid token"),
            "no aud": (self.issuer_key.sign(
                {k: v for k, v in id_token_claims().items() if k != "aud"}, "kid-1"),
                "Invalid token"),
            "iat in the future": (self.external(subject, iat=now + 600), "Token not yet valid"),
            "nbf in the future": (self.external(subject, nbf=now + 600), "Token not yet valid"),
        }
        for name, (token, detail) in cases.items():
            with self.subTest(name):
                self.assert_refused(token, detail)
        # Within auth.clock_leeway_s of ours, the issuer's clock may run ahead.
        self.assert_accepted(self.external(subject, iat=now + 20, nbf=now + 20))

    def test_production_refuses_external_tokens_without_an_audience(self):
        env = {"TANDEM_NODE_MODE": "production", "TANDEM_HTTP_PORT": "0",
               "TANDEM_AUTH_JWT_KEY": JWT_KEY, "TANDEM_MEDIA_URL_KEY": "m" * 40,
               "TANDEM_AUTH_EXTERNAL_ISSUER": EXTERNAL_ISSUER,
               "TANDEM_AUTH_EXTERNAL_JWKS_FILE": self.jwks, "TANDEM_AUTH_EXTERNAL_AUDIENCE": ""}
        result = run_binary(["serve"], env)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("auth.external_audience", result.stderr)


if __name__ == "__main__":
    unittest.main()
