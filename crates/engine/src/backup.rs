//! The backup pipeline.
//!
//! Three kinds of thread cooperate:
//! - the **walker** (the calling thread) walks the source depth-first, compares each entry with the
//!   parent generation, and emits an *ordered* stream of events: enter a directory, a finished node,
//!   a file whose content is being read, leave a directory. Unchanged files are finished at once
//!   from the parent's node: they cost no reads.
//! - **workers** (one per core) read, chunk, hash, compress, encrypt and pack changed files. Many
//!   files are in flight at once, across directories, which is what makes millions of small SS-MIX2
//!   files fast.
//! - the **assembler** consumes the ordered stream, waits for each file's result in order, and builds
//!   and stores each directory's tree when the directory is left.
//!
//! The event channel is bounded, so the walker stays at most a few thousand entries ahead and memory
//! stays flat whatever the size of the tree.
//!
//! This file holds the options, the shared run state and the pipeline's set-up; the walker and the
//! assembler are in `backup/walker.rs`, stream inputs (`--stdin`, a command's output) in
//! `backup/stream.rs`.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use chrono::Utc;
use crossbeam_channel::{bounded, Sender};
use kura_format::pack::BlobKind;
use kura_format::snapshot::{Snapshot, SnapshotStats};
use kura_format::{BlobId, FileId};
use kura_repo::snapshots::SnapshotEntry;
use kura_repo::{BlobWriter, Repository};

use crate::chunker::Chunker;
use crate::detect::{Observer, SignalAccumulator};
use crate::error::{EngineError, Result};
use crate::exclude::Excludes;
use crate::prefetch::{parent_map, TreePrefetch};
use crate::progress::Progress;
use crate::seal_pool::{SealPool, POOL_MIN_FILE};
use kura_anomaly::FileSignals;

mod stream;
mod walker;

use stream::{store_command_output, store_stream_input};
use walker::{assemble, virtual_root, Event, Walker, EVENT_BATCH};

/// What to back up.
pub enum BackupInput {
    Paths(Vec<PathBuf>),
    /// One stream stored as a file named `name` at the root of the generation.
    Stream {
        name: String,
        reader: Box<dyn Read + Send>,
    },
    /// The standard output of a command (e.g. `pg_dump`), stored as a file named `name`. The
    /// generation is committed only if the command exits successfully: a dump that failed halfway
    /// must never become a generation someone restores from.
    Command {
        name: String,
        argv: Vec<String>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    pub source: String,
    pub tags: Vec<String>,
    pub excludes: Vec<String>,
    pub host: Option<String>,
    /// Read every file even if it looks unchanged.
    pub force: bool,
    pub threads: usize,
    pub lock_days: Option<u32>,
    /// Paths recorded in the snapshot for a stream input (e.g. the command that produced it).
    pub stream_paths: Vec<String>,
    /// Compute ransomware signals and a verdict (on by default in the CLI).
    pub detect: bool,
}

/// A problem with one file that did not stop the backup.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BackupWarning {
    pub path: String,
    pub message: String,
}

pub struct BackupResult {
    pub id: FileId,
    pub snapshot: Snapshot,
    pub parent: Option<FileId>,
    pub warnings: Vec<BackupWarning>,
}

type FileOutcome = std::result::Result<(Vec<BlobId>, Option<FileSignals>), String>;

struct Job {
    path: PathBuf,
    reply: Sender<FileOutcome>,
}

#[derive(Default)]
struct Counters {
    files_new: u64,
    files_changed: u64,
    files_unchanged: u64,
    dirs: u64,
    bytes_total: u64,
}

/// Shared state of one backup run.
struct Run<'a> {
    repo: &'a Repository,
    writer: BlobWriter<'a>,
    chunker: Chunker,
    progress: &'a Progress,
    warnings: Mutex<Vec<BackupWarning>>,
    excludes: Excludes,
    repo_root: Option<PathBuf>,
    /// Ransomware signals of this generation (None when detection is off).
    observer: Option<Observer>,
    /// Idle threads' help with sealing the chunks of large files.
    seal: SealPool,
}

