//! Exported media: a self-contained repository on removable media, its manifest, and the vault's
//! record of which generations are on which medium and when each was last verified.
//!
//! `kura export --to DIR` copies generations (see [`crate::copy`]) into a new repository at `DIR`
//! and then writes `DIR/kura-manifest.json`: the generations it holds and the size and BLAKE3 of
//! every repository file. The manifest lets anyone check the medium's bytes offline without the
//! password (`b3sum` is enough); `kura check --read-data` on `DIR` with the password checks every
//! generation in depth. Nothing on the medium refers to the vault: it restores on a machine that
//! can reach neither vault.
//!
//! The vault keeps one JSON record per medium in `data_dir/media/LABEL.json` (replaced atomically),
//! updated by `kura media verify`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::copy::CopiedGeneration;
use crate::error::{Result, ServerError};
use crate::fsutil::{private_dir, write_private};

/// The manifest's file name inside an exported directory.
pub const MANIFEST: &str = "kura-manifest.json";
const FORMAT: &str = "kura-export-1";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestGeneration {
    /// The generation's id on the medium.
    pub id: String,
    /// Its id in the repository it was exported from.
    pub source_id: String,
    pub source: String,
    pub host: String,
    pub time: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
    pub paths: Vec<String>,
    pub bytes_total: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path relative to the exported directory, with `/` separators.
    pub path: String,
    pub size: u64,
    pub blake3: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at: DateTime<Utc>,
    /// Where the generations came from (a path or vault URL; no credential).
    pub exported_from: String,
    pub generations: Vec<ManifestGeneration>,
    pub files: Vec<ManifestFile>,
}

/// What [`verify_manifest`] found.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MediumCheck {
    pub files_checked: usize,
    pub bytes_checked: u64,
    /// Files whose size or BLAKE3 differ from the manifest.
    pub damaged: Vec<String>,
    /// Files in the manifest that are gone.
    pub missing: Vec<String>,
}

impl MediumCheck {
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty() && self.missing.is_empty()
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ServerError + 'a {
    move |e| ServerError::io(op, path, e)
}

/// Every regular file under `dir` except the manifest, as sorted relative paths.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io("read directory", &d))? {
            let e = e.map_err(io("read directory", &d))?;
            let ty = e.file_type().map_err(io("inspect", &d))?;
            let p = e.path();
            if ty.is_dir() {
                stack.push(p);
            } else if ty.is_file() && p != dir.join(MANIFEST) {
                out.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(io("open", path))?;
    let mut h = blake3::Hasher::new();
    let n = std::io::copy(&mut f, &mut h).map_err(io("read", path))?;
    Ok((n, h.finalize().to_hex().to_string()))
}

/// Hash every file of the exported repository at `dir` and write the manifest.
pub fn write_manifest(dir: &Path, from: &str, gens: &[CopiedGeneration]) -> Result<Manifest> {
    let mut files = Vec::new();
    for rel in files_under(dir)? {
        let (size, blake3) = hash_file(&dir.join(&rel))?;
        files.push(ManifestFile {
            path: rel.to_string_lossy().replace('\\', "/"),
            size,
            blake3,
        });
    }
    let generations = gens
        .iter()
        .map(|g| ManifestGeneration {
            id: g.dest_id.clone(),
            source_id: g.source_id.clone(),
            source: g.source.clone(),
            host: g.host.clone(),
            time: g.time,
            committed_at: g.committed_at,
            paths: g.paths.clone(),
            bytes_total: g.bytes_total,
        })
        .collect();
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: Utc::now(),
        exported_from: from.to_string(),
        generations,
        files,
    };
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ServerError::BadRequest(format!("manifest does not serialise: {e}")))?;
    write_private(&dir.join(MANIFEST), &bytes)?;
    Ok(manifest)
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(io("read", &path))?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| ServerError::Config {
        path: path.clone(),
        detail: format!("not a Kura export manifest ({e})"),
    })?;
    if m.format != FORMAT {
        return Err(ServerError::Config {
            path,
            detail: format!("unknown manifest format {:?}", m.format),
        });
    }
    Ok(m)
}

