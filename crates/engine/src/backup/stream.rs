//! Backing up one stream: standard input (`--stdin`) or a command's output
//! (`--stdin-from-command`, e.g. `pg_dump`), stored as one file at the root of a generation.

use std::io::Read;

use chrono::Utc;
use kura_format::tree::{Node, NodeType};
use kura_format::BlobId;

use super::walker::store_tree;
use super::{Counters, Run};
use crate::error::{EngineError, Result};

pub(super) fn store_stream_input(
    run: &Run,
    name: &str,
    reader: Box<dyn Read + Send>,
) -> Result<(BlobId, Counters)> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(EngineError::Invalid(format!(
            "--stdin-filename {name:?} must be a plain file name"
        )));
    }
    let mut counting = CountingReader {
        inner: reader,
        count: 0,
    };
    let content = run.store_stream(&mut counting, None, true)?;
    let mut node = Node::new(name.as_bytes(), NodeType::File);
    node.mode = 0o640;
    let now = Utc::now();
    node.mtime = now.timestamp();
    node.mtime_ns = now.timestamp_subsec_nanos();
    node.size = counting.count;
    node.content = content;
    let tree = store_tree(run, vec![node])?;
    Ok((
        tree,
        Counters {
            files_new: 1,
            bytes_total: counting.count,
            ..Counters::default()
        },
    ))
}

pub(super) fn store_command_output(
    run: &Run,
    name: &str,
    argv: &[String],
) -> Result<(BlobId, Counters)> {
    let Some((program, args)) = argv.split_first() else {
        return Err(EngineError::Invalid(
            "--stdin-from-command needs a command after `--`".into(),
        ));
    };
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| EngineError::CommandFailed {
            command: argv.join(" "),
            status: format!("cannot start: {e}"),
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| EngineError::Invalid("the command has no standard output".into()))?;
    let stored = store_stream_input(run, name, Box::new(stdout));
    let status = child.wait().map_err(|e| EngineError::CommandFailed {
        command: argv.join(" "),
        status: e.to_string(),
    })?;
    if !status.success() {
        return Err(EngineError::CommandFailed {
            command: argv.join(" "),
            status: status.to_string(),
        });
    }
    stored
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
