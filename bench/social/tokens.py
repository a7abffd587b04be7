"""Writes a Lua table of every benchmark user's id and access token (HS256, as the node
issues them) for polls.lua: python3 tokens.py KEY USERS > tokens.lua"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "e2e"))
from tandem_tokens import mint_token  # noqa: E402

key, users = sys.argv[1], int(sys.argv[2])
print("return {")
for i in range(1, users + 1):
    uid = f"u{i:06d}"
    token = mint_token(key, uid, f"user{i}@bench.example", ttl_s=24 * 3600)
    print(f'  {{id = "{uid}", token = "{token}"}},')
print("}")
