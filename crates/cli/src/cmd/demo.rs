//! `kura demo`: Kura's main job end to end on a generated hospital-like data set, with nothing to
//! set up: a local repository beside the data, two generations around a ~1% change, both restored
//! and compared byte for byte with what was backed up, and a full verification of every stored byte.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use kura_engine::backup::{backup, BackupInput, BackupOptions};
use kura_engine::check::{check, ReadData};
use kura_engine::restore::{restore, RestoreOptions};
use kura_engine::Progress;
use kura_repo::{InitOptions, Repository};
use kura_store::LocalBackend;
use kura_testkit::{generate_hospital_dataset, mutate_dataset, tree_digest, DatasetSpec};

use crate::args::{DemoArgs, Global};
use crate::output::human_bytes;

const MARKER: &str = ".kura-demo";

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `kura demo`: choose another --dir",
                dir.display()
            );
        }
        fs::remove_dir_all(dir)
            .with_context(|| format!("removing the previous demo in {}", dir.display()))?;
    }
    fs::create_dir_all(dir)?;
    fs::write(dir.join(MARKER), "created by kura demo; safe to delete\n")?;
    Ok(())
}

fn random_password(path: &Path) -> Result<Vec<u8>> {
    let mut raw = [0u8; 24];
    fs::File::open("/dev/urandom")?.read_exact_compat(&mut raw)?;
    let pw: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{pw}")?;
    Ok(pw.into_bytes())
}

trait ReadExact {
    fn read_exact_compat(&mut self, buf: &mut [u8]) -> std::io::Result<()>;
}
impl<R: std::io::Read> ReadExact for R {
    fn read_exact_compat(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.read_exact(buf)
    }
}

fn step(n: u32, text: &str) {
    println!("\n[{n}/7] {text}");
}

pub fn run(g: &Global, a: &DemoArgs) -> Result<i32> {
    let dir = std::path::absolute(&a.dir).context("resolving --dir")?;
    fresh_dir(&dir)?;
    let (repo_dir, data) = (dir.join("repo"), dir.join("data").join("hospital"));
    println!("Kura demo in {}", dir.display());

    step(
        1,
        &format!(
            "generating a hospital-like data set of about {} MiB",
            a.size_mib
        ),
    );
    let stats = generate_hospital_dataset(
        &data,
        &DatasetSpec {
            seed: 2026,
            total_bytes: a.size_mib << 20,
        },
    )?;
    println!(
        "      {} files, {} (EHR dumps, SS-MIX2 HL7 files, DICOM images, scanned PDFs)",
        stats.files(),
        human_bytes(stats.bytes())
    );
    let digest_v1 = tree_digest(&data)?;

    step(
        2,
        "creating an encrypted repository (Argon2id-wrapped key, one-time recovery key)",
    );
    let pw = random_password(&dir.join("password"))?;
    let backend = Arc::new(LocalBackend::new(&repo_dir));
    let (repo, recovery) = Repository::init(backend, &pw, &InitOptions::default())?;
    let mut rk = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("recovery-key.txt"))?;
    writeln!(rk, "{recovery}")?;
    println!(
        "      repository {} ; password in {} ; recovery key in {}",
        repo_dir.display(),
        dir.join("password").display(),
        dir.join("recovery-key.txt").display()
    );
    repo.load_index()?;

    let opts = BackupOptions {
        source: "hospital".into(),
        tags: vec!["demo".into()],
        threads: g.threads,
        ..Default::default()
    };
    step(3, "first generation (full backup)");
    let first = timed_backup(&repo, &data, &opts)?;

    step(4, "changing about 1% of the data (edits inside dumps, new results, new images), second generation");
    let m = mutate_dataset(&data, 7, 0.01)?;
    println!(
        "      changed {} in {} files, {} new files, {} deleted",
        human_bytes(m.bytes_changed),
        m.files_changed,
        m.files_new,
        m.files_deleted
    );
    let second = timed_backup(&repo, &data, &opts)?;
    let digest_v2 = tree_digest(&data)?;

    step(
        5,
        "restoring both generations and comparing them with the originals",
    );
    for (label, id, snap, expected) in [
        ("first", &first.0, &first.1, &digest_v1),
        ("second", &second.0, &second.1, &digest_v2),
    ] {
        let target = dir.join(format!("restore-{label}"));
        let started = Instant::now();
        let summary = restore(
            &repo,
            snap,
            &RestoreOptions {
                target: target.clone(),
                threads: g.threads,
                ..Default::default()
            },
            &Progress::default(),
        )?;
        let restored_root: PathBuf = target.join(data.strip_prefix("/").unwrap_or(&data));
        let got = tree_digest(&restored_root)?;
        let verdict = if &got == expected && summary.problems.is_empty() {
            "identical"
        } else {
            "DIFFERENT"
        };
        println!(
            "      generation {} ({label}): {} files in {:.1} s, content {verdict}",
            id.short(),
            summary.files,
            started.elapsed().as_secs_f64()
        );
        if verdict != "identical" {
            bail!(
                "the {label} generation did not restore exactly: this is a bug, please report it"
            );
        }
    }

    step(6, "verifying every stored byte (check --read-data)");
    let report = check(&repo, ReadData::All, g.threads, &Progress::default())?;
    println!(
        "      {} generations, {} packs, {} blobs read and verified: {}",
        report.snapshots,
        report.packs_read,
        report.blobs,
        if report.is_ok() {
            "no errors"
        } else {
            "ERRORS"
        }
    );
    if !report.is_ok() {
        bail!("check found errors: {:?}", report.errors);
    }

    step(7, "try it yourself");
    println!(
        "      export KURA_REPOSITORY={} KURA_PASSWORD_FILE={}",
        repo_dir.display(),
        dir.join("password").display()
    );
    println!(
        "      kura snapshots ; kura diff {} {} ; kura check --read-data",
        first.0.short(),
        second.0.short()
    );
    Ok(crate::exit::SUCCESS)
}

fn timed_backup(
    repo: &Repository,
    data: &Path,
    opts: &BackupOptions,
) -> Result<(kura_format::FileId, kura_format::snapshot::Snapshot)> {
    let r = backup(
        repo,
        BackupInput::Paths(vec![data.to_path_buf()]),
        opts,
        &Progress::default(),
    )?;
    let s = &r.snapshot.stats;
    println!(
        "      generation {}: {} new, {} changed, {} unchanged files; read {}, stored {} more, {:.1} s",
        r.id.short(),
        s.files_new,
        s.files_changed,
        s.files_unchanged,
        human_bytes(s.bytes_read),
        human_bytes(s.bytes_added),
        s.duration_ms as f64 / 1000.0
    );
    Ok((r.id, r.snapshot))
}
