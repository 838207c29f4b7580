//! `repair index`: rebuild the index from the packs alone.
//!
//! Every pack describes its own blobs in an encrypted header at its end, so the index is a cache
//! that can always be rebuilt: read each pack's trailer and header, write one index file that lists
//! every readable pack and supersedes every existing index file, then remove those files.

use kura_format::index::{IndexFile, IndexPack};
use kura_format::pack::{decode_header, parse_trailer, TRAILER_LEN};
use kura_format::FileId;
use kura_repo::Repository;
use kura_store::FileKind;
use serde::Serialize;

use crate::error::Result;

#[derive(Clone, Debug, Default, Serialize)]
pub struct RepairSummary {
    pub packs_indexed: usize,
    pub blobs_indexed: usize,
    pub damaged_packs: Vec<String>,
    pub index_files_replaced: usize,
}

fn read_header(repo: &Repository, name: &str, size: u64) -> std::result::Result<IndexPack, String> {
    let id = FileId::from_hex(name).map_err(|e| e.to_string())?;
    if size < TRAILER_LEN as u64 {
        return Err("too short to be a pack".into());
    }
    let trailer = repo
        .backend()
        .read_range(
            FileKind::Pack,
            name,
            size - TRAILER_LEN as u64,
            TRAILER_LEN as u64,
        )
        .map_err(|e| e.to_string())?;
    let h = parse_trailer(&trailer, size).map_err(|e| e.to_string())? as u64;
    let header = repo
        .backend()
        .read_range(FileKind::Pack, name, size - TRAILER_LEN as u64 - h, h)
        .map_err(|e| e.to_string())?;
    let blobs = decode_header(repo.key(), &header, size).map_err(|e| e.to_string())?;
    Ok(IndexPack { id, blobs })
}

pub fn repair_index(repo: &Repository) -> Result<RepairSummary> {
    let mut summary = RepairSummary::default();
    let old: Vec<String> = repo
        .backend()
        .list(FileKind::Index)?
        .into_iter()
        .map(|f| f.name)
        .collect();
    let mut packs = Vec::new();
    for f in repo.backend().list(FileKind::Pack)? {
        match read_header(repo, &f.name, f.size) {
            Ok(p) => {
                summary.blobs_indexed += p.blobs.len();
                packs.push(p);
            }
            Err(e) => summary.damaged_packs.push(format!("{}: {e}", f.name)),
        }
    }
    summary.packs_indexed = packs.len();
    let supersedes = old
        .iter()
        .filter_map(|n| FileId::from_hex(n).ok())
        .collect();
    let new_id = repo.save_index(&IndexFile { supersedes, packs })?;
    for name in old.iter().filter(|n| **n != new_id.to_hex()) {
        match repo.backend().remove(FileKind::Index, name) {
            Ok(()) => summary.index_files_replaced += 1,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    repo.load_index()?;
    Ok(summary)
}
