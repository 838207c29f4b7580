//! Helpers for end-to-end tests: run the real `kura` binary against temporary repositories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Kura {
    pub dir: tempfile::TempDir,
    pub repo: PathBuf,
    pub password_file: PathBuf,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kura")
}

impl Kura {
    /// A fresh, initialized repository with a generated password.
    pub fn init() -> Kura {
        let k = Kura::uninitialized();
        let out = k.run(&["init"]);
        assert!(out.status.success(), "init failed: {}", stderr(&out));
        k
    }

    pub fn uninitialized() -> Kura {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let password_file = dir.path().join("password");
        let pw: String = (0..32).map(|_| format!("{:x}", rand_byte() % 16)).collect();
        std::fs::write(&password_file, format!("{pw}\n")).unwrap();
        Kura {
            dir,
            repo,
            password_file,
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("KURA_REPOSITORY", &self.repo)
            .env("KURA_PASSWORD_FILE", &self.password_file)
            .env_remove("KURA_FAULT")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run kura")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kura {args:?} failed ({:?}): {}",
            out.status.code(),
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kura backup --json ...`: the final summary object.
    pub fn backup_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["backup", "--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success() || out.status.code() == Some(4),
            "backup failed: {}",
            stderr(&out)
        );
        last_json_line(&out)
    }

    pub fn snapshots(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["snapshots", "--json"]))
            .expect("snapshots --json is a JSON array")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

pub fn last_json_line(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("some output");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {line}"))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rand_byte() -> u8 {
    let mut b = [0u8; 1];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b[0]
}

/// Where a backed-up absolute path lands inside a restore target.
pub fn restored(target: &Path, original: &Path) -> PathBuf {
    target.join(original.strip_prefix("/").unwrap())
}
