//! Read-ahead for ranged pack reads.
//!
//! A restore or a tree walk reads a pack blob by blob, often a few KiB each, in pack order. On a
//! local disk each read is a cheap `pread`; on S3 each is a whole HTTP request, and 10,000 small
//! GETs made a 256 MiB restore from SeaweedFS on loopback 14× slower than from a local directory
//! (BENCHMARKS.md, "S3"). So a ranged pack read fetches at least [`WINDOW`] bytes from its offset
//! and keeps the last few windows: the following blobs are served from memory. A miss costs one
//! larger transfer instead of one small one, which on any link is nearly the same request time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Bytes fetched by a ranged pack read (more when the read itself is larger).
pub(super) const WINDOW: u64 = 4 << 20;
/// Windows kept: 16 × 4 MiB bounds the memory at 64 MiB per backend, enough for the few packs
/// that restore threads read at once.
const KEEP: usize = 16;

struct Window {
    name: String,
    start: u64,
    bytes: Arc<Vec<u8>>,
}

#[derive(Default)]
pub(super) struct Windows(Mutex<VecDeque<Window>>);

impl Windows {
    /// `len` bytes at `offset` of pack `name`, if a kept window holds all of them.
    pub fn get(&self, name: &str, offset: u64, len: u64) -> Option<Vec<u8>> {
        let mut kept = self.0.lock().ok()?;
        let pos = kept.iter().position(|w| {
            w.name == name
                && offset >= w.start
                && offset
                    .checked_add(len)
                    .is_some_and(|end| end <= w.start + w.bytes.len() as u64)
        })?;
        let w = kept.remove(pos)?;
        let from = (offset - w.start) as usize;
        let out = w.bytes[from..from + len as usize].to_vec();
        kept.push_front(w); // most recently used first
        Some(out)
    }

    pub fn put(&self, name: &str, start: u64, bytes: Vec<u8>) {
        if let Ok(mut kept) = self.0.lock() {
            kept.push_front(Window {
                name: name.to_string(),
                start,
                bytes: Arc::new(bytes),
            });
            kept.truncate(KEEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_reads_inside_a_kept_window_only() {
        let w = Windows::default();
        w.put("p1", 100, (0..50u8).collect());
        assert_eq!(w.get("p1", 110, 5), Some(vec![10, 11, 12, 13, 14]));
        assert_eq!(w.get("p1", 140, 10), Some((40..50u8).collect()));
        assert_eq!(w.get("p1", 140, 11), None, "past the window's end");
        assert_eq!(w.get("p1", 99, 2), None, "before the window");
        assert_eq!(w.get("p2", 110, 5), None, "another pack");
        assert_eq!(w.get("p1", u64::MAX, 2), None, "no overflow");
        for i in 0..KEEP as u64 {
            w.put("q", i * 1000, vec![0; 10]);
        }
        assert_eq!(w.get("p1", 110, 5), None, "the oldest window was dropped");
    }
}
