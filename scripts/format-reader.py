#!/usr/bin/env python3
"""An independent reader of Kura repositories, written from FORMAT.md alone.

It shares no code with Kura: it exists to prove that FORMAT.md is enough to read a repository.
scripts/test-format-reader.sh builds a repository with the kura binary and compares this reader's
output with kura's own.

Needs: pip install cryptography blake3 argon2-cffi zstandard

    format-reader.py --repo DIR --password-file FILE COMMAND [ARGS]

Commands:
    info                  key files (clear-text metadata) and the decrypted config
    snapshots             generations as a JSON array (id, time, committed_at, source, ...)
    ls SNAP               every path of a generation, one JSON object a line, like `kura ls --json`
    cat SNAP PATH         the bytes of one file on standard output (every chunk verified)
    packs                 decrypt every pack header and compare it with the index
    rechunk SNAP PATH     re-chunk a file with FastCDC and the repository's gear seed and check that
                          the chunk ids equal the file's content list (proves the chunker section)
SNAP is `latest`, `latest:SOURCE` or a unique prefix of a generation id.
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys

import argon2.low_level
import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

# Object kinds (FORMAT.md "Object kinds"): the byte in an envelope's associated data.
KIND_CONFIG, KIND_DATA, KIND_TREE, KIND_PACK_HEADER, KIND_INDEX, KIND_SNAPSHOT = 1, 2, 3, 4, 5, 6

# Limits a reader enforces before allocating (FORMAT.md "Limits").
MAX_OBJECT_LEN = 1 << 30
MAX_KEYFILE_LEN = 64 * 1024
MAX_CONFIG_LEN = 1 << 20
MAX_SNAPSHOT_LEN = 16 << 20
MAX_INDEX_LEN = 512 << 20
MAX_PACK_ENTRIES = 1 << 22
ENTRY_LEN = 45
ENVELOPE_OVERHEAD = 41
ARGON2_CAPS = {"memory_kib": 1 << 20, "iterations": 16, "parallelism": 8}


class FormatError(Exception):
    """The repository (or the secret) does not match FORMAT.md."""


# --- XChaCha20-Poly1305 from HChaCha20 + the IETF ChaCha20-Poly1305 of `cryptography` ---------------

def _rotl(v, n):
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    """HChaCha20 (draft-irtf-cfrg-xchacha): the subkey for XChaCha20."""
    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key)
             + struct.unpack("<4I", nonce16))
    for _ in range(10):
        _quarter(s, 0, 4, 8, 12); _quarter(s, 1, 5, 9, 13)
        _quarter(s, 2, 6, 10, 14); _quarter(s, 3, 7, 11, 15)
        _quarter(s, 0, 5, 10, 15); _quarter(s, 1, 6, 11, 12)
        _quarter(s, 2, 7, 8, 13); _quarter(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_decrypt(key, nonce24, ciphertext_and_tag, aad):
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).decrypt(b"\0\0\0\0" + nonce24[16:], ciphertext_and_tag, aad)


# --- The envelope --------------------------------------------------------------------------------

def open_envelope(enc_key, kind, blob_id, sealed, max_len):
    """version(1) | nonce(24) | ciphertext | tag(16); plaintext = compression byte | payload."""
    if len(sealed) < ENVELOPE_OVERHEAD + 1:
        raise FormatError(f"envelope of {len(sealed)} bytes is truncated")
    if sealed[0] != 1:
        raise FormatError(f"envelope version {sealed[0]} is not 1")
    aad = b"kura-v1" + bytes([kind]) + (blob_id or b"")
    try:
        plain = xchacha_decrypt(enc_key, sealed[1:25], sealed[25:], aad)
    except InvalidTag:
        raise FormatError(f"envelope of kind {kind} failed authentication") from None
    if plain[0] == 0:
        if len(plain) - 1 > max_len:
            raise FormatError("stored object over its limit")
        return plain[1:]
    if plain[0] == 1:
        # max_output_size bounds the allocation even if the frame lies about its content size.
        out = zstandard.ZstdDecompressor().decompress(plain[1:], max_output_size=min(max_len, MAX_OBJECT_LEN))
        if len(out) > max_len:
            raise FormatError("decompressed object over its limit")
        return out
    raise FormatError(f"unknown compression byte {plain[0]}")


# --- The repository ------------------------------------------------------------------------------

class Repo:
    def __init__(self, root, secret):
        self.root = root
        self.enc_key, self.id_key, self.key_file = self.unlock(secret)
        sealed = self.read_file("config")
        self.config = json.loads(open_envelope(self.enc_key, KIND_CONFIG, None, sealed, MAX_CONFIG_LEN))
        if self.config["version"] > 1:
            raise FormatError("repository format newer than this reader")
        self.index = None

    def read_file(self, rel):
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def list_dir(self, rel):
        path = os.path.join(self.root, rel)
        if not os.path.isdir(path):
            return []
        return sorted(n for n in os.listdir(path) if not n.startswith("."))

    def read_named(self, rel, name):
        """A file whose name is the BLAKE3 of its bytes: verified before anything else."""
        data = self.read_file(os.path.join(rel, name))
        if blake3.blake3(data).hexdigest() != name:
            raise FormatError(f"{rel}/{name}: content does not match its name")
        return data

    def key_files(self):
        out = []
        for name in self.list_dir("keys"):
            if os.path.getsize(os.path.join(self.root, "keys", name)) > MAX_KEYFILE_LEN:
                continue
            try:
                out.append((name, json.loads(self.read_named("keys", name))))
            except (FormatError, ValueError):
                continue  # a damaged key file is skipped: another may open the repository
        return out

    def unlock(self, secret):
        files = self.key_files()
        ordered = [f for f in files if f[1].get("kind") == "password"]
        ordered += [f for f in files if f[1].get("kind") == "recovery"]
        for name, kf in ordered:
            candidate = secret
            if kf["kind"] == "recovery":
                try:
                    typed = secret.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                candidate = "".join(c.upper() for c in typed if c.isascii() and c.isalnum()).encode()
            master = unwrap_key_file(kf, candidate)
            if master is not None:
                return master[:32], master[32:], name
        raise FormatError("wrong password or recovery key: no key file opens with it")

    def blob_id(self, plaintext):
        return blake3.blake3(plaintext, key=self.id_key).digest()

    def chunker_seed(self):
        d = blake3.blake3(self.id_key, derive_key_context="kura 2026 chunker gear seed").digest()
        return int.from_bytes(d[:8], "little")

    # Index ---------------------------------------------------------------------------------------

    def load_index(self):
        files = {}
        for name in self.list_dir("index"):
            try:
                sealed = self.read_named("index", name)
                plain = open_envelope(self.enc_key, KIND_INDEX, None, sealed, MAX_INDEX_LEN)
                files[name] = decode_index(plain)
            except FormatError as e:
                print(f"warning: index {name} skipped: {e}", file=sys.stderr)
        superseded = {s for f in files.values() for s in f["supersedes"]}
        self.index = {}
        for name in sorted(files):
            if name in superseded:
                continue
            for pack, entries in files[name]["packs"]:
                for e in entries:
                    self.index.setdefault(e["id"], (pack, e))  # the first location wins
        return files

    def read_blob(self, blob_id_hex):
        pack, e = self.index[blob_id_hex]
        with open(os.path.join(self.root, "data", pack[:2], pack), "rb") as f:
            f.seek(e["offset"])
            sealed = f.read(e["length"])
        if len(sealed) != e["length"]:
            raise FormatError(f"pack {pack} is shorter than the index says")
        kind = KIND_TREE if e["kind"] == 1 else KIND_DATA
        blob_id = bytes.fromhex(blob_id_hex)
        plain = open_envelope(self.enc_key, kind, blob_id, sealed, min(e["raw_len"], MAX_OBJECT_LEN))
        if len(plain) != e["raw_len"] or self.blob_id(plain) != blob_id:
            raise FormatError(f"blob {blob_id_hex} does not match its id")
        return plain

    def read_tree(self, tree_id_hex):
        return json.loads(self.read_blob(tree_id_hex))

    # Snapshots -----------------------------------------------------------------------------------

    def snapshots(self):
        out = []
        for name in self.list_dir("snapshots"):
            sealed = self.read_named("snapshots", name)
            snap = json.loads(open_envelope(self.enc_key, KIND_SNAPSHOT, None, sealed, MAX_SNAPSHOT_LEN))
            out.append((name, snap))
        # Oldest first by commit time; RFC 3339 UTC strings with "Z" do not sort lexically when the
        # fraction has varying digits, so compare parsed (seconds, nanoseconds).
        out.sort(key=lambda s: (rfc3339_key(s[1]["committed_at"]), s[0]))
        return out

    def resolve(self, spec):
        snaps = self.snapshots()
        if spec == "latest" or spec.startswith("latest:"):
            found = [s for s in snaps if spec == "latest" or s[1]["source"] == spec[7:]]
            if not found:
                raise FormatError(f"no generation matches {spec!r}")
            return found[-1]
        found = [s for s in snaps if s[0].startswith(spec.lower())]
        if len(found) != 1:
            raise FormatError(f"{spec!r} matches {len(found)} generations")
        return found[0]

    def walk(self, tree_id, prefix=b""):
        """Yield (path bytes, node) depth-first in stored (name-byte) order."""
        for node in self.read_tree(tree_id)["nodes"]:
            name = node_name(node)
            if not name or name in (b".", b"..") or b"/" in name or b"\0" in name:
                raise FormatError(f"unsafe name {name!r} in tree {tree_id}")
            path = prefix + b"/" + name if prefix else name
            yield path, node
            if node["type"] == "dir" and node.get("subtree"):
                yield from self.walk(node["subtree"], path)

    def find(self, tree_id, path):
        node = None
        for part in [p for p in path.encode().split(b"/") if p]:
            if node is not None:
                tree_id = node.get("subtree")
            node = next((n for n in self.read_tree(tree_id)["nodes"] if node_name(n) == part), None)
            if node is None:
                raise FormatError(f"{path} is not in the generation")
        return node


def node_name(node):
    raw = node.get("name_raw")
    return bytes.fromhex(raw) if raw is not None else node["name"].encode("utf-8")


def rfc3339_key(text):
    date, _, rest = text.partition("T")
    clock = rest.rstrip("Z")
    whole, _, frac = clock.partition(".")
    return (date, whole, int((frac + "000000000")[:9]))


def unwrap_key_file(kf, secret):
    """The master key (64 bytes), or None when `secret` does not open this key file."""
    if kf.get("version") != 1:
        return None
    kdf = kf["kdf"]
    if kdf["algorithm"] != "argon2id" or any(kdf[k] > cap for k, cap in ARGON2_CAPS.items()):
        return None  # capped before any work: a crafted file cannot make us allocate 64 GiB
    wrapped = base64.b64decode(kf["wrapped"], validate=True)
    if len(wrapped) != 24 + 64 + 16:
        return None
    kek = argon2.low_level.hash_secret_raw(
        secret=secret, salt=base64.b64decode(kdf["salt"]), time_cost=kdf["iterations"],
        memory_cost=kdf["memory_kib"], parallelism=kdf["parallelism"], hash_len=32,
        type=argon2.low_level.Type.ID, version=19)
    try:
        return xchacha_decrypt(kek, wrapped[:24], wrapped[24:], b"kura-keyfile-v1")
    except InvalidTag:
        return None


def decode_entries(b, pos, count):
    entries = []
    for _ in range(count):
        kind, blob_id, offset, length, raw_len = struct.unpack_from("<B32sIII", b, pos)
        if kind not in (0, 1):
            raise FormatError(f"unknown blob kind {kind}")
        entries.append({"kind": kind, "id": blob_id.hex(), "offset": offset, "length": length,
                        "raw_len": raw_len})
        pos += ENTRY_LEN
    return entries, pos


def decode_index(b):
    if b[:8] != b"KURAIDX1":
        raise FormatError("bad index magic")
    pos = 8

    def count(item_len):
        nonlocal pos
        if pos + 4 > len(b):
            raise FormatError("index truncated")
        (n,) = struct.unpack_from("<I", b, pos)
        pos += 4
        if n * item_len > len(b) - pos:  # checked before allocating anything
            raise FormatError("index count larger than the file")
        return n

    supersedes = []
    for _ in range(count(32)):
        supersedes.append(b[pos:pos + 32].hex())
        pos += 32
    packs = []
    for _ in range(count(36)):
        pack_id = b[pos:pos + 32].hex()
        pos += 32
        n = count(ENTRY_LEN)
        if n > MAX_PACK_ENTRIES:
            raise FormatError("too many entries for one pack")
        entries, pos = decode_entries(b, pos, n)
        packs.append((pack_id, entries))
    if pos != len(b):
        raise FormatError(f"{len(b) - pos} trailing bytes in index")
    return {"supersedes": supersedes, "packs": packs}


def read_pack_header(repo, pack_id):
    with open(os.path.join(repo.root, "data", pack_id[:2], pack_id), "rb") as f:
        data = f.read()
    if blake3.blake3(data).hexdigest() != pack_id:
        raise FormatError(f"pack {pack_id}: content does not match its name")
    if data[:8] != b"KURAPACK" or data[-4:] != b"KPK1":
        raise FormatError(f"pack {pack_id}: bad magic")
    (h,) = struct.unpack_from("<I", data, len(data) - 8)
    if h > len(data) - 16 or h < ENVELOPE_OVERHEAD:
        raise FormatError(f"pack {pack_id}: header length {h} does not fit")
    header_at = len(data) - 8 - h
    plain = open_envelope(repo.enc_key, KIND_PACK_HEADER, None, data[header_at:len(data) - 8],
                          4 + MAX_PACK_ENTRIES * ENTRY_LEN)
    (count,) = struct.unpack_from("<I", plain, 0)
    if count > MAX_PACK_ENTRIES or len(plain) != 4 + count * ENTRY_LEN:
        raise FormatError(f"pack {pack_id}: header size does not match its count")
    entries, _ = decode_entries(plain, 4, count)
    nxt = 8
    for e in entries:
        if e["offset"] < nxt or e["offset"] + e["length"] > header_at or e["length"] < ENVELOPE_OVERHEAD:
            raise FormatError(f"pack {pack_id}: entry outside the blob area")
        nxt = e["offset"] + e["length"]
    return entries


# --- FastCDC 2020 with the repository's gear seed (FORMAT.md "Chunking") -------------------------

MASK64 = (1 << 64) - 1
MASKS = {9: 0x0000019000353000, 15: 0x0000d90f03530000, 16: 0x0000d90303537000, 17: 0x0000d90703537000,
         18: 0x0000d90707537000, 19: 0x0000d91707537000, 20: 0x0000d91747537000,
         21: 0x0000d91767537000, 22: 0x0000d93767537000, 23: 0x0000d93777537000,
         14: 0x0000d90313530000, 13: 0x0000d90303530000, 12: 0x0000d90103530000,
         11: 0x0000d90003530000, 10: 0x0000590003530000, 24: 0x0000d93777577000}


def gear_tables(seed):
    gear = [int.from_bytes(hashlib.md5(bytes([i]) * 64).digest()[:8], "big") for i in range(256)]
    gear_ls = [(g << 1) & MASK64 for g in gear]
    return [g ^ seed for g in gear], [g ^ ((seed << 1) & MASK64) for g in gear_ls]


def fastcdc_cut(src, mn, avg, mx, mask_s, mask_l, gear, gear_ls):
    remaining = len(src)
    if remaining <= mn:
        return remaining
    center = avg
    if remaining > mx:
        remaining = mx
    elif remaining < center:
        center = remaining
    mask_s_ls, mask_l_ls = (mask_s << 1) & MASK64, (mask_l << 1) & MASK64
    h, i = 0, mn // 2
    for limit, m, m_ls in ((center // 2, mask_s, mask_s_ls), (remaining // 2, mask_l, mask_l_ls)):
        while i < limit:
            a = 2 * i
            h = ((h << 2) + gear_ls[src[a]]) & MASK64
            if h & m_ls == 0:
                return max(a, 1)
            h = (h + gear[src[a + 1]]) & MASK64
            if h & m == 0:
                return max(a + 1, 1)
            i += 1
    return remaining


def chunk(data, params, seed):
    mn, avg, mx = params["min_size"], params["avg_size"], params["max_size"]
    bits = round(__import__("math").log2(avg))
    mask_s, mask_l = MASKS[bits + 1], MASKS[bits - 1]
    gear, gear_ls = gear_tables(seed)
    pos, out = 0, []
    while pos < len(data):
        n = fastcdc_cut(memoryview(data)[pos:pos + mx], mn, avg, mx, mask_s, mask_l, gear, gear_ls)
        out.append(data[pos:pos + n])
        pos += n
    return out


# --- Commands ------------------------------------------------------------------------------------

def cmd_info(repo, _args):
    keys = [{"id": n, "kind": k["kind"], "label": k["label"], "host": k["host"], "user": k["user"],
             "created": k["created"], "kdf": {x: k["kdf"][x] for x in ("algorithm", "memory_kib",
                                                                      "iterations", "parallelism")},
             "opened_with": n == repo.key_file} for n, k in repo.key_files()]
    print(json.dumps({"keys": keys, "config": repo.config, "chunker_seed": repo.chunker_seed()},
                     indent=2, ensure_ascii=False))


def cmd_snapshots(repo, _args):
    print(json.dumps([dict(id=n, **s) for n, s in repo.snapshots()], indent=2, ensure_ascii=False))


def cmd_ls(repo, args):
    repo.load_index()
    _, snap = repo.resolve(args.snapshot)
    for path, node in repo.walk(snap["tree"]):
        print(json.dumps({"path": "/" + path.decode("utf-8", "replace"), "type": node["type"],
                          "size": node.get("size", 0), "mode": format(node["mode"], "o"),
                          "mtime": node["mtime"]}, ensure_ascii=False, separators=(",", ":")))


def cmd_cat(repo, args):
    repo.load_index()
    _, snap = repo.resolve(args.snapshot)
    node = repo.find(snap["tree"], args.path)
    if node["type"] != "file":
        raise FormatError(f"{args.path} is not a regular file")
    total = 0
    for blob in node.get("content", []):
        data = repo.read_blob(blob)
        sys.stdout.buffer.write(data)
        total += len(data)
    if total != node.get("size", 0):
        raise FormatError(f"{args.path}: {total} bytes restored, the tree says {node.get('size', 0)}")


def cmd_packs(repo, _args):
    files = repo.load_index()
    packs = {p: entries for f in files.values() for p, entries in f["packs"]}
    for pack_id, indexed in sorted(packs.items()):
        if read_pack_header(repo, pack_id) != indexed:
            raise FormatError(f"pack {pack_id}: header and index differ")
    print(json.dumps({"index_files": len(files), "packs": len(packs),
                      "blobs": sum(len(e) for e in packs.values())}))


def cmd_rechunk(repo, args):
    repo.load_index()
    _, snap = repo.resolve(args.snapshot)
    node = repo.find(snap["tree"], args.path)
    data = b"".join(repo.read_blob(b) for b in node.get("content", []))
    ids = [repo.blob_id(c).hex() for c in chunk(data, repo.config["chunker"], repo.chunker_seed())]
    if ids != node.get("content", []):
        raise FormatError(f"{args.path}: re-chunking gives {len(ids)} chunks that differ from the "
                          f"{len(node.get('content', []))} stored")
    print(json.dumps({"path": args.path, "chunks": len(ids), "bytes": len(data)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", default=os.environ.get("KURA_REPOSITORY"))
    p.add_argument("--password-file", default=os.environ.get("KURA_PASSWORD_FILE"))
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("info", "snapshots", "packs"):
        sub.add_parser(name)
    sub.add_parser("ls").add_argument("snapshot")
    for name in ("cat", "rechunk"):
        c = sub.add_parser(name)
        c.add_argument("snapshot")
        c.add_argument("path")
    args = p.parse_args()
    if not args.repo or not args.password_file:
        p.error("give --repo and --password-file (or KURA_REPOSITORY and KURA_PASSWORD_FILE)")
    with open(args.password_file, "rb") as f:
        secret = f.read().split(b"\n")[0].removesuffix(b"\r")  # the first line, as kura reads it
    try:
        repo = Repo(args.repo, secret)
        globals()["cmd_" + args.command](repo, args)
    except FormatError as e:
        print(f"format-reader: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
