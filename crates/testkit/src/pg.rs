//! The throw-away PostgreSQL that `scripts/test-all.sh` starts for the database tests (dumps,
//! restore drills), found through `KURA_TEST_PGHOST`, `KURA_TEST_PGPORT` and `KURA_TEST_PGUSER`.
//!
//! One place for what three test suites need: find the server (skip with a message outside the
//! suite, fail in CI), point libpq programs at it, run SQL, make and drop databases, and the
//! `pg_dump` command line a backup reads from.

use std::process::Command;

/// The test server's connection parameters.
#[derive(Clone, Debug)]
pub struct TestPg {
    /// The Unix-socket directory (or host name) of the server.
    pub host: String,
    /// Its port.
    pub port: String,
    /// The superuser the suite created (`kura`).
    pub user: String,
}

impl TestPg {
    /// The server from the environment, or `None` with a message naming `test` when it is not
    /// set. With `CI` set a missing server is a failure: the suite always starts one.
    pub fn from_env(test: &str) -> Option<TestPg> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        match (
            var("KURA_TEST_PGHOST"),
            var("KURA_TEST_PGPORT"),
            var("KURA_TEST_PGUSER"),
        ) {
            (Some(host), Some(port), Some(user)) => Some(TestPg { host, port, user }),
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{test}: KURA_TEST_PGHOST/PGPORT/PGUSER must be set in CI (scripts/test-all.sh starts PostgreSQL)"
                );
                eprintln!(
                    "{test}: skipped: no PostgreSQL (run the suite with scripts/test-all.sh)"
                );
                None
            }
        }
    }

    /// `PGHOST`, `PGPORT` and `PGUSER` for libpq programs (psql, pg_dump, pg_restore, createdb)
    /// and for the commands those programs are started from.
    pub fn vars(&self) -> [(&'static str, &str); 3] {
        [
            ("PGHOST", self.host.as_str()),
            ("PGPORT", self.port.as_str()),
            ("PGUSER", self.user.as_str()),
        ]
    }

    /// Point `c` (and whatever it starts) at the test server.
    pub fn apply(&self, c: &mut Command) {
        c.envs(self.vars());
    }

    /// Run `sql` in database `db` and return its unaligned, trimmed output; panics with psql's
    /// message on an error (a test setup that fails must stop the test).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut c = Command::new("psql");
        self.apply(&mut c);
        let args = [
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db,
            "-c",
            sql,
        ];
        let out = c
            .args(args)
            .output()
            .expect("run psql (is postgresql-client installed?)");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A fresh UTF-8 database `db` (dropped first if it exists) holding `sql`.
    pub fn create_db(&self, db: &str, sql: &str) {
        self.drop_db(db);
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {db} ENCODING 'UTF8' TEMPLATE template0"),
        );
        if !sql.trim().is_empty() {
            self.psql(db, sql);
        }
    }

    /// Drop database `db` if it exists.
    pub fn drop_db(&self, db: &str) {
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
    }

    /// The `pg_dump -Fc` command line of `db`, for `kura backup --stdin-from-command --`.
    pub fn dump_argv(&self, db: &str) -> Vec<String> {
        let argv = [
            "pg_dump", "-Fc", "-h", &self.host, "-p", &self.port, "-U", &self.user, db,
        ];
        argv.iter().map(|s| s.to_string()).collect()
    }
}
