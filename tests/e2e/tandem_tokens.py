"""Access tokens for end-to-end tests, minted the way the node issues them, so that a test
needs neither the register nor the login route: HS256 over the claims sub, email, iat,
exp, iss, aud and jti, signed with the key the test gives the node (TANDEM_AUTH_JWT_KEY).
Media URLs signed as media_url_signer does, with the node's TANDEM_MEDIA_URL_KEY.
"""
import base64
import hashlib
import hmac
import json
import time
import uuid

ISSUER = "tandem"
AUDIENCE = "tandem-clients"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(key, user_id, email, ttl_s=600, issued_at=None):
    """`issued_at` (epoch seconds) defaults to now; exp is `ttl_s` after it."""
    now = int(time.time()) if issued_at is None else issued_at
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": user_id, "email": email, "iat": now, "exp": now + ttl_s, "iss": ISSUER,
              "aud": AUDIENCE, "jti": uuid.uuid4().hex}
    signing_input = (b64url(json.dumps(header).encode()) + "."
                     + b64url(json.dumps(claims).encode()))
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def sign_media_url(key, port, method, object_key, expires):
    """A URL of the node on `port` for `object_key`, valid for `method` until `expires`."""
    message = "tandem-media-url-v1\n%s\n%s\n%d" % (method, object_key, expires)
    sig = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return "http://127.0.0.1:%d/media/%s?expires=%d&signature=%s" % (port, object_key, expires,
                                                                      sig)
