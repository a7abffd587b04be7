"""Writes every benchmark user's id and access token (HS256, as the node issues them):
python3 tokens.py KEY USERS [lua|tsv] > tokens
lua (default): a Lua table for polls.lua; tsv: "id<TAB>token" lines (bench/realtime)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "e2e"))
from tandem import mint_token  # noqa: E402

key, users = sys.argv[1], int(sys.argv[2])
fmt = sys.argv[3] if len(sys.argv) > 3 else "lua"
if fmt not in ("lua", "tsv"):
    sys.exit("format must be lua or tsv")
if fmt == "lua":
    print("return {")
for i in range(1, users + 1):
    uid = f"u{i:06d}"
    token = mint_token(key, uid, f"user{i}@bench.example", ttl_s=24 * 3600)
    if fmt == "lua":
        print(f'  {{id = "{uid}", token = "{token}"}},')
    else:
        print(f"{uid}\t{token}")
if fmt == "lua":
    print("}")
