//! The vault's TOML configuration (documented in CONFIG.md, example in examples/vault.toml).
//!
//! Every setting except `listen` and `data_dir` has a default taken from the MHLW guideline and
//! kura-auth's defaults; a setting that would weaken a rule is refused by kura-auth's validation
//! when the vault opens, not silently accepted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Result, ServerError};

/// The parsed configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// Address and port to listen on, e.g. `127.0.0.1:8443`.
    pub listen: SocketAddr,
    /// Where the vault keeps everything: certificate, accounts, audit log, repositories.
    pub data_dir: PathBuf,
    /// With `true`, deletions need a plan approved by a second administrator (four-eyes); direct
    /// removal requests are refused.
    #[serde(default = "yes")]
    pub require_approval: bool,
    /// With `true`, clinician accounts may log in without a second factor.
    #[serde(default)]
    pub clinician_mfa_exempt: bool,
    /// Largest accepted skew, in seconds, between a snapshot's `committed_at` and the vault's clock
    /// when a client stores a snapshot file directly instead of through the commit route.
    #[serde(default = "default_tolerance")]
    pub commit_time_tolerance_secs: i64,
    /// A provided certificate chain (PEM); without it the vault makes a self-signed one.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The provided certificate's private key (PEM).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Lockout settings.
    #[serde(default)]
    pub lockout: LockoutSettings,
    /// Session settings.
    #[serde(default)]
    pub sessions: SessionSettings,
    /// Accounts unused this many days are disabled.
    #[serde(default)]
    pub inactivity_days: Option<i64>,
}

/// `[lockout]`: unset fields keep kura-auth's defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSettings {
    pub max_failures: Option<u32>,
    pub base_lock_secs: Option<i64>,
    pub max_lock_secs: Option<i64>,
    pub source_max_failures: Option<u32>,
    pub source_window_secs: Option<i64>,
    pub source_block_secs: Option<i64>,
}

/// `[sessions]`: unset fields keep kura-auth's defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub idle_timeout_secs: Option<i64>,
    pub absolute_timeout_secs: Option<i64>,
}

fn yes() -> bool {
    true
}

fn default_tolerance() -> i64 {
    300
}

/// Largest configuration file read, so a wrong path (a disk image) fails fast.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl VaultConfig {
    /// Read and check a configuration file. A relative `data_dir` is taken relative to the
    /// directory of the configuration file, so a config and its data can move together.
    pub fn load(path: &Path) -> Result<Self> {
        let err = |detail: String| ServerError::Config {
            path: path.to_path_buf(),
            detail,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(err("the file is larger than 1 MiB".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut config: VaultConfig = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if config.data_dir.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            config.data_dir = base.join(&config.data_dir);
        }
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(err("set both tls_cert and tls_key, or neither".into()));
        }
        if !(0..=3600).contains(&config.commit_time_tolerance_secs) {
            return Err(err(
                "commit_time_tolerance_secs must be between 0 and 3600".into()
            ));
        }
        config
            .auth_config()
            .validate()
            .map_err(|e| err(e.to_string()))?;
        Ok(config)
    }

    /// The kura-auth settings this configuration asks for.
    pub fn auth_config(&self) -> kura_auth::AuthConfig {
        let mut c = kura_auth::AuthConfig::default();
        let l = &self.lockout;
        set(&mut c.lockout.max_failures, l.max_failures);
        set(&mut c.lockout.base_lock_secs, l.base_lock_secs);
        set(&mut c.lockout.max_lock_secs, l.max_lock_secs);
        set(&mut c.lockout.source_max_failures, l.source_max_failures);
        set(&mut c.lockout.source_window_secs, l.source_window_secs);
        set(&mut c.lockout.source_block_secs, l.source_block_secs);
        set(
            &mut c.sessions.idle_timeout_secs,
            self.sessions.idle_timeout_secs,
        );
        set(
            &mut c.sessions.absolute_timeout_secs,
            self.sessions.absolute_timeout_secs,
        );
        set(&mut c.inactivity_days, self.inactivity_days);
        c
    }

    pub fn repos_dir(&self) -> PathBuf {
        self.data_dir.join("repos")
    }
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }
    pub fn anchors_dir(&self) -> PathBuf {
        self.data_dir.join("anchors")
    }
    pub fn audit_path(&self) -> PathBuf {
        self.data_dir.join("audit.log")
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<VaultConfig> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vault.toml");
        std::fs::write(&p, text).unwrap();
        VaultConfig::load(&p)
    }

    #[test]
    fn minimal_config_gets_safe_defaults_and_relative_data_dir() {
        let c = load("listen = \"127.0.0.1:8443\"\ndata_dir = \"data\"\n").unwrap();
        assert!(c.require_approval, "four-eyes is on unless switched off");
        assert!(!c.clinician_mfa_exempt);
        assert!(c.data_dir.is_absolute() && c.data_dir.ends_with("data"));
        assert_eq!(c.auth_config().lockout.max_failures, 10);
        assert_eq!(c.auth_config().inactivity_days, 90);
    }

    #[test]
    fn settings_are_applied_and_weakening_ones_refused() {
        let c = load("listen = \"127.0.0.1:1\"\ndata_dir = \"/x\"\n[lockout]\nmax_failures = 5\n")
            .unwrap();
        assert_eq!(c.auth_config().lockout.max_failures, 5);
        let e =
            load("listen = \"127.0.0.1:1\"\ndata_dir = \"/x\"\n[lockout]\nmax_failures = 1000\n")
                .unwrap_err();
        assert!(e.to_string().contains("vault.toml"), "{e}");
        assert!(load("listen = \"127.0.0.1:1\"\ndata_dir = \"/x\"\ntypo = 1\n").is_err());
        assert!(load("listen = \"nowhere\"\ndata_dir = \"/x\"\n").is_err());
        assert!(load("listen = \"127.0.0.1:1\"\ndata_dir = \"/x\"\ntls_cert = \"a\"\n").is_err());
    }
}
