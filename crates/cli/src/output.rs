//! Progress display: a bar on a terminal, JSON status lines with --json, nothing otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use kura_engine::Progress;

pub struct ProgressDisplay {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl ProgressDisplay {
    /// Start showing `progress` for an operation called `what` (e.g. "backup").
    pub fn start(progress: Arc<Progress>, what: &'static str, json: bool, quiet: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let show_bar = !json && !quiet && std::io::stderr().is_terminal();
        if !show_bar && !json {
            return ProgressDisplay { stop, handle: None };
        }
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let bar = show_bar.then(|| {
                let b = ProgressBar::new(0);
                b.set_style(
                    ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.set_prefix(what);
                b
            });
            let mut ticks = 0u32;
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                ticks += 1;
                let done = Progress::get(&progress.bytes_done);
                let total = Progress::get(&progress.bytes_total);
                let files = Progress::get(&progress.files_done);
                let files_total = Progress::get(&progress.files_total);
                if let Some(b) = &bar {
                    b.set_length(total.max(done));
                    b.set_position(done);
                    b.set_message(format!("{files}/{files_total} files"));
                } else if ticks.is_multiple_of(10) {
                    let line = serde_json::json!({
                        "message_type": "status", "operation": what,
                        "bytes_done": done, "total_bytes": total,
                        "files_done": files, "total_files": files_total,
                        "errors": Progress::get(&progress.errors),
                    });
                    println!("{line}");
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        ProgressDisplay {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}
