//! Content-defined chunking with FastCDC 2020 (the `fastcdc` crate's gear-hash cut function) over a
//! streaming reader, with a per-repository gear seed.
//!
//! The crate's own `StreamCDC` allocates a `Vec` per chunk and cannot take precomputed gear tables;
//! here one buffer is reused for the whole file and the tables are built once per backup.

use std::borrow::Cow;
use std::io::{self, Read};

thread_local! {
    static CHUNK_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

use fastcdc::v2020::{cut_gear, get_gear_with_seed, select_masks, Normalization};
use kura_format::config::ChunkerParams;

#[derive(Clone)]
pub struct Chunker {
    min: usize,
    avg: usize,
    max: usize,
    mask_s: u64,
    mask_l: u64,
    gear: Cow<'static, [u64]>,
    gear_ls: Cow<'static, [u64]>,
}

impl Chunker {
    pub fn new(params: ChunkerParams, seed: u64) -> Self {
        let (mask_s, mask_l) = select_masks(params.avg_size as usize, Normalization::Level1);
        let (gear, gear_ls) = get_gear_with_seed(seed);
        Chunker {
            min: params.min_size as usize,
            avg: params.avg_size as usize,
            max: params.max_size as usize,
            mask_s,
            mask_l,
            gear,
            gear_ls,
        }
    }

    pub fn min_size(&self) -> usize {
        self.min
    }

    pub fn max_size(&self) -> usize {
        self.max
    }

    /// Length of the next chunk at the start of `data`. Unless `eof`, `data` must hold at least
    /// `max_size` bytes (or everything that is left).
    pub fn cut(&self, data: &[u8]) -> usize {
        if data.len() <= self.min {
            return data.len();
        }
        let (_, len) = cut_gear(
            data,
            self.min,
            self.avg,
            self.max,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            &self.gear,
            &self.gear_ls,
        );
        len.max(1)
    }

    /// Split a whole reader, calling `f` with each chunk. Returns the number of bytes read.
    pub fn for_each_chunk<R: Read, E: From<io::Error>>(
        &self,
        mut reader: R,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        // One buffer per thread, reused: zeroing a fresh 4 MiB buffer for every small file cost
        // 15-28% of backup CPU (BENCHMARKS.md).
        let cap = (self.max * 4).max(4 << 20);
        let mut buf = CHUNK_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
        if buf.len() < cap {
            buf = vec![0u8; cap];
        }
        let result = self.chunk_with(&mut reader, &mut buf, &mut f);
        CHUNK_BUFFER.with(|b| *b.borrow_mut() = buf);
        result
    }

    fn chunk_with<R: Read, E: From<io::Error>>(
        &self,
        reader: &mut R,
        buf: &mut [u8],
        f: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        let (mut start, mut end, mut eof, mut total) = (0usize, 0usize, false, 0u64);
        loop {
            while !eof && end - start < self.max {
                if end == buf.len() {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                match reader.read(&mut buf[end..]) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        end += n;
                        total += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if start == end {
                return Ok(total);
            }
            let len = self.cut(&buf[start..end]);
            f(&buf[start..start + len])?;
            start += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn small() -> ChunkerParams {
        ChunkerParams {
            min_size: 2048,
            avg_size: 8192,
            max_size: 32768,
        }
    }

    fn chunks(c: &Chunker, data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        c.for_each_chunk::<_, io::Error>(data, |ch| {
            out.push(ch.to_vec());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn chunks_reassemble_and_respect_bounds() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let data: Vec<u8> = (0..500_000).map(|_| rng.gen()).collect();
        let c = Chunker::new(small(), 42);
        let cs = chunks(&c, &data);
        assert_eq!(cs.concat(), data);
        for ch in &cs[..cs.len() - 1] {
            assert!(ch.len() >= 2048 && ch.len() <= 32768, "{}", ch.len());
        }
        assert!(chunks(&c, b"").is_empty());
        assert_eq!(chunks(&c, b"tiny"), vec![b"tiny".to_vec()]);
    }

    #[test]
    fn seed_changes_boundaries() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let data: Vec<u8> = (0..300_000).map(|_| rng.gen()).collect();
        let a: Vec<usize> = chunks(&Chunker::new(small(), 1), &data)
            .iter()
            .map(|c| c.len())
            .collect();
        let b: Vec<usize> = chunks(&Chunker::new(small(), 2), &data)
            .iter()
            .map(|c| c.len())
            .collect();
        assert_ne!(a, b);
    }

    /// An insertion in the middle changes only the chunks around it: most boundaries survive.
    /// Content-defined chunking resynchronises after an edit, but how soon depends on the data,
    /// so this runs over a fixed set of 48 seeded cases (deterministic, never flaky) and bounds
    /// the changed chunks by the chunks the inserted bytes themselves can fill plus the two
    /// around each end of the edit.
    #[test]
    fn boundaries_mostly_stable_under_insertion() {
        let params = small();
        let mut worst = 0;
        for seed in 0..48u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let data: Vec<u8> = (0..400_000).map(|_| rng.gen()).collect();
            let pos = rng.gen_range(80_000..320_000);
            let ins_len = rng.gen_range(1..5000usize);
            let mut edited = data[..pos].to_vec();
            edited.extend((0..ins_len).map(|_| rng.gen::<u8>()));
            edited.extend_from_slice(&data[pos..]);
            let c = Chunker::new(params, seed);
            let before: std::collections::HashSet<Vec<u8>> =
                chunks(&c, &data).into_iter().collect();
            let after = chunks(&c, &edited);
            let changed = after.iter().filter(|ch| !before.contains(*ch)).count();
            let bound = 4 + ins_len.div_ceil(params.min_size as usize);
            assert!(
                changed <= bound,
                "seed {seed}: {changed} of {} chunks changed by inserting {ins_len} bytes (bound {bound})",
                after.len()
            );
            worst = worst.max(changed);
        }
        // The typical case is far below the bound: an edit costs about two chunks.
        assert!(worst <= 6, "worst case {worst} changed chunks");
    }
}
