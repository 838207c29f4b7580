//! Measures what [`SignalAccumulator`] costs per GiB, sampled (the hot path) and full.
//!
//! `cargo run --release -p kura-anomaly --example signal_cost [MIB]` (default 512 MiB).
//! The data is fed in 1 MiB chunks, as the backup's reader does, half random, half text,
//! so branch behaviour matches a real mix.

use std::time::Instant;

use kura_anomaly::SignalAccumulator;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let mut chunk = vec![0u8; 1 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for (i, b) in chunk.iter_mut().enumerate() {
        *b = if i < (1 << 19) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        } else {
            b"MSH|^~\\&|HIS|HOSP|||20260401||ADT^A08|1|P|2.5\r"[i % 45]
        };
    }
    for (name, sampled) in [("sampled (hot path)", true), ("full", false)] {
        let start = Instant::now();
        // 64 files of mib/64 MiB each, so per-file finish() costs are included.
        let files = 64.min(mib.max(1));
        let per_file = (mib / files).max(1);
        for _ in 0..files {
            let mut acc = if sampled {
                SignalAccumulator::new()
            } else {
                SignalAccumulator::full()
            };
            for _ in 0..per_file {
                acc.update(&chunk);
            }
            std::hint::black_box(acc.finish());
        }
        let secs = start.elapsed().as_secs_f64();
        let gib = (files * per_file) as f64 / 1024.0;
        println!(
            "{name}: {:.0} MiB in {secs:.3} s = {:.2} GiB/s per core, {:.3} s per GiB",
            gib * 1024.0,
            gib / secs,
            secs / gib
        );
    }
    per_file_cost(&chunk);
}

/// The fixed cost of one file (setting up and finishing an accumulator), which dominates for
/// the many small files of a hospital share: 100,000 files of each size, half random, half text.
fn per_file_cost(chunk: &[u8]) {
    const FILES: usize = 100_000;
    for size in [1024usize, 8 * 1024, 64 * 1024] {
        let start = Instant::now();
        for i in 0..FILES {
            let offset = if i % 2 == 0 { 0 } else { 1 << 19 };
            let mut acc = SignalAccumulator::new();
            acc.update(&chunk[offset..offset + size]);
            std::hint::black_box(acc.finish().summary());
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / FILES as f64;
        println!("files of {size} bytes: {us:.2} µs per file (new + update + finish + summary)");
    }
}
