//! The S3 backend: repository files as objects on an S3-compatible store (issue 9).
//!
//! Selected by a repository URL `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]`. A file of kind `k`
//! named `n` is the object `PREFIX/<k.dir()>/n` (the config is `PREFIX/config`), the same layout as
//! a local directory, so a bucket copied to disk is a local repository.
//!
//! ## Why these choices
//! - **Create-only** is `If-None-Match: *` on PutObject and on CompleteMultipartUpload; the
//!   server answers 412 when the key exists, which becomes [`StoreError::AlreadyExists`]. Servers
//!   that ignore the header exist (Garage; Ceph 16 on versioned buckets), so immutable mode must be
//!   confirmed with [`S3Backend::probe_immutable`] first (see `s3/probe.rs`).
//! - **Object Lock**: with [`S3Backend::with_lock_days`] every write carries COMPLIANCE mode and a
//!   retain-until date; in that mode not even the bucket owner can delete the object version or
//!   shorten its retention before the date. Retention is extended by whoever holds the
//!   `PutObjectRetention` right ([`S3Backend::extend_retention`]) — the vault, never a backup client.
//! - **remove** deletes the *version* that HEAD reports, not the key: on a versioned (lock) bucket a
//!   plain DELETE only adds a delete marker, which would hide the file from Kura while keeping the
//!   bytes, and would hide a lock refusal. Deleting the version is refused by the store while the
//!   lock holds, and the refusal names the retain-until date so prune can say what it waits for.
//! - **Blocking facade**: [`Backend`] is synchronous and called from many threads, the SDK is async.
//!   The backend owns a small multi-thread tokio runtime and each call spawns one task and waits on
//!   a channel. Waiting on a channel (not `Runtime::block_on`) cannot panic when a caller happens to
//!   run inside another runtime.
//! - **Retries**: the SDK's standard mode (exponential backoff with jitter, retry quota) for
//!   throttling, 5xx, timeouts and connection errors. A create retried after a lost response may
//!   find its own object and report "exists", which callers of the create-only trait treat as stored
//!   (every name is a content hash or a random id).
//! - **Multipart** above [`S3Config::multipart_threshold`], parts uploaded four at a time, CRC32
//!   per part; a failed upload is aborted so no parts linger.
//! - The SDK comes without `aws-config`: credentials are read by `s3/config.rs`.
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use aws_sdk_s3::Client;

use crate::{validate_name, Backend, FileInfo, FileKind, Result, StoreError};

mod config;
mod list;
mod lock;
mod multipart;
mod probe;
mod versions;
mod window;

pub use config::{parse_url, S3Config, S3Url};
pub use probe::ProbeReport;

/// Why an S3 repository could not be set up, or cannot be used in immutable mode.
#[derive(Debug, thiserror::Error)]
pub enum S3SetupError {
    #[error(
        "{url}: not an S3 repository URL ({why}); use s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]"
    )]
    BadUrl { url: String, why: String },
    #[error("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION), or write them to ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE)")]
    NoCredentials,
    #[error("cannot read the S3 credentials file {}: {source}", path.display())]
    CredentialsFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("profile [{profile}] in {} lacks aws_access_key_id or aws_secret_access_key", path.display())]
    ProfileIncomplete {
        path: std::path::PathBuf,
        profile: String,
    },
    #[error("cannot start the S3 client's I/O threads: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("immutable mode refused: the S3 store at {location} {failed}. Kura cannot rely on it to keep generations from being overwritten or deleted; use a server and bucket that enforce this (SeaweedFS, AWS S3; a bucket created with Object Lock), or run without --lock-days")]
    NotImmutable { location: String, failed: String },
    #[error("immutable-mode probe of {location} could not run: {source}")]
    ProbeIo {
        location: String,
        #[source]
        source: StoreError,
    },
}

/// Compliance retention applied to every object a backend writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// A fixed number of days from the moment of each write.
    Days(u32),
    /// One date for every write (the longest lock of any generation that reaches the objects).
    Until(SystemTime),
}

impl Retention {
    fn until(self, now: SystemTime) -> SystemTime {
        match self {
            Retention::Days(d) => now + Duration::from_secs(u64::from(d) * 86_400),
            Retention::Until(t) => t,
        }
    }
}

/// A repository on an S3-compatible object store.
pub struct S3Backend {
    client: Client,
    cfg: Arc<S3Config>,
    retention: Option<Retention>,
    /// Keys pinned to their first version, and the namespaces already scanned for them
    /// (see `s3/versions.rs`).
    pins: Mutex<Pins>,
    /// Recently fetched pack ranges (see `s3/window.rs`).
    windows: window::Windows,
    // Declared last so that it is dropped after the client (whose connections it drives).
    rt: tokio::runtime::Runtime,
}

