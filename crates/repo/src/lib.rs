//! # kura-repo: a Kura repository
//!
//! Opens and creates repositories on any [`kura_store::Backend`], manages key files, reads and writes
//! blobs (through packs and the index), and lists and resolves snapshots. It knows the *structure*
//! of a repository; walking file systems and trees is the engine's job.
//!
//! ```no_run
//! use std::sync::Arc;
//! use kura_repo::{Repository, InitOptions};
//! let backend = Arc::new(kura_store::LocalBackend::new("/srv/kura/ehr"));
//! let (repo, recovery_key) = Repository::init(backend, b"long passphrase", &InitOptions::default())?;
//! println!("store this recovery key offline: {recovery_key}");
//! # Ok::<(), kura_repo::RepoError>(())
//! ```
#![forbid(unsafe_code)]

pub mod error;
pub mod index;
pub mod keys;
pub mod meta;
pub mod snapshots;
pub mod writer;

use std::sync::{Arc, RwLock};

use chrono::Utc;
use kura_format::config::{ChunkerParams, RepoConfig};
use kura_format::crypto::{Compression, MasterKey, ObjectKind, MAX_OBJECT_LEN};
use kura_format::index::IndexFile;
use kura_format::keyfile::{generate_recovery_key, normalize_recovery_key, KeyFile, KeyKind};
use kura_format::tree::Tree;
use kura_format::{BlobId, FileId};
use kura_store::{Backend, FileKind};
use rand::RngCore;

pub use error::{RepoError, Result};
pub use index::{BlobLocation, MasterIndex};
pub use writer::{BlobWriter, WriteStats};

/// Name of the second copy of the config (same bytes, same namespace).
pub const CONFIG_COPY: &str = "config.copy";

/// Settings for a new repository.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub chunker: ChunkerParams,
    pub pack_size: u32,
    pub compression_level: i32,
    pub key_label: String,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            chunker: ChunkerParams::default(),
            pack_size: 16 << 20,
            compression_level: 3,
            key_label: "initial".into(),
        }
    }
}

/// An open repository.
pub struct Repository {
    backend: Arc<dyn Backend>,
    key: MasterKey,
    config: RepoConfig,
    key_id: FileId,
    index: RwLock<MasterIndex>,
    /// Packs that garbage collection has marked unused: new backups do not deduplicate against them,
    /// so a pack on its way out is never newly referenced (see prune's two phases).
    dedup_excluded: RwLock<std::collections::HashSet<FileId>>,
}

pub(crate) fn host_and_user() -> (String, String) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    (host, user)
}

impl Repository {
    /// Create a repository: config, the first password key file and a recovery key file. Returns the
    /// recovery key, which is shown once and never stored in clear.
    pub fn init(
        backend: Arc<dyn Backend>,
        password: &[u8],
        opts: &InitOptions,
    ) -> Result<(Self, String)> {
        if backend.exists(FileKind::Config, "config")?
            || backend.exists(FileKind::Config, CONFIG_COPY)?
        {
            return Err(RepoError::AlreadyInitialized {
                location: backend.location(),
            });
        }
        clear_interrupted_init(backend.as_ref())?;
        let key = MasterKey::generate();
        let mut id = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let config = RepoConfig {
            version: kura_format::FORMAT_VERSION,
            id: hex::encode(id),
            created: Utc::now(),
            chunker: opts.chunker,
            pack_size: opts.pack_size,
            compression_level: opts.compression_level,
        };
        config
            .validate()
            .map_err(|e| RepoError::damaged("new config", e))?;
        let (host, user) = host_and_user();
        // Keys first, config last: a repository without config is "not a repository" and `init`
        // can run again after a crash (see clear_interrupted_init), while one with a config always
        // has a key that opens it.
        let recovery = generate_recovery_key();
        let rk = KeyFile::wrap(
            &key,
            normalize_recovery_key(&recovery).as_bytes(),
            KeyKind::Recovery,
            "recovery",
            &host,
            &user,
        )
        .map_err(|e| RepoError::damaged("recovery key", e))?;
        let pk = KeyFile::wrap(
            &key,
            password,
            KeyKind::Password,
            &opts.key_label,
            &host,
            &user,
        )
        .map_err(|e| RepoError::damaged("key file", e))?;
        let key_id = keys::save_key_file(backend.as_ref(), &pk)?;
        keys::save_key_file(backend.as_ref(), &rk)?;
        let json = serde_json::to_vec(&config).expect("config serializes");
        let sealed = key.seal(ObjectKind::Config, None, &json, Compression::default());
        // A second copy first: the config never changes, and with two copies one damaged file does
        // not make every generation unreadable. `config` is written last: it marks a finished init.
        backend.create(FileKind::Config, CONFIG_COPY, &sealed)?;
        backend.create(FileKind::Config, "config", &sealed)?;
        let repo = Repository {
            backend,
            key,
            config,
            key_id,
            index: RwLock::new(MasterIndex::default()),
            dedup_excluded: Default::default(),
        };
        Ok((repo, recovery))
    }

