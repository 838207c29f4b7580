//! Storing a clinical index in the repository and finding it again.
//!
//! Layout (all encrypted and compressed like every other object, nothing in clear on disk;
//! FORMAT.md has the bytes):
//! - the extracts: the index JSON ([`ClinicalIndex::to_json`]: every file's extract) cut into
//!   content-defined pieces with the repository's own chunker, each stored as a Data blob. The
//!   JSON lists files in path order, so an unchanged stretch of the tree gives the same pieces
//!   as last time and is stored once; a daily index of an unchanged hospital costs almost
//!   nothing. Only the next backup reads them, to reuse the extracts of unchanged files;
//! - (manifest version 2) the resolved per-patient summaries in shards, one Data blob each,
//!   a patient in shard [`shard_of`]`(id, shards)`; about [`PATIENTS_PER_SHARD`] patients per
//!   shard, so a summary lookup decrypts and parses one small blob instead of the whole index
//!   (with 100,000 patients the extracts are over a gigabyte of JSON);
//! - (version 2) the patient table (every patient's brief, for kana and birth-date search)
//!   and the ward list (inpatients with allergies and current medication), each as pieces;
//! - a manifest (JSON, one Data blob) naming the generation, the format, all the above in
//!   order, the parse report and the files that were not parsed;
//! - a `clinical` metadata record (snapshot → manifest, plus every blob so that prune keeps
//!   them without reading the manifest).
//!
//! Version 1 manifests (extracts only) are still read: their summaries are rebuilt from the
//! extracts on load, which is slow at scale but correct.
//!
//! Write order is the repository's usual one: blobs, then `BlobWriter::finish` (packs and index
//! durable), then the record. A crash before the record leaves only unreferenced blobs, which
//! prune removes; a record never points at blobs that are not durable.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use kura_clinical::{
    shard_of, ClinicalIndex, FileExtract, FileFormat, ParseReport, PatientBrief, PatientSummary,
    PatientTable, WardEntry,
};
use kura_format::pack::BlobKind;
use kura_format::{BlobId, FileId};
use kura_repo::meta::MetaRecord;
use kura_repo::{BlobWriter, RepoError, Repository};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::chunker::Chunker;

/// Identifies a manifest blob (a blob is just bytes: this says what the bytes are).
pub const MANIFEST_KIND: &str = "kura-clinical-index";
/// Manifest version written by this build (version 1 is still read).
pub const MANIFEST_VERSION: u32 = 2;
/// Identifies a shard blob.
pub const SHARD_KIND: &str = "kura-clinical-shard";
/// Patients per shard the writer aims at: a shard of ~128 summaries is a few hundred KB of
/// JSON, parsed in milliseconds, while 100,000 patients need only ~800 blobs.
pub const PATIENTS_PER_SHARD: usize = 128;
/// A shard is one blob: refuse anything claiming more before parsing it.
const MAX_SHARD_LEN: usize = 256 << 20;
/// Refuse manifests or indexes claiming absurd sizes before allocating for them.
const MAX_MANIFEST_LEN: usize = 64 << 20;
const MAX_INDEX_LEN: u64 = 16 << 30;

/// What can go wrong finding, reading or storing a clinical index. The messages say what to do.
#[derive(Debug, Error)]
pub enum ClinicalStoreError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("no clean generation{} has a clinical index: back up clinical sources with `kura backup --clinical ss-mix2|fhir`, or name a generation with --snapshot", of_source.as_ref().map(|s| format!(" of source {s}")).unwrap_or_default())]
    NoIndex { of_source: Option<String> },
    #[error("generation {} has no clinical index: build one with `kura clinical index --snapshot {} --format ss-mix2` (or fhir)", .0.short(), .0.short())]
    NotIndexed(FileId),
    #[error("patient {patient} is not in the clinical index of generation {}", snapshot.short())]
    NotInGeneration { patient: String, snapshot: FileId },
    #[error(
        "patient {patient} is not in the clinical index of any of {searched} clean generation(s){}",
        suspicious_hint(suspicious)
    )]
    PatientNotFound {
        patient: String,
        searched: usize,
        /// Short ids of suspicious generations that were not searched.
        suspicious: Vec<String>,
    },
    /// A stored index or manifest that cannot be used; the message names it and the remedy.
    #[error("{what}: {detail}")]
    Damaged { what: String, detail: String },
    #[error("clinical format {0:?} is not known: use ss-mix2 or fhir")]
    UnknownFormat(String),
    #[error("encoding the clinical index: {0}")]
    Encode(String),
}

