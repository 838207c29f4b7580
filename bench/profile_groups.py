#!/usr/bin/env python3
"""Group a flat perf profile by function family (how BENCHMARKS.md's profile table was made).

Usage: perf report -i FILE.perf --no-children --sort sym --stdio -g none > flat.txt
       python3 bench/profile_groups.py flat.txt
A symbol counts in the first family whose pattern matches; the rest is "other".
"""
import collections
import re
import sys
groups=[('zstd context create/clean (per blob)',r'ZSTD_createCCtx|ZSTD_createDCtx|ZSTD_cwksp|ZSTD_reset|ZSTD_freeCCtx|ZSTD_freeDCtx|ZSTD_initCStream|ZSTD_CCtx_init|ZSTD_resetCCtx'),
('zstd compress/decompress',r'ZSTD|HUF_|FSE_|HIST_'),
('chunk buffer zeroing (memset)',r'memset'),
('FastCDC gear hashing',r'cut_gear'),
('BLAKE3',r'blake3'),
('XChaCha20-Poly1305',r'chacha|poly1305'),
('Argon2id key derivation',r'argon2|blake2'),
('memcpy/memmove (user)',r'memmove|memcpy'),
('kernel: page-cache copy (write/read)',r'copy_folio_from_iter|_copy_to_iter|copy_user|filemap_read|copy_page_to_iter|clear_page'),
('kernel: path lookup/open/mkdir/metadata',r'link_path_walk|d_lookup|walk_component|inode_permission|ext4_|find_get_block|recently_deleted|security_|getname|path_|dput|lookup|__d_|step_into|do_filp_open|find_inode|dcache|statx|generic_permission|filldir|readdir'),
('kernel: scheduling/futex/yield',r'futex|schedule|sched_|_raw_spin|finish_task_switch|yield|pick_next|update_curr|enqueue|dequeue|ttwu|try_to_wake'),
]
tot=collections.OrderedDict((g,0.0) for g,_ in groups); other=0.0; others=collections.Counter()
for line in open(sys.argv[1]):
    m=re.match(r'\s+([0-9.]+)%\s+\[(.)\]\s+(.*)',line)
    if not m: continue
    p=float(m.group(1)); s=m.group(3)
    for g,rx in groups:
        if re.search(rx,s,re.I): tot[g]+=p; break
    else: other+=p; others[s.strip()[:60]]+=p
for g,v in sorted(tot.items(),key=lambda x:-x[1]):
    if v>=0.5: print(f"{v:5.1f}%  {g}")
print(f"{other:5.1f}%  other; largest: "+", ".join(f"{k} {v:.1f}%" for k,v in others.most_common(5)))
