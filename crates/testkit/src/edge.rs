//! A tree of file-system edge cases a backup tool must restore exactly.
//!
//! Top-level folders, each for one family of cases:
//! * `患者データ/` — nested Japanese folders (`患者データ/内科/山田 太郎/検査結果_２０２６年.txt`),
//!   names with ASCII and full-width spaces, and the `small_files` small files (text and
//!   binary, 0–4 KiB, at most 64 per folder);
//! * `特殊な名前/` — full-width characters, emoji, NFC and NFD spellings of the same word
//!   side by side, names differing only in case, newline/tab/backslash in names, a leading
//!   dash, a 255-byte name, and names that are not UTF-8 (raw Shift_JIS and Latin-1 bytes);
//! * `深い階層/` — 40 nested folders;
//! * `バイナリ/` — random files sized around chunking boundaries (0, 1, 4095…1 MiB + 1), a
//!   file of zeros and a sparse 16 MiB file with one data block;
//! * `ダンプ/` — three SQL dumps of several MiB and an identical copy of one (dedup);
//! * `リンク/` — symlinks: relative, absolute, dangling (relative and absolute), to a
//!   directory, to itself, and with a non-UTF-8 target;
//! * `ハードリンク/` — hard-link groups of 2 and 3 names (one name in another folder);
//! * `空/` — empty files and (nested) empty folders;
//! * `権限/` — modes 0600, 0640, 0755, 0444 and a 0700 folder;
//! * `時刻/` — mtimes before 1970, at the epoch, after 2038 and with 999,999,999 ns.
//!
//! Every entry gets a deterministic mtime with nanoseconds; directories get a fixed mtime
//! last. Absolute symlink targets do not depend on `root`, so two trees generated with the
//! same seed in different places have the same [`crate::tree_digest`].

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::{Rng, RngCore};

use crate::dataset::set_dir_times;
use crate::dump;
use crate::util::{base_day, pick, prepare_empty_root, set_times, stream, TkRng};
use crate::vocab;

/// "カルテ" in Shift_JIS (CP932): a file name as copied raw from a Windows share.
pub(crate) const SJIS_KARUTE: &[u8] = b"\x83\x4a\x83\x8b\x83\x65";

/// Builds the edge-case tree under `root` (missing or empty) with `small_files` small files.
pub fn generate_edge_case_tree(root: &Path, seed: u64, small_files: usize) -> io::Result<()> {
    prepare_empty_root(root)?;
    let mut g = Gen {
        root,
        rng: stream(seed, "edge-cases"),
    };
    g.patient_folders(small_files)?;
    g.odd_names()?;
    g.deep_nesting()?;
    g.binaries()?;
    g.dumps()?;
    g.links()?;
    g.hardlinks()?;
    g.empties()?;
    g.modes()?;
    g.times()?;
    set_dir_times(root)
}

struct Gen<'a> {
    root: &'a Path,
    rng: TkRng,
}