fn suspicious_hint(suspicious: &[String]) -> String {
    if suspicious.is_empty() {
        return String::new();
    }
    format!(
        "; suspicious generations not searched: {} (view one with --snapshot ID)",
        suspicious.join(", ")
    )
}

pub type Result<T> = std::result::Result<T, ClinicalStoreError>;

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
    /// Length of the extracts JSON and its pieces, in order.
    pub index_bytes: u64,
    pub pieces: Vec<BlobId>,
    pub report: ParseReport,
    #[serde(default)]
    pub not_parsed: Vec<NotParsed>,
    /// Version 2: shard `i` holds the summaries of the patients with `shard_of(id, len) == i`.
    #[serde(default)]
    pub shards: Vec<BlobId>,
    /// Version 2: the patient table JSON (an array of briefs): length and pieces.
    #[serde(default)]
    pub table_bytes: u64,
    #[serde(default)]
    pub table: Vec<BlobId>,
    /// Version 2: the ward list JSON (an array of ward entries): length and pieces.
    #[serde(default)]
    pub ward_bytes: u64,
    #[serde(default)]
    pub ward: Vec<BlobId>,
}

impl Manifest {
    /// True when summaries are stored in shards (version 2); false for a version 1 index,
    /// whose summaries must be rebuilt from the extracts.
    pub fn is_sharded(&self) -> bool {
        self.version >= 2
    }

    /// Every blob the index consists of (what its metadata record must keep alive).
    pub fn blobs(&self) -> Vec<BlobId> {
        let all = [&self.pieces, &self.shards, &self.table, &self.ward];
        all.into_iter().flatten().copied().collect()
    }
}

/// One stored shard: the summaries of the patients that [`shard_of`] puts in it.
#[derive(Debug, Serialize, Deserialize)]
struct Shard {
    kind: String,
    shard: usize,
    shards: usize,
    patients: Vec<PatientSummary>,
}

impl Manifest {
    /// A manifest for `index` of `snapshot`; `save` fills in the stored layout.
    pub fn new(
        snapshot: FileId,
        source: &str,
        format: FileFormat,
        index: &ClinicalIndex,
        not_parsed: Vec<NotParsed>,
    ) -> Manifest {
        Manifest {
            kind: MANIFEST_KIND.into(),
            version: MANIFEST_VERSION,
            snapshot,
            source: source.to_string(),
            format: format_name(format).into(),
            as_of: index.as_of(),
            created_at: Utc::now(),
            index_bytes: 0,
            pieces: Vec::new(),
            report: index.report().clone(),
            not_parsed,
            shards: Vec::new(),
            table_bytes: 0,
            table: Vec::new(),
            ward_bytes: 0,
            ward: Vec::new(),
        }
    }
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
        other => Err(ClinicalStoreError::UnknownFormat(other.to_string())),
    }
}

/// Where a stored index was put.
#[derive(Debug, Clone)]
pub struct Stored {
    pub manifest_id: BlobId,
    pub pieces: usize,
    pub pieces_new: usize,
}

/// Store `index` with its manifest and record. The stored layout fields of `manifest` and
/// `created_at` are filled in here.
pub fn save(repo: &Repository, index: &ClinicalIndex, mut manifest: Manifest) -> Result<Stored> {
    let writer = BlobWriter::new(repo);
    let mut pieces_new = 0;
    let json = index
        .to_json()
        .map_err(|e| ClinicalStoreError::Encode(e.to_string()))?;
    manifest.index_bytes = json.len() as u64;
    manifest.pieces = write_pieces(repo, &writer, &json, &mut pieces_new)?;
    drop(json);
    manifest.shards = write_shards(&writer, index, &mut pieces_new)?;
    let table = encode(&index.table().briefs())?;
    manifest.table_bytes = table.len() as u64;
    manifest.table = write_pieces(repo, &writer, &table, &mut pieces_new)?;
    let ward = encode(&index.ward_list(None))?;
    manifest.ward_bytes = ward.len() as u64;
    manifest.ward = write_pieces(repo, &writer, &ward, &mut pieces_new)?;
    manifest.kind = MANIFEST_KIND.into();
    manifest.version = MANIFEST_VERSION;
    manifest.created_at = Utc::now();
    let (manifest_id, _) = writer.add(BlobKind::Data, &encode(&manifest)?)?;
    writer.finish()?;
    repo.save_meta(&MetaRecord::ClinicalIndex {
        snapshot: manifest.snapshot,
        manifest: manifest_id,
        blobs: manifest.blobs(),
        created_at: manifest.created_at,
    })?;
    Ok(Stored {
        manifest_id,
        pieces: manifest.blobs().len(),
        pieces_new,
    })
}

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| ClinicalStoreError::Encode(e.to_string()))
}

