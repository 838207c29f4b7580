#!/usr/bin/env bash
# Proves FORMAT.md: builds a small repository with the kura binary, then reads it with
# scripts/format-reader.py (an independent Python reader written from the document alone) and
# compares every answer with kura's own, byte for byte.
#
#   scripts/test-format-reader.sh            # builds kura (release) unless KURA_BIN is set
#   KURA_BIN=/path/to/kura scripts/test-format-reader.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
reader="$here/format-reader.py"

python3 -m pip install --quiet cryptography blake3 argon2-cffi zstandard 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages cryptography blake3 argon2-cffi zstandard

if [[ -z "${KURA_BIN:-}" ]]; then
  (cd "$root" && cargo build --release --quiet -p kura)
  KURA_BIN="${CARGO_TARGET_DIR:-$root/target}/release/kura"
fi

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export KURA_REPOSITORY="$work/repo"
export KURA_PASSWORD_FILE="$work/password"
printf 'correct horse battery staple\n' > "$KURA_PASSWORD_FILE"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "a source tree with a multi-chunk file, Japanese and non-UTF-8 names, a symlink, a hard link"
src="$work/src/病院"
mkdir -p "$src/カルテ/空" "$src/bin"
python3 - "$src" <<'EOF'
import os, random, sys
src = sys.argv[1]
rng = random.Random(7)
# 3 MiB: half random (incompressible), half text (compressible): several chunks of each kind.
data = bytes(rng.getrandbits(8) for _ in range(3 << 19))
data += ("患者ID,検査,値\n" + "".join(f"{i},HbA1c,{5 + i % 30 / 10}\n" for i in range(60000))).encode()
open(os.path.join(src, "bin", "ehr.dump"), "wb").write(data)
open(os.path.join(src, "カルテ", "山田太郎.txt"), "w").write("主訴: 発熱\n")
open(os.path.join(src.encode(), b"bin/sjis-\x8a\xb3\x8e\xd2.txt"), "wb").write(b"shift_jis name\n")
open(os.path.join(src, "empty"), "wb").close()
EOF
ln -s "カルテ/山田太郎.txt" "$src/link"
ln "$src/カルテ/山田太郎.txt" "$src/hardlink.txt"

step "init and two generations with kura"
"$KURA_BIN" init --recovery-key-file "$work/recovery" > /dev/null
"$KURA_BIN" backup --source files "$work/src" > /dev/null
printf 'changed\n' >> "$src/カルテ/山田太郎.txt"
"$KURA_BIN" backup --source files --tag second "$work/src" > /dev/null
printf 'pg_dump output\n' | "$KURA_BIN" backup --source ehr-db --stdin --stdin-filename ehr.sql > /dev/null

step "snapshots: same ids, trees and times as kura snapshots --json"
"$KURA_BIN" snapshots --json > "$work/kura-snapshots.json"
python3 "$reader" snapshots > "$work/reader-snapshots.json"
python3 - "$work/kura-snapshots.json" "$work/reader-snapshots.json" <<'EOF'
import json, sys
from datetime import datetime
k, r = (json.load(open(p)) for p in sys.argv[1:])
assert len(k) == len(r) == 3, (len(k), len(r))
for a, b in zip(k, r):
    for f in ("id", "source", "host", "paths", "tags", "tree"):
        assert a[f] == b[f], (f, a[f], b[f])
    for f in ("time", "committed_at"):
        assert datetime.fromisoformat(a[f]) == datetime.fromisoformat(b[f].replace("Z", "+00:00")), f
    assert a["stats"] == b["stats"]
print("snapshots match:", [s["id"][:8] for s in r])
EOF

step "ls: every path, type, size, mode and mtime as kura ls --json"
for snap in latest:files latest:ehr-db; do
  "$KURA_BIN" ls --json "$snap" > "$work/kura-ls"
  python3 "$reader" ls "$snap" > "$work/reader-ls"
  python3 - "$work/kura-ls" "$work/reader-ls" <<'EOF'
import json, sys
k, r = ([json.loads(l) for l in open(p, encoding="utf-8")] for p in sys.argv[1:])
assert k == r, "ls differs"
assert len(k) >= 1
print(f"ls matches: {len(k)} entries")
EOF
done

step "cat: file bytes equal the source and kura dump"
check_cat() { # SNAP PATH-IN-GENERATION ORIGINAL
  python3 "$reader" cat "$1" "$2" > "$work/reader-cat"
  "$KURA_BIN" dump "$1" "$2" > "$work/kura-dump"
  cmp "$work/reader-cat" "$3" || fail "reader's $2 differs from the source"
  cmp "$work/kura-dump" "$3" || fail "kura dump of $2 differs from the source"
  echo "cat matches: $2 ($(stat -c %s "$3") bytes)"
}
rel="${work#/}/src/病院"
check_cat latest:files "$rel/bin/ehr.dump" "$src/bin/ehr.dump"
check_cat latest:files "$rel/カルテ/山田太郎.txt" "$src/カルテ/山田太郎.txt"
printf 'pg_dump output\n' > "$work/expected-stdin"
check_cat latest:ehr-db ehr.sql "$work/expected-stdin"

step "rechunk: FastCDC with the derived gear seed gives the stored chunk ids"
out="$(python3 "$reader" rechunk latest:files "$rel/bin/ehr.dump")"
echo "$out"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["chunks"] >= 5, d' "$out"

step "packs: every pack header decrypts and equals the index"
python3 "$reader" packs

step "FORMAT.md's worked example (section 21) runs and lists every generation"
python3 - "$root/FORMAT.md" "$work/example.py" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("## 21. Worked example", 1)[1]
code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
open(sys.argv[2], "w", encoding="utf-8").write(code)
EOF
python3 "$work/example.py" > "$work/example.out"
cat "$work/example.out"
grep -q "^config: .*'chunker'" "$work/example.out" || fail "the worked example printed no config"
[[ "$(grep -c 'root tree' "$work/example.out")" == 3 ]] || fail "the worked example did not list 3 generations"

step "the recovery key opens the repository, typed in lower case with spaces"
tr 'A-Z-' 'a-z ' < "$work/recovery" > "$work/recovery-typed"
KURA_PASSWORD_FILE="$work/recovery-typed" python3 "$reader" info > "$work/info.json"
python3 - "$work/info.json" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1]))
opened = [k for k in info["keys"] if k["opened_with"]]
assert len(opened) == 1 and opened[0]["kind"] == "recovery", info["keys"]
assert info["config"]["version"] == 1
print("recovery key opens; chunker", info["config"]["chunker"])
EOF

step "a wrong password is refused"
printf 'wrong\n' > "$work/wrong"
if KURA_PASSWORD_FILE="$work/wrong" python3 "$reader" info > /dev/null 2>&1; then
  fail "a wrong password opened the repository"
fi

step "a flipped byte in a pack is detected, never returned"
pack="$(find "$KURA_REPOSITORY/data" -type f -size +1M | head -n 1)"
chmod u+w "$pack"
python3 - "$pack" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 1
open(p, "wb").write(b)
EOF
if python3 "$reader" cat latest:files "$rel/bin/ehr.dump" > /dev/null 2>&1; then
  fail "damaged data was returned"
fi
if python3 "$reader" packs > /dev/null 2>&1; then
  fail "a damaged pack passed"
fi

echo "format reader: all checks passed"