impl S3Backend {
    /// Open `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]` with credentials from the environment.
    pub fn from_url(url: &str) -> std::result::Result<Self, S3SetupError> {
        Self::new(S3Config::from_url(url)?)
    }

    pub fn new(cfg: S3Config) -> std::result::Result<Self, S3SetupError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kura-s3")
            .enable_all()
            .build()
            .map_err(S3SetupError::Runtime)?;
        let creds = Credentials::new(
            &cfg.access_key,
            &cfg.secret_key,
            cfg.session_token.clone(),
            None,
            "kura",
        );
        let retry = RetryConfig::standard()
            .with_max_attempts(cfg.max_attempts.max(1))
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20));
        // No overall operation timeout: a 1 GiB pack on a slow link may rightly take minutes; a
        // stalled connection is caught by the read timeout instead.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .endpoint_url(&cfg.endpoint)
            .force_path_style(cfg.path_style)
            .credentials_provider(creds)
            .retry_config(retry)
            .timeout_config(timeouts)
            .build();
        Ok(S3Backend {
            client: Client::from_conf(conf),
            cfg: Arc::new(cfg),
            retention: None,
            pins: Mutex::new(Pins::default()),
            windows: window::Windows::default(),
            rt,
        })
    }

    /// Write every object with COMPLIANCE retention for `days` days from its write.
    pub fn with_lock_days(mut self, days: u32) -> Self {
        self.retention = (days > 0).then_some(Retention::Days(days));
        self
    }

    /// Write every object with COMPLIANCE retention until `until` (or none).
    pub fn with_retention(mut self, retention: Option<Retention>) -> Self {
        self.retention = retention;
        self
    }

    pub fn retention(&self) -> Option<Retention> {
        self.retention
    }

    pub fn config(&self) -> &S3Config {
        &self.cfg
    }

    /// The SDK client, for operator tools and tests that need calls Kura itself never makes.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The object key of a repository file.
    pub fn key(&self, kind: FileKind, name: &str) -> String {
        match kind {
            // `config` and `config.copy` side by side, as in a local repository.
            FileKind::Config => format!("{}{name}", self.cfg.prefix),
            k => format!("{}{}/{}", self.cfg.prefix, k.dir(), name),
        }
    }

    /// Run `fut` on the backend's runtime and wait for it (see the module notes for why a channel).
    fn run<T, F>(&self, fut: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError::Io {
                kind: FileKind::Config,
                name: self.cfg.bucket.clone(),
                source: std::io::Error::other("the S3 client's runtime stopped"),
            })
        })
    }

    /// Run a raw SDK request (from [`S3Backend::client`]) on the backend's runtime and wait for it;
    /// `None` if the runtime has stopped. For operator tools and tests.
    pub fn call<T, F>(&self, fut: F) -> Option<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.run(async move { Ok(fut.await) }).ok()
    }

    /// Create `name` with COMPLIANCE retention until `until` (overriding the backend's setting).
    pub fn create_retained(
        &self,
        kind: FileKind,
        name: &str,
        data: &[u8],
        until: Option<SystemTime>,
    ) -> Result<()> {
        validate_name(name)?;
        let target = Target::new(self, kind, name);
        let data = data.to_vec();
        if data.len() >= self.cfg.multipart_threshold {
            let part = self.cfg.part_size.max(5 << 20);
            return self.run(multipart::upload(target, data, part, until));
        }
        self.run(async move { target.put(data, until).await })
    }

    /// HEAD of a file: its size, version and lock.
    pub fn head(&self, kind: FileKind, name: &str) -> Result<ObjectHead> {
        validate_name(name)?;
        self.scanned(kind)?;
        let target = Target::new(self, kind, name);
        self.run(async move { target.head().await })
    }

    /// Set the COMPLIANCE retention of a file's current version to `until`. Stores refuse to
    /// shorten COMPLIANCE retention, so this can only ever make data safer; see
    /// [`Backend::extend_store_lock`] for the call that never even asks to shorten.
    pub fn extend_retention(&self, kind: FileKind, name: &str, until: SystemTime) -> Result<()> {
        validate_name(name)?;
        self.scanned(kind)?;
        let target = Target::new(self, kind, name);
        self.run(async move {
            let head = target.head().await?;
            lock::put_retention(&target, head.version_id, until).await
        })
    }

    /// Create the bucket (an operator step; backup credentials normally may not). With
    /// `object_lock`, the bucket is versioned and accepts per-object COMPLIANCE retention.
    pub fn create_bucket(&self, object_lock: bool) -> Result<()> {
        let target = Target::new(self, FileKind::Config, "bucket");
        self.run(async move {
            let mut req = target.client.create_bucket().bucket(&target.bucket);
            if object_lock {
                req = req.object_lock_enabled_for_bucket(true);
            }
            req.send().await.map(drop).map_err(|e| target.error(e))
        })
    }

    /// Confirm that the store enforces create-only writes and, when this backend writes with
    /// retention, Object Lock. Run before trusting a repository in immutable mode.
    pub fn probe_immutable(&self) -> std::result::Result<ProbeReport, S3SetupError> {
        probe::run(self)
    }
}