/// Cut `bytes` into content-defined pieces (so that an unchanged stretch is stored once).
pub(crate) fn write_pieces(
    repo: &Repository,
    writer: &BlobWriter,
    bytes: &[u8],
    new: &mut usize,
) -> Result<Vec<BlobId>> {
    let chunker = Chunker::new(repo.config().chunker, repo.key().chunker_seed());
    let mut pieces = Vec::new();
    chunker.for_each_chunk(bytes, |piece| -> Result<()> {
        let (id, added) = writer.add(BlobKind::Data, piece)?;
        pieces.push(id);
        *new += usize::from(added);
        Ok(())
    })?;
    Ok(pieces)
}

/// The number of shards for `patients` patients: about [`PATIENTS_PER_SHARD`] in each.
pub fn shard_count(patients: usize) -> usize {
    patients.div_ceil(PATIENTS_PER_SHARD).max(1)
}

fn write_shards(
    writer: &BlobWriter,
    index: &ClinicalIndex,
    new: &mut usize,
) -> Result<Vec<BlobId>> {
    let shards = shard_count(index.table().len());
    let mut groups: Vec<Vec<PatientSummary>> = vec![Vec::new(); shards];
    for s in index.summaries() {
        groups[shard_of(&s.patient_id, shards)].push(s.clone());
    }
    let mut ids = Vec::with_capacity(shards);
    for (i, patients) in groups.into_iter().enumerate() {
        let shard = Shard {
            kind: SHARD_KIND.into(),
            shard: i,
            shards,
            patients,
        };
        let (id, added) = writer.add(BlobKind::Data, &encode(&shard)?)?;
        *new += usize::from(added);
        ids.push(id);
    }
    Ok(ids)
}

impl From<std::io::Error> for ClinicalStoreError {
    fn from(e: std::io::Error) -> Self {
        ClinicalStoreError::Encode(e.to_string())
    }
}

/// The manifest of every generation that has a clinical index: the newest record per
/// generation wins (an index rebuilt with `kura clinical index` replaces the older one).
/// Damaged records are skipped and described in `warnings`: one bad record must not hide every
/// index during an outage.
pub fn records(repo: &Repository, warnings: &mut Vec<String>) -> Result<HashMap<FileId, BlobId>> {
    let (records, damaged) = repo.list_meta()?;
    for (name, e) in &damaged {
        warnings.push(format!(
            "metadata record {name} skipped ({e}); run `kura check`"
        ));
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

fn damaged(what: String, detail: impl std::fmt::Display) -> ClinicalStoreError {
    ClinicalStoreError::Damaged {
        what,
        detail: detail.to_string(),
    }
}

pub fn load_manifest(repo: &Repository, snapshot: &FileId, id: &BlobId) -> Result<Manifest> {
    let what = || format!("reading clinical index manifest {}", id.short());
    let bytes = repo.read_blob(id).map_err(|e| damaged(what(), e))?;
    if bytes.len() > MAX_MANIFEST_LEN {
        return Err(damaged(
            what(),
            format!(
                "{} bytes, more than any index needs: it is not a manifest; rebuild with `kura clinical index`",
                bytes.len()
            ),
        ));
    }
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        damaged(
            what(),
            format!("{e}; rebuild it with `kura clinical index`"),
        )
    })?;
    if m.kind != MANIFEST_KIND || !(1..=MANIFEST_VERSION).contains(&m.version) {
        return Err(damaged(
            what(),
            format!(
                "a {:?} version {} object, not a clinical index manifest this build reads; rebuild with `kura clinical index`",
                m.kind, m.version
            ),
        ));
    }
    if &m.snapshot != snapshot {
        return Err(damaged(
            what(),
            format!(
                "it belongs to generation {}, not {} as its record says: the record is damaged or forged; rebuild with `kura clinical index`",
                m.snapshot.short(),
                snapshot.short()
            ),
        ));
    }
    Ok(m)
}