impl Run<'_> {
    fn warn(&self, path: &Path, message: impl Into<String>) {
        Progress::add(&self.progress.errors, 1);
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(BackupWarning {
                path: path.display().to_string(),
                message: message.into(),
            });
    }

    /// Chunk and store a stream; returns its content ids. The bytes also feed the signal
    /// accumulator, if any: detection reads nothing twice.
    /// With `large`, the chunks' sealing is shared with the seal pool (see `seal_pool`).
    fn store_stream(
        &self,
        reader: impl Read,
        mut acc: Option<&mut SignalAccumulator>,
        large: bool,
    ) -> Result<Vec<BlobId>> {
        let mut ids = Vec::new();
        let mut batch = large.then(|| self.seal.batch(&self.writer));
        let chunked = self
            .chunker
            .for_each_chunk::<_, EngineError>(reader, |chunk| {
                if let Some(a) = acc.as_deref_mut() {
                    a.update(chunk);
                }
                let id = self.repo.key().blob_id(chunk);
                match batch.as_mut() {
                    Some(b) => b.add(id, chunk)?,
                    None => {
                        self.writer.add_with_id(BlobKind::Data, id, chunk)?;
                    }
                }
                Progress::add(&self.progress.bytes_done, chunk.len() as u64);
                ids.push(id);
                Ok(())
            });
        // Wait for the pool even after a read error: no chunk may still be in flight once the
        // file's outcome is reported.
        let sealed = batch.map_or(Ok(()), |b| b.finish());
        chunked?;
        sealed?;
        Ok(ids)
    }

    /// Worker body for one file. Errors that concern only this file become warnings.
    fn read_file(&self, path: &Path) -> std::result::Result<FileOutcome, EngineError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return Ok(Err(format!("cannot open: {e}"))),
        };
        let before = file.metadata().map_err(|e| EngineError::io(path, e))?;
        let mut acc = self.observer.as_ref().map(|_| SignalAccumulator::new());
        let large = before.size() >= POOL_MIN_FILE;
        match self.store_stream(&file, acc.as_mut(), large) {
            Ok(ids) => {
                if let Ok(after) = file.metadata() {
                    if after.size() != before.size()
                        || after.mtime() != before.mtime()
                        || after.mtime_nsec() != before.mtime_nsec()
                    {
                        self.warn(path, "file changed while it was read; the version stored may be inconsistent");
                    }
                }
                Progress::add(&self.progress.files_done, 1);
                Ok(Ok((ids, acc.map(SignalAccumulator::finish))))
            }
            Err(EngineError::Repo(e)) => Err(EngineError::Repo(e)),
            Err(e) => Ok(Err(format!("read failed: {e}"))),
        }
    }
}

/// The newest generation of the same source and paths, whose nodes are compared with the files.
pub fn find_parent(
    repo: &Repository,
    source: &str,
    paths: &[String],
) -> Result<Option<(FileId, Snapshot)>> {
    Ok(parent_in(&repo.list_snapshots()?.snapshots, source, paths))
}

fn parent_in(list: &[SnapshotEntry], source: &str, paths: &[String]) -> Option<(FileId, Snapshot)> {
    list.iter()
        .rev()
        .find(|s| s.snapshot.source == source && s.snapshot.paths == paths)
        .map(|s| (s.id, s.snapshot.clone()))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| EngineError::io(p, e))?
            .join(p)
    };
    // Normalize `.` and `..` lexically; symlinks in the given path itself are kept as given.
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s),
            _ => {}
        }
    }
    Ok(out)
}