    /// Open a repository with a password or a recovery key. Does not load the index; call
    /// [`Repository::load_index`] before reading or writing blobs.
    pub fn open(backend: Arc<dyn Backend>, secret: &[u8]) -> Result<Self> {
        let primary = backend.read(FileKind::Config, "config");
        let copy = backend.read(FileKind::Config, CONFIG_COPY);
        if matches!(&primary, Err(e) if e.is_not_found())
            && matches!(&copy, Err(e) if e.is_not_found())
        {
            return Err(RepoError::NotARepository {
                location: backend.location(),
            });
        }
        let (key, key_id) = keys::unlock(backend.as_ref(), secret)?;
        let decode = |bytes: &[u8]| -> std::result::Result<RepoConfig, kura_format::FormatError> {
            let plain = key.open(ObjectKind::Config, None, bytes, 1 << 20)?;
            serde_json::from_slice(&plain).map_err(|e| kura_format::FormatError::Malformed {
                what: "config",
                detail: e.to_string(),
            })
        };
        // Either copy will do: the config never changes after `init`.
        let config = match (primary.map(|b| decode(&b)), copy.map(|b| decode(&b))) {
            (Ok(Ok(c)), _) | (_, Ok(Ok(c))) => c,
            (Ok(Err(e)), _) => return Err(RepoError::damaged("config (and its copy)", e)),
            (Err(e), _) => return Err(e.into()),
        };
        config
            .validate()
            .map_err(|e| RepoError::damaged("config", e))?;
        Ok(Repository {
            backend,
            key,
            config,
            key_id,
            index: RwLock::new(MasterIndex::default()),
            dedup_excluded: Default::default(),
        })
    }