impl Gen<'_> {
    /// Writes a file (creating parents) with a random mtime in the last year.
    fn put(&mut self, rel: impl AsRef<Path>, bytes: &[u8]) -> io::Result<PathBuf> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, bytes)?;
        self.touch(&path)?;
        Ok(path)
    }

    fn touch(&mut self, path: &Path) -> io::Result<()> {
        let secs = base_day() * 86_400 - self.rng.gen_range(0..365 * 86_400);
        set_times(path, secs, self.rng.gen_range(0..1_000_000_000))
    }

    fn mkdir(&mut self, rel: impl AsRef<Path>) -> io::Result<PathBuf> {
        let path = self.root.join(rel);
        fs::create_dir_all(&path)?;
        Ok(path)
    }

    fn text(&mut self, max: usize) -> Vec<u8> {
        let mut s = String::new();
        let len = self.rng.gen_range(0..=max);
        while s.len() < len {
            s.push_str(pick::<&str>(&mut self.rng, vocab::NOTE_PHRASES));
            s.push_str("。\n");
        }
        s.into_bytes()
    }

    fn random(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.rng.fill_bytes(&mut v);
        v
    }

    fn patient_folders(&mut self, small_files: usize) -> io::Result<()> {
        self.put(
            "患者データ/内科/山田 太郎/検査結果_２０２６年.txt",
            "総蛋白 7.2 g/dL\n".as_bytes(),
        )?;
        self.put(
            "患者データ/外科/佐藤\u{3000}花子/手術記録.txt",
            "術式: 腹腔鏡下胆嚢摘出術\n".as_bytes(),
        )?;
        let mut written = 0;
        let mut folder = 0;
        while written < small_files {
            folder += 1;
            let dept = pick(&mut self.rng, vocab::DEPARTMENTS).1;
            let (sur, _) = *pick(&mut self.rng, vocab::SURNAMES);
            let (given, _) = *pick(&mut self.rng, vocab::GIVEN_FEMALE);
            let dir = format!("患者データ/{dept}/{sur} {given} {folder:04}");
            let n = self.rng.gen_range(1..=64).min(small_files - written);
            for i in 0..n {
                if self.rng.gen_bool(0.1) {
                    let len = self.rng.gen_range(0..4096);
                    let bytes = self.random(len);
                    self.put(format!("{dir}/画像_{i:03}.bin"), &bytes)?;
                } else {
                    let bytes = self.text(4096);
                    self.put(format!("{dir}/記録_{i:03}.txt"), &bytes)?;
                }
            }
            written += n;
        }
        Ok(())
    }

    fn odd_names(&mut self) -> io::Result<()> {
        let names: &[&str] = &[
            "スペース 入り.txt",
            " 先頭スペース.txt",
            "末尾スペース .txt",
            "全角ＡＢＣ１２３（テスト）.txt",
            "絵文字🏥💊🩺.txt",
            "NFC_が.txt",
            "NFD_か\u{3099}.txt",
            "改行\nを含む.txt",
            "タブ\tを含む.txt",
            "back\\slash:colon*?\"<>|.txt",
            "-rf",
            ".hidden",
            "..二つの点で始まる",
            "半角ｶﾀｶﾅ.txt",
            // Differ only in case: collide on case-insensitive targets (macOS, Windows).
            "Readme.txt",
            "README.txt",
        ];
        for name in names {
            let bytes = self.text(300);
            self.put(Path::new("特殊な名前").join(name), &bytes)?;
        }
        // The longest name most file systems allow: 85 three-byte characters = 255 bytes.
        let long: String = "あ".repeat(85);
        self.put(Path::new("特殊な名前").join(long), b"255 bytes\n")?;
        let dir = self.mkdir("特殊な名前")?;
        let mut sjis = SJIS_KARUTE.to_vec();
        sjis.extend_from_slice(b"_SJIS.txt");
        self.put(dir.join(OsStr::from_bytes(&sjis)), b"shift_jis name\n")?;
        self.put(
            dir.join(OsStr::from_bytes(b"caf\xe9.txt")),
            b"latin-1 name\n",
        )?;
        let sjis_dir = dir.join(OsStr::from_bytes(SJIS_KARUTE));
        self.put(sjis_dir.join("中身.txt"), b"inside a non-UTF-8 folder\n")?;
        Ok(())
    }

    fn deep_nesting(&mut self) -> io::Result<()> {
        let mut rel = PathBuf::from("深い階層");
        for i in 1..=40 {
            rel.push(format!("階層{i:02}"));
        }
        self.put(rel.join("最深部.txt"), "ここが最深部\n".as_bytes())?;
        Ok(())
    }

    fn binaries(&mut self) -> io::Result<()> {
        for len in [
            0usize,
            1,
            4095,
            4096,
            4097,
            65_535,
            65_536,
            65_537,
            1 << 20,
            (1 << 20) + 1,
        ] {
            let bytes = self.random(len);
            self.put(format!("バイナリ/random_{len}.bin"), &bytes)?;
        }
        self.put("バイナリ/zeros_1MiB.bin", &vec![0u8; 1 << 20])?;
        // A sparse file: 16 MiB long, one 4 KiB block of data at 8 MiB, holes elsewhere.
        let path = self.root.join("バイナリ/sparse_16MiB.bin");
        let mut f = fs::File::create(&path)?;
        f.set_len(16 << 20)?;
        f.seek(io::SeekFrom::Start(8 << 20))?;
        let block = self.random(4096);
        f.write_all(&block)?;
        drop(f);
        self.touch(&path)
    }

    fn dumps(&mut self) -> io::Result<()> {
        let dir = self.mkdir("ダンプ")?;
        for i in 1..=3u64 {
            let path = dir.join(format!("ehr_part{i}.sql"));
            let size = self.rng.gen_range(2 << 20..6 << 20);
            dump::write_dump(&path, &mut self.rng, base_day() - i as i64, size)?;
            self.touch(&path)?;
        }
        fs::copy(dir.join("ehr_part1.sql"), dir.join("ehr_part1_copy.sql"))?;
        self.touch(&dir.join("ehr_part1_copy.sql"))
    }

    fn links(&mut self) -> io::Result<()> {
        let dir = self.mkdir("リンク")?;
        let links: &[(&str, &[u8])] = &[
            ("相対リンク.txt", "../患者データ/内科/山田 太郎/検査結果_２０２６年.txt".as_bytes()),
            ("絶対リンク", b"/etc/hosts"),
            ("壊れたリンク", "存在しない/ファイル.txt".as_bytes()),
            ("絶対壊れたリンク", "/nonexistent/kura/カルテ.pdf".as_bytes()),
            ("ディレクトリへのリンク", "../患者データ".as_bytes()),
            ("自己参照", "自己参照".as_bytes()),
            ("非UTF8の参照先", b"../\xe7\x89\xb9\xe6\xae\x8a\xe3\x81\xaa\xe5\x90\x8d\xe5\x89\x8d/\x83\x4a\x83\x8b\x83\x65_SJIS.txt"),
        ];
        for (name, target) in links {
            let path = dir.join(name);
            symlink(OsStr::from_bytes(target), &path)?;
            self.touch(&path)?;
        }
        Ok(())
    }

    fn hardlinks(&mut self) -> io::Result<()> {
        let a = self.put(
            "ハードリンク/原本.txt",
            "二つの名前を持つファイル\n".as_bytes(),
        )?;
        fs::hard_link(&a, self.root.join("ハードリンク/別名.txt"))?;
        let bytes = self.random(10_000);
        let b = self.put("ハードリンク/三重_1.dat", &bytes)?;
        self.mkdir("ハードリンク/サブ")?;
        fs::hard_link(&b, self.root.join("ハードリンク/サブ/三重_2.dat"))?;
        fs::hard_link(&b, self.root.join("患者データ/三重_3.dat"))?;
        Ok(())
    }

    fn empties(&mut self) -> io::Result<()> {
        self.put("空/空ファイル.txt", b"")?;
        self.put("空/.empty", b"")?;
        self.mkdir("空/空フォルダ")?;
        self.mkdir("空/入れ子/空/空")?;
        Ok(())
    }

    fn modes(&mut self) -> io::Result<()> {
        let cases: &[(&str, &[u8], u32)] = &[
            ("権限/秘密_0600.txt", "個人情報\n".as_bytes(), 0o600),
            ("権限/共有_0640.txt", "グループ共有\n".as_bytes(), 0o640),
            ("権限/実行_0755.sh", b"#!/bin/sh\necho kura\n", 0o755),
            ("権限/読み取り専用_0444.txt", "変更禁止\n".as_bytes(), 0o444),
            ("権限/非公開_0700/中身.txt", b"private\n", 0o600),
        ];
        for (rel, bytes, mode) in cases {
            let path = self.put(rel, bytes)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
        }
        fs::set_permissions(
            self.root.join("権限/非公開_0700"),
            fs::Permissions::from_mode(0o700),
        )
    }

    fn times(&mut self) -> io::Result<()> {
        let cases: &[(&str, i64, u32)] = &[
            ("時刻/1969年.txt", -14_182_940, 123_456_789),
            ("時刻/エポック.txt", 0, 0),
            ("時刻/2038年以降.txt", (1 << 31) + 1, 1),
            ("時刻/ナノ秒.txt", 1_767_225_599, 999_999_999),
        ];
        for (rel, secs, nanos) in cases {
            let path = self.put(rel, rel.as_bytes())?;
            set_times(&path, *secs, *nanos)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sjis_constant_is_karute_in_shift_jis() {
        let (bytes, _, errors) = encoding_rs::SHIFT_JIS.encode("カルテ");
        assert!(!errors);
        assert_eq!(&*bytes, SJIS_KARUTE);
    }
}
