//! Storing a clinical index in the repository and finding it again.
//!
//! Layout (all encrypted like every other object, nothing in clear on disk):
//! - the index JSON (`ClinicalIndex::to_json`) cut into content-defined pieces with the
//!   repository's own chunker, each stored as a Data blob. The JSON lists files in path order,
//!   so an unchanged stretch of the tree gives the same pieces as last time and is stored once;
//!   a daily index of an unchanged hospital costs almost nothing;
//! - a manifest (JSON, one Data blob) naming the generation, the format, the pieces in order,
//!   the parse report and the files that were not parsed;
//! - a `clinical` metadata record (snapshot → manifest, plus the pieces so that prune keeps
//!   them without reading the manifest).
//!
//! Write order is the repository's usual one: blobs, then `BlobWriter::finish` (packs and index
//! durable), then the record. A crash before the record leaves only unreferenced blobs, which
//! prune removes; a record never points at blobs that are not durable.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use kura_clinical::{ClinicalIndex, FileFormat, ParseReport};
use kura_engine::chunker::Chunker;
use kura_format::pack::BlobKind;
use kura_format::{BlobId, FileId};
use kura_repo::meta::MetaRecord;
use kura_repo::{BlobWriter, Repository};
use serde::{Deserialize, Serialize};

/// Identifies a manifest blob (a blob is just bytes: this says what the bytes are).
const MANIFEST_KIND: &str = "kura-clinical-index";
const MANIFEST_VERSION: u32 = 1;
/// Refuse manifests or indexes claiming absurd sizes before allocating for them.
const MAX_MANIFEST_LEN: usize = 64 << 20;
const MAX_INDEX_LEN: u64 = 16 << 30;

/// A file the index does not cover, and why (the parse report counts only files given to the
/// parser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotParsed {
    pub path: String,
    pub reason: String,
}

/// What a stored clinical index is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub kind: String,
    pub version: u32,
    pub snapshot: FileId,
    pub source: String,
    /// `ss-mix2` or `fhir`.
    pub format: String,
    pub as_of: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub index_bytes: u64,
    pub pieces: Vec<BlobId>,
    pub report: ParseReport,
    #[serde(default)]
    pub not_parsed: Vec<NotParsed>,
}

/// The command-line name of a format.
pub fn format_name(f: FileFormat) -> &'static str {
    match f {
        FileFormat::Ssmix2 => "ss-mix2",
        FileFormat::Fhir => "fhir",
    }
}

pub fn parse_format(name: &str) -> Result<FileFormat> {
    match name {
        "ss-mix2" => Ok(FileFormat::Ssmix2),
        "fhir" => Ok(FileFormat::Fhir),
        other => bail!("clinical format {other:?} is not known: use ss-mix2 or fhir"),
    }
}

/// Where a stored index was put.
pub struct Stored {
    pub manifest_id: BlobId,
    pub pieces: usize,
    pub pieces_new: usize,
}

/// Store `index` with its manifest and record. `manifest.pieces`/`index_bytes`/`created_at`
/// are filled in here.
pub fn save(repo: &Repository, index: &ClinicalIndex, mut manifest: Manifest) -> Result<Stored> {
    let json = index.to_json()?;
    let writer = BlobWriter::new(repo);
    let chunker = Chunker::new(repo.config().chunker, repo.key().chunker_seed());
    let mut pieces = Vec::new();
    let mut pieces_new = 0;
    chunker.for_each_chunk(json.as_slice(), |piece| -> Result<()> {
        let (id, added) = writer.add(BlobKind::Data, piece)?;
        pieces.push(id);
        pieces_new += usize::from(added);
        Ok(())
    })?;
    manifest.kind = MANIFEST_KIND.into();
    manifest.version = MANIFEST_VERSION;
    manifest.index_bytes = json.len() as u64;
    manifest.pieces = pieces.clone();
    manifest.created_at = Utc::now();
    let (manifest_id, _) = writer.add(BlobKind::Data, &serde_json::to_vec(&manifest)?)?;
    writer
        .finish()
        .context("writing the clinical index to the repository")?;
    repo.save_meta(&MetaRecord::ClinicalIndex {
        snapshot: manifest.snapshot,
        manifest: manifest_id,
        blobs: pieces,
        created_at: manifest.created_at,
    })
    .context("recording the clinical index in the repository")?;
    Ok(Stored {
        manifest_id,
        pieces: manifest.pieces.len(),
        pieces_new,
    })
}