    /// The same repository reached through another backend of the same store (e.g. one that
    /// writes with S3 Object Lock retention), without asking for the password again. The index is
    /// not carried over: load it afterwards.
    pub fn on_backend(self, backend: Arc<dyn Backend>) -> Self {
        Repository {
            backend,
            index: RwLock::new(MasterIndex::default()),
            dedup_excluded: Default::default(),
            ..self
        }
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }
    pub fn key(&self) -> &MasterKey {
        &self.key
    }
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }
    /// The key file this repository was opened with.
    pub fn key_id(&self) -> FileId {
        self.key_id
    }

    /// Load every index file. Damaged index files are skipped and returned so that `check` can name
    /// them; the blobs they described are found again by `repair index`.
    pub fn load_index(&self) -> Result<Vec<(String, RepoError)>> {
        let mut idx = MasterIndex::default();
        let mut problems = Vec::new();
        let mut files = Vec::new();
        for f in self.backend.list(FileKind::Index)? {
            match self.read_index_file(&f.name) {
                Ok((id, file)) => files.push((id, file)),
                Err(e) => problems.push((f.name.clone(), e)),
            }
        }
        let superseded: std::collections::HashSet<FileId> = files
            .iter()
            .flat_map(|(_, f)| f.supersedes.iter().copied())
            .collect();
        for (id, file) in &files {
            if !superseded.contains(id) {
                idx.add_file(*id, file);
            }
        }
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = idx;
        Ok(problems)
    }

    pub fn read_index_file(&self, name: &str) -> Result<(FileId, IndexFile)> {
        let bytes = self.backend.read(FileKind::Index, name)?;
        let id = verify_file_id(name, &bytes)?;
        let file = IndexFile::open(&self.key, &bytes)
            .map_err(|e| RepoError::damaged(format!("index {name}"), e))?;
        Ok((id, file))
    }

    /// Write an index file and merge it into the in-memory index.
    pub fn save_index(&self, file: &IndexFile) -> Result<FileId> {
        let sealed = file.seal(&self.key);
        let id = FileId::of(&sealed);
        match self.backend.create(FileKind::Index, &id.to_hex(), &sealed) {
            Ok(()) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e.into()),
        }
        self.index
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add_file(id, file);
        Ok(id)
    }

    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, MasterIndex> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a backup may reuse this blob instead of storing it again.
    pub fn has_blob(&self, id: &BlobId) -> bool {
        let excluded = self
            .dedup_excluded
            .read()
            .unwrap_or_else(|p| p.into_inner());
        // The usual case (no prune in progress) is one lookup: this runs for every chunk of
        // every unchanged file. A copy in a pack on its way out does not count, but another copy
        // of the blob may.
        if excluded.is_empty() {
            return self.index().contains(id);
        }
        self.index()
            .locations(id)
            .any(|(pack, _)| !excluded.contains(&pack))
    }

    /// Stop deduplicating against these packs (those marked unused by garbage collection).
    pub fn exclude_from_dedup(&self, packs: impl IntoIterator<Item = FileId>) {
        self.dedup_excluded
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(packs);
    }

    pub fn locate(&self, id: &BlobId) -> Result<(FileId, BlobLocation)> {
        self.index()
            .get(id)
            .ok_or_else(|| RepoError::BlobNotFound(id.to_hex()))
    }

    /// Read, decrypt and verify one blob: the envelope authenticates it and its keyed hash must
    /// equal its id, so a blob is never returned with wrong bytes.
    ///
    /// A blob stored more than once is read from its next copy when one fails, so one damaged or
    /// missing pack does not stop a restore that another copy can serve; `check` still reports it.
    pub fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        let (pack, loc) = self.locate(id)?;
        let first_error = match self.read_blob_at(id, &pack, &loc) {
            Ok(plain) => return Ok(plain),
            Err(e) => e,
        };
        let others: Vec<(FileId, BlobLocation)> = self.index().locations(id).skip(1).collect();
        for (pack, loc) in others {
            if let Ok(plain) = self.read_blob_at(id, &pack, &loc) {
                return Ok(plain);
            }
        }
        Err(first_error)
    }

    fn read_blob_at(&self, id: &BlobId, pack: &FileId, loc: &BlobLocation) -> Result<Vec<u8>> {
        let sealed = self.backend.read_range(
            FileKind::Pack,
            &pack.to_hex(),
            loc.offset as u64,
            loc.length as u64,
        )?;
        self.open_blob(id, pack, loc, &sealed)
    }

    /// Decrypt and verify a blob whose sealed bytes the caller already read (restore reads whole
    /// ranges of packs at once).
    pub fn open_blob(
        &self,
        id: &BlobId,
        pack: &FileId,
        loc: &BlobLocation,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        let damaged = |detail: String| RepoError::BlobDamaged {
            id: id.to_hex(),
            pack: pack.to_hex(),
            detail,
        };
        let plain = self
            .key
            .open(
                loc.kind.object_kind(),
                Some(id),
                sealed,
                (loc.raw_len as usize).min(MAX_OBJECT_LEN),
            )
            .map_err(|e| damaged(e.to_string()))?;
        if plain.len() != loc.raw_len as usize || self.key.blob_id(&plain) != *id {
            return Err(damaged("content does not match its id".into()));
        }
        Ok(plain)
    }

    pub fn read_tree(&self, id: &BlobId) -> Result<Tree> {
        let plain = self.read_blob(id)?;
        Tree::from_json(&plain).map_err(|e| RepoError::damaged(format!("tree {}", id.short()), e))
    }
}

