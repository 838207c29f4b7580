//! Crash safety: `kura backup` and `kura prune` are killed with SIGKILL at random moments (seeded),
//! then `check --read-data` must pass and every generation acknowledged before the kill must
//! restore bit for bit. 200 iterations by default; `KURA_CRASH_ITERATIONS` and `KURA_CRASH_SEED`
//! choose more (the opt-in long run) or another seed.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{restored, Kura};
use kura_testkit::{generate_hospital_dataset, tree_digest, DatasetSpec};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Change a few files so that each backup has new data to write.
fn churn(data: &std::path::Path, rng: &mut Rng, i: u64) {
    let dir = data.join(format!("new/{}", i % 7));
    std::fs::create_dir_all(&dir).unwrap();
    for j in 0..(1 + rng.below(4)) {
        let len = 1000 + rng.below(300_000) as usize;
        let mut buf = vec![0u8; len];
        for b in buf.iter_mut() {
            *b = (rng.next() >> 24) as u8;
        }
        std::fs::write(dir.join(format!("f{i}_{j}.bin")), &buf).unwrap();
    }
}

#[test]
fn kill_minus_nine_at_random_moments_loses_no_acknowledged_generation() {
    let iterations = env_u64("KURA_CRASH_ITERATIONS", 200);
    let seed = env_u64("KURA_CRASH_SEED", 20261121);
    let mut rng = Rng(seed | 1);
    let k = Kura::init();
    let data = k.path("data");
    generate_hospital_dataset(
        &data,
        &DatasetSpec {
            seed,
            total_bytes: 3 << 20,
        },
    )
    .unwrap();
    // id → digest of the tree it was taken from; generations tagged `keep` are never forgotten.
    let mut acknowledged: BTreeMap<String, String> = BTreeMap::new();
    // Calibrate: kill moments are spread over 1.3 times how long an uninterrupted backup takes
    // here, so they land in every phase (start-up, key derivation, packing, index, commit).
    let started = std::time::Instant::now();
    let first = k.backup_json(&["--tag", "keep", data.to_str().unwrap()]);
    acknowledged.insert(
        first["snapshot"].as_str().unwrap().to_string(),
        tree_digest(&data).unwrap(),
    );
    let window = (started.elapsed().as_millis() as u64 * 13 / 10).max(50);
    let (mut kills, mut completed) = (0, 0);
    for i in 0..iterations {
        churn(&data, &mut rng, i);
        let digest = tree_digest(&data).unwrap();
        let prune = rng.below(4) == 0;
        let mut cmd = k.cmd();
        if prune {
            cmd.args([
                "forget",
                "--keep-tag",
                "keep",
                "--keep-last",
                "2",
                "--prune",
            ]);
        } else {
            let tag = if rng.below(2) == 0 { "keep" } else { "scratch" };
            cmd.args(["backup", "--json", "--tag", tag, data.to_str().unwrap()]);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(window)));
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap();
            kills += 1;
        }
        let out = child.wait_with_output().unwrap();
        if !killed {
            assert!(
                out.status.success() || out.status.code() == Some(4),
                "iteration {i}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            completed += 1;
            if !prune {
                let id = common::last_json_line(&out)["snapshot"]
                    .as_str()
                    .unwrap()
                    .to_string();
                if k.snapshots()
                    .iter()
                    .any(|s| s["id"] == id.as_str() && s["tags"][0] == "keep")
                {
                    acknowledged.insert(id, digest);
                }
            }
        }
        let check = k.run(&["check", "--read-data"]);
        assert!(
            check.status.success(),
            "iteration {i} (seed {seed}, {}): check failed: {}",
            if prune { "prune" } else { "backup" },
            common::stderr(&check)
        );
        if i % 50 == 49 || i + 1 == iterations {
            verify_all(&k, &data, &acknowledged, i);
        }
    }
    eprintln!("{iterations} iterations (window {window} ms): {kills} killed, {completed} completed, {} acknowledged generations verified", acknowledged.len());
    assert!(
        kills > iterations / 10,
        "the harness must actually kill processes ({kills} of {iterations})"
    );
    assert!(
        completed > 0,
        "some runs must complete so that acknowledged generations accumulate"
    );
}

fn verify_all(k: &Kura, data: &std::path::Path, acknowledged: &BTreeMap<String, String>, i: u64) {
    for (id, digest) in acknowledged {
        let target = k.path(&format!("verify-{i}-{}", &id[..8]));
        let out = k.run(&["restore", id, "--target", target.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "acknowledged generation {id} does not restore: {}",
            common::stderr(&out)
        );
        assert_eq!(
            &tree_digest(&restored(&target, data)).unwrap(),
            digest,
            "generation {id} restored different bytes"
        );
        std::fs::remove_dir_all(&target).unwrap();
    }
}