/// Check every file named in the manifest of `dir` against its size and BLAKE3.
pub fn verify_manifest(dir: &Path) -> Result<(Manifest, MediumCheck)> {
    let m = read_manifest(dir)?;
    let mut check = MediumCheck::default();
    for f in &m.files {
        // The manifest may come from an untrusted medium: never leave `dir`.
        let rel = Path::new(&f.path);
        let safe = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        let path = dir.join(rel);
        if !safe {
            check.damaged.push(f.path.clone());
            continue;
        }
        match hash_file(&path) {
            Ok((size, hash)) => {
                check.files_checked += 1;
                check.bytes_checked += size;
                if size != f.size || hash != f.blake3 {
                    check.damaged.push(f.path.clone());
                }
            }
            Err(_) if !path.exists() => check.missing.push(f.path.clone()),
            Err(_) => check.damaged.push(f.path.clone()),
        }
    }
    Ok((m, check))
}

/// The vault's record of one medium.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MediumRecord {
    pub label: String,
    /// Where the medium was mounted when last written or verified.
    pub path: PathBuf,
    pub exported_at: DateTime<Utc>,
    pub generations: Vec<ManifestGeneration>,
    pub last_verified: Option<DateTime<Utc>>,
    pub last_result: Option<MediumCheck>,
}

fn valid_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !label.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ServerError::BadRequest(format!(
            "medium label {label:?}: use 1-64 letters, digits, '-', '_' or '.'"
        )))
    }
}

fn media_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("media")
}

pub fn save_medium(data_dir: &Path, rec: &MediumRecord) -> Result<()> {
    valid_label(&rec.label)?;
    private_dir(&media_dir(data_dir))?;
    let bytes = serde_json::to_vec_pretty(rec)
        .map_err(|e| ServerError::BadRequest(format!("record does not serialise: {e}")))?;
    write_private(
        &media_dir(data_dir).join(format!("{}.json", rec.label)),
        &bytes,
    )
}

pub fn load_medium(data_dir: &Path, label: &str) -> Result<MediumRecord> {
    valid_label(label)?;
    let path = media_dir(data_dir).join(format!("{label}.json"));
    let bytes = std::fs::read(&path).map_err(io("read", &path))?;
    serde_json::from_slice(&bytes).map_err(|e| ServerError::Config {
        path,
        detail: format!("damaged medium record ({e})"),
    })
}

/// All media records, sorted by label.
pub fn list_media(data_dir: &Path) -> Result<Vec<MediumRecord>> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(media_dir(data_dir)) else {
        return Ok(out);
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(label) = name.strip_suffix(".json") {
            out.push(load_medium(data_dir, label)?);
        }
    }
    out.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_detects_changed_missing_and_escaping_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("data/ab")).unwrap();
        std::fs::write(d.path().join("config"), b"c").unwrap();
        std::fs::write(d.path().join("data/ab/abcd"), b"pack bytes").unwrap();
        let m = write_manifest(d.path(), "here", &[]).unwrap();
        assert_eq!(m.files.len(), 2, "{:?}", m.files);
        assert!(verify_manifest(d.path()).unwrap().1.is_ok());
        std::fs::write(d.path().join("data/ab/abcd"), b"pack bytez").unwrap();
        std::fs::remove_file(d.path().join("config")).unwrap();
        let (_, c) = verify_manifest(d.path()).unwrap();
        assert_eq!(c.damaged, vec!["data/ab/abcd".to_string()]);
        assert_eq!(c.missing, vec!["config".to_string()]);
        let mut bad = read_manifest(d.path()).unwrap();
        bad.files[0].path = "../outside".into();
        std::fs::write(d.path().join(MANIFEST), serde_json::to_vec(&bad).unwrap()).unwrap();
        assert!(verify_manifest(d.path()).unwrap().1.damaged[0].contains(".."));
    }

    #[test]
    fn media_records_round_trip_and_labels_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let rec = MediumRecord {
            label: "lto-2025-01".into(),
            path: "/mnt/x".into(),
            exported_at: Utc::now(),
            generations: Vec::new(),
            last_verified: None,
            last_result: None,
        };
        save_medium(d.path(), &rec).unwrap();
        assert_eq!(list_media(d.path()).unwrap()[0].label, "lto-2025-01");
        let mut evil = rec.clone();
        evil.label = "../../etc".into();
        assert!(save_medium(d.path(), &evil).is_err());
        assert!(load_medium(d.path(), "../x").is_err());
    }
}