/// Key files without any config are what an interrupted `init` leaves (keys are written first,
/// the config last). They wrap a master key nothing was ever encrypted with, so they are removed
/// and `init` starts again, unless the directory holds other repository data, which is refused.
fn clear_interrupted_init(backend: &dyn Backend) -> Result<()> {
    let keys = backend.list(FileKind::Key)?;
    if keys.is_empty() {
        return Ok(());
    }
    for kind in [
        FileKind::Pack,
        FileKind::Index,
        FileKind::Snapshot,
        FileKind::Meta,
    ] {
        if !backend.list(kind)?.is_empty() {
            return Err(RepoError::Refused(format!(
                "{} holds repository data but no config: restore the config from a copy; refusing to initialize over it",
                backend.location()
            )));
        }
    }
    for k in keys {
        backend.remove(FileKind::Key, &k.name)?;
    }
    Ok(())
}

/// A stored file's name is the BLAKE3 of its bytes: check it before trusting anything inside.
pub fn verify_file_id(name: &str, bytes: &[u8]) -> Result<FileId> {
    let id = FileId::of(bytes);
    if id.to_hex() != name {
        return Err(RepoError::damaged(
            name.to_string(),
            kura_format::FormatError::Malformed {
                what: "stored file",
                detail: "its content does not match its name (changed or damaged)".into(),
            },
        ));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_format::pack::BlobKind;

    fn repo() -> (tempfile::TempDir, Repository, String) {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(kura_store::LocalBackend::new(dir.path()));
        let (r, rk) = Repository::init(backend, b"pw", &InitOptions::default()).unwrap();
        (dir, r, rk)
    }

    #[test]
    fn init_open_write_read() {
        let (dir, repo, rk) = repo();
        let w = BlobWriter::new(&repo);
        let (id, new) = w.add(BlobKind::Data, b"hello").unwrap();
        assert!(new);
        assert!(
            !w.add(BlobKind::Data, b"hello").unwrap().1,
            "dedup within a writer"
        );
        let stats = w.finish().unwrap();
        assert_eq!(stats.blobs_added, 1);
        let backend = Arc::new(kura_store::LocalBackend::new(dir.path()));
        let reopened = Repository::open(backend.clone(), b"pw").unwrap();
        reopened.load_index().unwrap();
        assert_eq!(reopened.read_blob(&id).unwrap(), b"hello");
        assert!(matches!(
            Repository::open(backend.clone(), b"bad"),
            Err(RepoError::WrongPassword)
        ));
        assert!(
            Repository::open(backend.clone(), rk.to_lowercase().as_bytes()).is_ok(),
            "recovery key opens"
        );
        assert!(matches!(
            Repository::init(backend, b"x", &InitOptions::default()),
            Err(RepoError::AlreadyInitialized { .. })
        ));
    }

    #[test]
    fn init_after_an_interrupted_init() {
        let dir = tempfile::tempdir().unwrap();
        let backend: Arc<dyn Backend> = Arc::new(kura_store::LocalBackend::new(dir.path()));
        // What a crash between the key files and the config leaves behind.
        let stray =
            KeyFile::wrap(&MasterKey::generate(), b"pw", KeyKind::Password, "", "", "").unwrap();
        keys::save_key_file(backend.as_ref(), &stray).unwrap();
        assert!(matches!(
            Repository::open(backend.clone(), b"pw"),
            Err(RepoError::NotARepository { .. })
        ));
        let (repo, _) = Repository::init(backend.clone(), b"pw", &InitOptions::default()).unwrap();
        assert_eq!(repo.list_keys().unwrap().len(), 2, "the stray key is gone");
        assert!(Repository::open(backend, b"pw").is_ok());
    }

    #[test]
    fn not_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(kura_store::LocalBackend::new(dir.path()));
        assert!(matches!(
            Repository::open(backend, b"pw"),
            Err(RepoError::NotARepository { .. })
        ));
    }
}