/// What HEAD says about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub version_id: Option<String>,
    /// `COMPLIANCE` or `GOVERNANCE` when the version is locked.
    pub lock_mode: Option<String>,
    pub retain_until: Option<SystemTime>,
}

/// One object a request is about: everything an async task needs, owned.
#[derive(Clone)]
struct Target {
    client: Client,
    bucket: String,
    key: String,
    /// The version to read: Kura's own (the first) when someone has added versions over it.
    version: Option<String>,
    kind: FileKind,
    name: String,
}

#[derive(Default)]
struct Pins {
    scanned: HashSet<FileKind>,
    keys: HashMap<String, String>,
}

impl Target {
    fn new(b: &S3Backend, kind: FileKind, name: &str) -> Self {
        let key = b.key(kind, name);
        let version = b.pins.lock().ok().and_then(|p| p.keys.get(&key).cloned());
        Target {
            client: b.client.clone(),
            bucket: b.cfg.bucket.clone(),
            key,
            version,
            kind,
            name: name.to_string(),
        }
    }

    /// Map an SDK error to the store error a local directory would give for the same situation.
    fn error<E>(&self, e: SdkError<E, HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().unwrap_or_default().to_string();
        let (kind, name) = (self.kind, self.name.clone());
        match (status, code.as_str()) {
            (_, "NoSuchBucket") => StoreError::Io {
                kind,
                name,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("NoSuchBucket: bucket {} does not exist: fix the repository URL, or have the storage administrator create it (with Object Lock for --lock-days)", self.bucket),
                ),
            },
            (Some(404), _) | (_, "NoSuchKey" | "NotFound") => StoreError::NotFound { kind, name },
            (Some(412), _) | (_, "PreconditionFailed") => StoreError::AlreadyExists { kind, name },
            // The caller knows the requested range and fills in the real numbers.
            (Some(416), _) | (_, "InvalidRange") => StoreError::OutOfRange {
                kind,
                name,
                offset: 0,
                len: 0,
                size: 0,
            },
            (Some(401 | 403), _) | (_, "AccessDenied") => StoreError::Denied {
                kind,
                name,
                detail: format!(
                    "the S3 store refused ({code}: {})",
                    e.message().unwrap_or("no message")
                ),
            },
            _ => StoreError::Io {
                kind,
                name,
                source: std::io::Error::other(format!(
                    "S3 request for {} failed: {}",
                    self.key,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )),
            },
        }
    }

    async fn head(&self) -> Result<ObjectHead> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(self.version.clone())
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(ObjectHead {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            version_id: out.version_id().map(str::to_string),
            lock_mode: out.object_lock_mode().map(|m| m.as_str().to_string()),
            retain_until: out
                .object_lock_retain_until_date()
                .and_then(|d| SystemTime::try_from(*d).ok()),
        })
    }

    /// A create-only PUT, with COMPLIANCE retention until `until` when given.
    async fn put(&self, data: Vec<u8>, until: Option<SystemTime>) -> Result<()> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .if_none_match("*")
            .body(ByteStream::from(data));
        if let Some(t) = until {
            req = req
                .object_lock_mode(ObjectLockMode::Compliance)
                .object_lock_retain_until_date(DateTime::from(t));
        }
        req.send().await.map(drop).map_err(|e| self.error(e))
    }

    /// Delete the current version (see the module notes for why not the key).
    async fn delete_version(&self) -> Result<()> {
        let head = self.head().await?;
        let res = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(head.version_id.clone())
            .send()
            .await;
        res.map(drop)
            .map_err(|e| lock::locked_or(self.error(e), &head))
    }

    async fn get(&self, range: Option<String>) -> Result<(Vec<u8>, Option<String>)> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(self.version.clone())
            .set_range(range)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let content_range = out.content_range().map(str::to_string);
        let body = out.body.collect().await.map_err(|e| StoreError::Io {
            kind: self.kind,
            name: self.name.clone(),
            source: std::io::Error::other(format!("reading {} from S3: {e}", self.key)),
        })?;
        Ok((body.to_vec(), content_range))
    }

    fn out_of_range(&self, offset: u64, len: u64, size: u64) -> StoreError {
        StoreError::OutOfRange {
            kind: self.kind,
            name: self.name.clone(),
            offset,
            len,
            size,
        }
    }
}