/// Run a backup and commit a new generation.
pub fn backup(
    repo: &Repository,
    input: BackupInput,
    opts: &BackupOptions,
    progress: &Progress,
) -> Result<BackupResult> {
    let started = Instant::now();
    let time = Utc::now();
    let (paths, abs_paths) = match &input {
        BackupInput::Paths(p) => {
            let abs: Vec<PathBuf> = p.iter().map(|x| absolute(x)).collect::<Result<_>>()?;
            for a in &abs {
                fs::symlink_metadata(a).map_err(|e| EngineError::io(a, e))?;
            }
            (
                abs.iter()
                    .map(|a| a.display().to_string())
                    .collect::<Vec<_>>(),
                abs,
            )
        }
        BackupInput::Stream { name, .. } => (
            if opts.stream_paths.is_empty() {
                vec![name.clone()]
            } else {
                opts.stream_paths.clone()
            },
            vec![],
        ),
        BackupInput::Command { argv, .. } => (vec![argv.join(" ")], vec![]),
    };
    // One listing serves the parent and detection's history: every listed generation is a read
    // (a GET on S3), and listing again for the history doubled that on every detecting backup.
    let snapshots = repo.list_snapshots()?.snapshots;
    let parent = if opts.force {
        None
    } else {
        parent_in(&snapshots, &opts.source, &paths)
    };
    let history = match &parent {
        Some(_) if opts.detect => crate::detect::source_history(&snapshots, &opts.source),
        _ => Vec::new(),
    };
    drop(snapshots);
    let repo_root = repo.backend().location();
    let run = Run {
        repo,
        writer: BlobWriter::new(repo),
        chunker: Chunker::new(repo.config().chunker, repo.key().chunker_seed()),
        progress,
        warnings: Mutex::new(Vec::new()),
        excludes: Excludes::new(&opts.excludes)?,
        repo_root: fs::canonicalize(&repo_root).ok(),
        observer: (opts.detect && matches!(input, BackupInput::Paths(_))).then(|| {
            if parent.is_some() {
                Observer::default()
            } else {
                Observer::summaries_only()
            }
        }),
        seal: SealPool::new(threads(opts)),
    };
    let (tree, counters) = run
        .seal
        .with_threads(&run.writer, threads(opts), || match input {
            BackupInput::Paths(_) => {
                run_pipeline(&run, &abs_paths, parent.as_ref().map(|p| &p.1), opts)
            }
            BackupInput::Stream { name, reader } => store_stream_input(&run, &name, reader),
            BackupInput::Command { name, argv } => store_command_output(&run, &name, &argv),
        })?;
    let write = run.writer.finish()?;
    let warnings = run.warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    let verdict = match run.observer {
        // The first generation of a source has nothing to be compared with: every file is new,
        // and flagging it would only teach operators to ignore the verdict. Its files still get
        // their content summaries, which later generations and the clean assembly need.
        Some(_) if parent.is_none() => None,
        Some(observer) => Some(observer.judge(
            counters.files_unchanged,
            &history.iter().collect::<Vec<_>>(),
        )),
        None => None,
    };
    let (host, user) = host_user(opts);
    let snapshot = Snapshot {
        version: kura_format::FORMAT_VERSION,
        time,
        committed_at: Utc::now(),
        tree,
        paths,
        host,
        user,
        source: opts.source.clone(),
        tags: opts.tags.clone(),
        parent: parent.as_ref().map(|p| p.0),
        stats: SnapshotStats {
            files_new: counters.files_new,
            files_changed: counters.files_changed,
            files_unchanged: counters.files_unchanged,
            dirs: counters.dirs,
            bytes_read: Progress::get(&progress.bytes_done),
            bytes_total: counters.bytes_total,
            bytes_added: write.bytes_added,
            blobs_added: write.blobs_added,
            warnings: warnings.len() as u64,
            duration_ms: started.elapsed().as_millis() as u64,
        },
        program: format!("kura {}", env!("CARGO_PKG_VERSION")),
        lock_days: opts.lock_days,
        verdict,
    };
    let id = repo.save_snapshot(&snapshot)?;
    Ok(BackupResult {
        id,
        snapshot,
        parent: parent.map(|p| p.0),
        warnings,
    })
}

fn host_user(opts: &BackupOptions) -> (String, String) {
    let host = opts.host.clone().unwrap_or_else(|| {
        fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    });
    (host, std::env::var("USER").unwrap_or_default())
}

/// Worker threads: `opts.threads`, or one per core.
fn threads(opts: &BackupOptions) -> usize {
    if opts.threads == 0 {
        num_cpus::get().max(1)
    } else {
        opts.threads
    }
}

fn run_pipeline(
    run: &Run,
    paths: &[PathBuf],
    parent: Option<&Snapshot>,
    opts: &BackupOptions,
) -> Result<(BlobId, Counters)> {
    let root = virtual_root(paths)?;
    let parent_root = parent_map(run.repo, parent.map(|p| &p.tree));
    let prefetch = TreePrefetch::new(run.repo);
    let threads = threads(opts);
    let (job_tx, job_rx) = bounded::<Job>(threads * 64);
    let (ev_tx, ev_rx) = bounded::<Vec<Event>>(8192 / EVENT_BATCH);
    std::thread::scope(|s| {
        let mut workers = Vec::new();
        for _ in 0..threads {
            let rx = job_rx.clone();
            workers.push(s.spawn(move || -> Result<()> {
                for job in rx {
                    run.progress.set_current(&job.path.display().to_string());
                    let outcome = run.read_file(&job.path)?;
                    let _ = job.reply.send(outcome);
                }
                Ok(())
            }));
        }
        drop(job_rx);
        let prefetch = &prefetch;
        let helpers: Vec<_> = (0..threads.min(2))
            .map(|_| s.spawn(move || prefetch.serve()))
            .collect();
        prefetch.request_children(&parent_root);
        let assembler = s.spawn(move || assemble(run, ev_rx));
        let mut walker = Walker {
            rel: Vec::new(),
            prefetch,
            run,
            events: ev_tx,
            pending: Default::default(),
            flushes: Default::default(),
            jobs: job_tx,
            counters: Counters::default(),
            force: opts.force,
        };
        let walked = walker
            .walk_virtual(&root, &parent_root)
            .and_then(|()| walker.flush());
        prefetch.close();
        for h in helpers {
            h.join().expect("tree prefetch thread panicked");
        }
        let Walker {
            events,
            jobs,
            counters,
            ..
        } = walker;
        drop(jobs);
        drop(events);
        let mut first_err = walked.err();
        for w in workers {
            if let Err(e) = w.join().expect("backup worker panicked") {
                first_err.get_or_insert(e);
            }
        }
        let tree = assembler.join().expect("tree assembler panicked");
        match (first_err, tree) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(e),
            (None, Ok(tree)) => Ok((tree, counters)),
        }
    })
}