/// Read `ids` (pieces of a `bytes`-long JSON document) and join them.
fn read_pieces(repo: &Repository, m: &Manifest, ids: &[BlobId], bytes: u64) -> Result<Vec<u8>> {
    let what = || format!("clinical index of generation {}", m.snapshot.short());
    if bytes > MAX_INDEX_LEN {
        return Err(damaged(
            what(),
            format!("claims {bytes} bytes: refused; rebuild with `kura clinical index`"),
        ));
    }
    let mut json = Vec::with_capacity(bytes as usize);
    for id in ids {
        json.extend_from_slice(&read_part(repo, m, id)?);
    }
    if json.len() as u64 != bytes {
        return Err(damaged(
            what(),
            format!(
                "{} bytes, its manifest says {bytes}: rebuild with `kura clinical index`",
                json.len()
            ),
        ));
    }
    Ok(json)
}

fn read_part(repo: &Repository, m: &Manifest, id: &BlobId) -> Result<Vec<u8>> {
    repo.read_blob(id).map_err(|e| {
        damaged(
            format!("clinical index of generation {}", m.snapshot.short()),
            format!(
                "piece {} cannot be read ({e}); run `kura check --read-data`, or use another generation with --snapshot",
                id.short()
            ),
        )
    })
}

/// Read the extracts of an index and decode it (every file's extract, resolved into
/// summaries). What a backup reuses; a version 1 index is viewed this way too.
pub fn load_index(repo: &Repository, m: &Manifest) -> Result<ClinicalIndex> {
    let json = read_pieces(repo, m, &m.pieces, m.index_bytes)?;
    ClinicalIndex::from_json(&json).map_err(|e| {
        damaged(
            format!("clinical index of generation {}", m.snapshot.short()),
            format!("cannot be decoded: {e}"),
        )
    })
}

/// The extracts of an index by relative path, without resolving summaries: what the next
/// backup reuses ([`kura_clinical::ClinicalIndexBuilder::with_extracts`]).
pub fn load_extracts(repo: &Repository, m: &Manifest) -> Result<BTreeMap<String, FileExtract>> {
    let json = read_pieces(repo, m, &m.pieces, m.index_bytes)?;
    ClinicalIndex::extracts_from_json(&json).map_err(|e| {
        damaged(
            format!("clinical index of generation {}", m.snapshot.short()),
            format!("cannot be decoded: {e}"),
        )
    })
}

fn decode<T: serde::de::DeserializeOwned>(m: &Manifest, part: &str, json: &[u8]) -> Result<T> {
    serde_json::from_slice(json).map_err(|e| {
        damaged(
            format!("clinical index of generation {}", m.snapshot.short()),
            format!("its {part} cannot be decoded ({e}); rebuild with `kura clinical index`"),
        )
    })
}

/// The summaries in shard `i` of a version 2 index (empty for a shard number it has not).
pub fn load_shard(repo: &Repository, m: &Manifest, i: usize) -> Result<Vec<PatientSummary>> {
    let Some(id) = m.shards.get(i) else {
        return Ok(Vec::new());
    };
    let bytes = read_part(repo, m, id)?;
    if bytes.len() > MAX_SHARD_LEN {
        return Err(damaged(
            format!("clinical index of generation {}", m.snapshot.short()),
            format!("shard {i} is {} bytes: refused", bytes.len()),
        ));
    }
    let shard: Shard = decode(m, "shard", &bytes)?;
    if shard.kind != SHARD_KIND || shard.shard != i || shard.shards != m.shards.len() {
        return Err(damaged(
            format!("clinical index of generation {}", m.snapshot.short()),
            format!(
                "blob {} is not shard {i} of {} (it says {:?} {} of {}); rebuild with `kura clinical index`",
                id.short(),
                m.shards.len(),
                shard.kind,
                shard.shard,
                shard.shards
            ),
        ));
    }
    Ok(shard.patients)
}

/// The patient table of a version 2 index.
pub fn load_table(repo: &Repository, m: &Manifest) -> Result<PatientTable> {
    let json = read_pieces(repo, m, &m.table, m.table_bytes)?;
    let briefs: Vec<PatientBrief> = decode(m, "patient table", &json)?;
    Ok(PatientTable::new(briefs))
}

/// The ward list of a version 2 index (every ward).
pub fn load_ward(repo: &Repository, m: &Manifest) -> Result<Vec<WardEntry>> {
    let json = read_pieces(repo, m, &m.ward, m.ward_bytes)?;
    decode(m, "ward list", &json)
}