/// The total size in a `Content-Range: bytes a-b/total` header.
fn total_from_content_range(cr: &str) -> Option<u64> {
    cr.rsplit_once('/').and_then(|(_, t)| t.trim().parse().ok())
}

impl Backend for S3Backend {
    fn location(&self) -> String {
        format!(
            "s3:{}/{}/{}",
            self.cfg.endpoint, self.cfg.bucket, self.cfg.prefix
        )
        .trim_end_matches('/')
        .to_string()
    }

    fn create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<()> {
        let until = self.retention.map(|r| r.until(SystemTime::now()));
        self.create_retained(kind, name, data, until)
    }

    fn read(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        validate_name(name)?;
        self.scanned(kind)?;
        let target = Target::new(self, kind, name);
        self.run(async move { target.get(None).await.map(|(body, _)| body) })
    }

    fn read_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        validate_name(name)?;
        self.scanned(kind)?;
        if kind == FileKind::Pack {
            if let Some(hit) = self.windows.get(name, offset, len) {
                return Ok(hit);
            }
        }
        let target = Target::new(self, kind, name);
        let fetch = if kind == FileKind::Pack {
            len.max(window::WINDOW)
        } else {
            len
        };
        let (body, window) = self.run(async move {
            let Some(end) = offset.checked_add(len) else {
                let size = target.head().await?.size;
                return Err(target.out_of_range(offset, len, size));
            };
            if len == 0 {
                // S3 has no empty range; answer like a local file does.
                let size = target.head().await?.size;
                return if offset <= size {
                    Ok((Vec::new(), false))
                } else {
                    Err(target.out_of_range(offset, len, size))
                };
            }
            let last = offset.saturating_add(fetch).max(end) - 1;
            match target.get(Some(format!("bytes={offset}-{last}"))).await {
                // S3 silently shortens a range that runs past the end: check the length.
                Ok((body, _)) if body.len() as u64 >= len => Ok((body, fetch > len)),
                Ok((body, cr)) => {
                    let size = cr
                        .as_deref()
                        .and_then(total_from_content_range)
                        .unwrap_or(offset + body.len() as u64);
                    Err(target.out_of_range(offset, len, size))
                }
                Err(StoreError::OutOfRange { .. }) => {
                    let size = target.head().await?.size;
                    Err(target.out_of_range(offset, len, size))
                }
                Err(e) => Err(e),
            }
        })?;
        if !window {
            return Ok(body);
        }
        let wanted = body[..len as usize].to_vec();
        self.windows.put(name, offset, body);
        Ok(wanted)
    }

    fn size(&self, kind: FileKind, name: &str) -> Result<u64> {
        self.head(kind, name).map(|h| h.size)
    }

    fn list(&self, kind: FileKind) -> Result<Vec<FileInfo>> {
        self.scan(kind)
    }

    fn remove(&self, kind: FileKind, name: &str) -> Result<()> {
        validate_name(name)?;
        self.scanned(kind)?;
        let target = Target::new(self, kind, name);
        let tampered = target.version.is_some();
        let key = target.key.clone();
        self.run(async move {
            target.delete_version().await?;
            if tampered {
                versions::sweep_key(&target).await;
            }
            Ok(())
        })?;
        if tampered {
            if let Ok(mut p) = self.pins.lock() {
                p.keys.remove(&key);
            }
        }
        Ok(())
    }

    fn store_lock_until(&self, kind: FileKind, name: &str) -> Result<Option<SystemTime>> {
        let head = self.head(kind, name)?;
        Ok(head.lock_mode.and(head.retain_until))
    }

    fn extend_store_lock(&self, kind: FileKind, name: &str, until: SystemTime) -> Result<bool> {
        validate_name(name)?;
        self.scanned(kind)?;
        let target = Target::new(self, kind, name);
        self.run(async move { lock::extend(&target, until).await.map(|()| true) })
    }
}

#[cfg(test)]
mod tests;
