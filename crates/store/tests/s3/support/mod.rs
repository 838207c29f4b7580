//! Shared by the S3 tests: find the SeaweedFS that `scripts/start-seaweedfs.sh` started, make a
//! fresh bucket per test with the admin identity, and open it with the backup identity.
#![allow(dead_code)]

use kura_store::s3::{S3Backend, S3Config};

pub struct Server {
    pub endpoint: String,
    admin: (String, String),
    backup: (String, String),
}

/// The server from the environment. Absent: skip with a message, unless KURA_REQUIRE_S3 is set
/// (then fail): scripts/test-all.sh sets it after starting SeaweedFS.
pub fn server(test: &str) -> Option<Server> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(endpoint) = var("KURA_TEST_S3_ENDPOINT") else {
        if var("KURA_REQUIRE_S3").is_some() {
            panic!("{test}: KURA_REQUIRE_S3 is set but KURA_TEST_S3_ENDPOINT is not: run `eval \"$(scripts/start-seaweedfs.sh)\"` first");
        }
        eprintln!("{test}: skipped: KURA_TEST_S3_ENDPOINT is not set (run `eval \"$(scripts/start-seaweedfs.sh)\"` to test against SeaweedFS)");
        return None;
    };
    let pair = |k: &str, s: &str| {
        (
            var(k).unwrap_or_else(|| panic!("{k} must be set with KURA_TEST_S3_ENDPOINT")),
            var(s).unwrap_or_else(|| panic!("{s} must be set with KURA_TEST_S3_ENDPOINT")),
        )
    };
    Some(Server {
        endpoint,
        admin: pair("KURA_TEST_S3_ADMIN_KEY", "KURA_TEST_S3_ADMIN_SECRET"),
        backup: pair("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    })
}

impl Server {
    /// A new bucket (with Object Lock when `lock`), created by the admin identity.
    pub fn bucket(&self, lock: bool) -> String {
        // Unique per process and call without a random-number crate (the CLI tests include this
        // file and do not depend on one).
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("kura-test-{}-{nanos:09}-{n}", std::process::id());
        self.admin(&name, "")
            .create_bucket(lock)
            .expect("admin creates a bucket");
        name
    }

    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("/{prefix}")
        };
        format!("s3:{}/{bucket}{prefix}", self.endpoint)
    }

    fn open(&self, creds: &(String, String), bucket: &str, prefix: &str) -> S3Backend {
        let cfg = S3Config::with_credentials(
            &self.url(bucket, prefix),
            &creds.0,
            &creds.1,
            None,
            "us-east-1",
        )
        .expect("valid test URL");
        S3Backend::new(cfg).expect("S3 backend")
    }

    /// The bucket as the backup client sees it (no bypass, no admin rights).
    pub fn backup(&self, bucket: &str, prefix: &str) -> S3Backend {
        self.open(&self.backup, bucket, prefix)
    }

    /// The bucket as the storage administrator sees it.
    pub fn admin(&self, bucket: &str, prefix: &str) -> S3Backend {
        self.open(&self.admin, bucket, prefix)
    }
}