/// The manifest of every generation that has a clinical index: the newest record per
/// generation wins (an index rebuilt with `kura clinical index` replaces the older one).
/// Damaged records are skipped with a warning: one bad record must not hide every index
/// during an outage.
pub fn records(repo: &Repository) -> Result<HashMap<FileId, BlobId>> {
    let (records, damaged) = repo.list_meta()?;
    for (name, e) in &damaged {
        eprintln!("warning: metadata record {name} skipped ({e}); run `kura check`");
    }
    let mut newest: HashMap<FileId, (DateTime<Utc>, BlobId)> = HashMap::new();
    for (_, r) in records {
        if let MetaRecord::ClinicalIndex {
            snapshot,
            manifest,
            created_at,
            ..
        } = r
        {
            let e = newest.entry(snapshot).or_insert((created_at, manifest));
            if created_at > e.0 {
                *e = (created_at, manifest);
            }
        }
    }
    Ok(newest.into_iter().map(|(s, (_, m))| (s, m)).collect())
}

pub fn load_manifest(repo: &Repository, snapshot: &FileId, id: &BlobId) -> Result<Manifest> {
    let bytes = repo
        .read_blob(id)
        .with_context(|| format!("reading clinical index manifest {}", id.short()))?;
    if bytes.len() > MAX_MANIFEST_LEN {
        bail!(
            "clinical index manifest {} is {} bytes, more than any index needs: it is not a manifest; rebuild with `kura clinical index`",
            id.short(),
            bytes.len()
        );
    }
    let m: Manifest = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "clinical index manifest {} cannot be read; rebuild it with `kura clinical index`",
            id.short()
        )
    })?;
    if m.kind != MANIFEST_KIND || m.version != MANIFEST_VERSION {
        bail!(
            "blob {} is a {:?} version {} object, not a clinical index manifest this build reads; rebuild with `kura clinical index`",
            id.short(),
            m.kind,
            m.version
        );
    }
    if &m.snapshot != snapshot {
        bail!(
            "clinical index manifest {} belongs to generation {}, not {} as its record says: the record is damaged or forged; rebuild with `kura clinical index`",
            id.short(),
            m.snapshot.short(),
            snapshot.short()
        );
    }
    Ok(m)
}

/// Read the pieces of an index and decode it.
pub fn load_index(repo: &Repository, m: &Manifest) -> Result<ClinicalIndex> {
    if m.index_bytes > MAX_INDEX_LEN {
        bail!(
            "clinical index of generation {} claims {} bytes: refused; rebuild with `kura clinical index`",
            m.snapshot.short(),
            m.index_bytes
        );
    }
    let mut json = Vec::with_capacity(m.index_bytes as usize);
    for id in &m.pieces {
        let piece = repo.read_blob(id).with_context(|| {
            format!(
                "clinical index of generation {}: piece {} cannot be read; run `kura check --read-data`, or use another generation with --snapshot",
                m.snapshot.short(),
                id.short()
            )
        })?;
        json.extend_from_slice(&piece);
    }
    if json.len() as u64 != m.index_bytes {
        bail!(
            "clinical index of generation {} is {} bytes, its manifest says {}: rebuild with `kura clinical index`",
            m.snapshot.short(),
            json.len(),
            m.index_bytes
        );
    }
    ClinicalIndex::from_json(&json).with_context(|| {
        format!(
            "clinical index of generation {} cannot be decoded",
            m.snapshot.short()
        )
    })
}
