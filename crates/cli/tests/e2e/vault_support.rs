//! Helpers for the vault end-to-end tests: a real `kura serve` on a loopback port over HTTPS,
//! set up with the real `kura admin` commands. Included with `#[path]` by each vault_*.rs test.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kura_repo::Repository;
use kura_store::remote::RemoteBackend;

pub const ADMIN_PASSWORD: &str = "Tq4!vN8z#Lm2Ps-kura";
pub const REPO_PASSWORD: &str = "correct horse battery staple 蔵";

pub struct VaultHarness {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub port: u16,
    pub fingerprint: String,
    pub admin_totp: String,
    server: Option<Child>,
}

pub fn kura() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kura"));
    c.stdin(Stdio::null())
        .env_remove("KURA_REPOSITORY")
        .env_remove("KURA_PASSWORD_FILE");
    c
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl VaultHarness {
    /// A vault with the first admin, repository `ehr`, not yet serving.
    pub fn new(extra_config: &str) -> VaultHarness {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("vault.toml");
        std::fs::write(
            &config,
            format!("listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n{extra_config}\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("admin-pw"), format!("{ADMIN_PASSWORD}\n")).unwrap();
        std::fs::write(dir.path().join("repo-pw"), format!("{REPO_PASSWORD}\n")).unwrap();
        let mut h = VaultHarness {
            dir,
            config,
            port,
            fingerprint: String::new(),
            admin_totp: String::new(),
            server: None,
        };
        let out = h.admin(&["init", "--name", "sato"]);
        let secret = out
            .lines()
            .find_map(|l| l.strip_prefix("totp-secret: "))
            .expect("init prints the TOTP secret when not on a terminal");
        h.admin_totp = secret.trim().to_string();
        h.admin(&["repo", "create", "ehr"]);
        h.fingerprint = h.admin(&["fingerprint"]).trim().to_string();
        assert_eq!(h.fingerprint.len(), 64, "{}", h.fingerprint);
        h
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn audit_log(&self) -> PathBuf {
        self.path("data/audit.log")
    }

    /// `kura admin ARGS --config ...`, required to succeed; returns stdout.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = self.admin_output(args);
        assert!(out.status.success(), "kura admin {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn admin_output(&self, args: &[&str]) -> Output {
        let mut c = kura();
        c.arg("admin")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("KURA_ADMIN_PASSWORD_FILE", self.path("admin-pw"))
            .env("KURA_PASSWORD_FILE", self.path("repo-pw"));
        c.output().unwrap()
    }

    pub fn token(&self, role: &str, source: Option<&str>) -> String {
        let mut args = vec!["token", "create", "--repo", "ehr", "--role", role];
        if let Some(s) = source {
            args.extend(["--source", s]);
        }
        let out = self.admin(&args);
        assert_eq!(out.lines().count(), 1, "only the token on stdout: {out:?}");
        out.trim().to_string()
    }

    /// Start `kura serve` and wait until it accepts connections.
    pub fn start(&mut self) {
        let child = kura()
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "kura serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop `kura serve` (the vault becomes unreachable).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/ehr", self.port)
    }

    pub fn backend(&self, token: &str) -> Arc<RemoteBackend> {
        Arc::new(RemoteBackend::new(&self.url(), token, &self.fingerprint).unwrap())
    }

    pub fn open_repo(&self, token: &str) -> Repository {
        let repo = Repository::open(self.backend(token), REPO_PASSWORD.as_bytes()).unwrap();
        repo.load_index().unwrap();
        repo
    }

    /// A raw HTTPS request with curl (certificate not checked: the pinning is the client's
    /// job and is tested separately). Returns (status, body).
    pub fn curl(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-sk", "-o", "-", "-w", "\n%{http_code}", "-X", method])
            .arg(format!("https://127.0.0.1:{}{path}", self.port));
        if let Some(b) = bearer {
            c.arg("-H").arg(format!("Authorization: Bearer {b}"));
        }
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        let out = c.output().expect("curl runs");
        let all = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = all.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// The audit log's entries as JSON values.
    pub fn audit_entries(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.audit_log())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for VaultHarness {
    fn drop(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Write a small source tree with Japanese names and a larger file.
pub fn make_source(root: &Path, seed: u8) {
    std::fs::create_dir_all(root.join("患者/0001")).unwrap();
    std::fs::write(
        root.join("患者/0001/記録.txt"),
        format!("診療記録 {seed}\n"),
    )
    .unwrap();
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(31) as u8) ^ seed)
        .collect();
    std::fs::write(root.join("ehr.dump"), big).unwrap();
}

/// Every file under `a` has the same bytes under `b` (and the same set of files).
pub fn assert_same_tree(a: &Path, b: &Path) {
    fn files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let (mut fa, mut fb) = (Vec::new(), Vec::new());
    files(a, a, &mut fa);
    files(b, b, &mut fb);
    fa.sort();
    fb.sort();
    assert_eq!(fa, fb, "same files");
    for f in fa {
        assert_eq!(
            std::fs::read(a.join(&f)).unwrap(),
            std::fs::read(b.join(&f)).unwrap(),
            "{f:?}"
        );
    }
}

/// A TOTP code for the current 30-second step if not used yet, else for the next one (a code is
/// accepted once per account).
pub fn fresh_code(secret: &str, used: &mut Vec<String>) -> String {
    let s = kura_auth::TotpSecret::from_base32(secret).unwrap();
    loop {
        let code = kura_auth::totp::code_at(&s, chrono::Utc::now()).unwrap();
        if !used.contains(&code) {
            used.push(code.clone());
            return code;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// The code the enrolment just consumed (`kura admin init` / `user add` confirm with it).
pub fn enrolment_code(secret: &str) -> Vec<String> {
    let s = kura_auth::TotpSecret::from_base32(secret).unwrap();
    vec![kura_auth::totp::code_at(&s, chrono::Utc::now()).unwrap()]
}

/// Log in over HTTPS; returns the session id.
pub fn login(v: &VaultHarness, user: &str, password: &str, code: &str) -> String {
    let body = serde_json::json!({"user": user, "password": password, "totp": code}).to_string();
    let (status, answer) = v.curl("POST", "/login", None, Some(&body));
    assert_eq!(status, 200, "login of {user}: {answer}");
    serde_json::from_str::<serde_json::Value>(&answer).unwrap()["session"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `kura admin user add NAME` (TOTP unless `totp` is false); returns the TOTP secret.
pub fn add_user(v: &VaultHarness, name: &str, password: &str, totp: bool) -> String {
    add_user_with_codes(v, name, password, totp).0
}

/// Like [`add_user`], also returning the recovery codes printed once.
pub fn add_user_with_codes(
    v: &VaultHarness,
    name: &str,
    password: &str,
    totp: bool,
) -> (String, Vec<String>) {
    let pw = v.path(&format!("{name}-pw"));
    std::fs::write(&pw, format!("{password}\n")).unwrap();
    let mut c = kura();
    c.args(["admin", "user", "add", name, "--config"])
        .arg(&v.config)
        .env("KURA_USER_PASSWORD_FILE", &pw);
    if !totp {
        c.arg("--no-totp");
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("totp-secret: "))
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(
        !totp || !secret.is_empty(),
        "no TOTP secret printed: {stdout}"
    );
    let codes = stdout
        .lines()
        .skip_while(|l| !l.starts_with("recovery codes"))
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    (secret, codes)
}

pub fn grant(v: &VaultHarness, user: &str, role: &str, repo: &str) {
    v.admin(&["user", "grant", user, "--role", role, "--repo", repo]);
}
