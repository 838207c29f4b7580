//! Multipart upload of a large pack: create (with the lock headers), parts four at a time, then a
//! create-only completion (`If-None-Match: *` on CompleteMultipartUpload, so a racing writer of the
//! same name cannot be overwritten). Any failure aborts the upload so that no parts are left
//! behind (they would be billed and invisible to Kura).

use std::time::SystemTime;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectLockMode,
};
use tokio::task::JoinSet;

use super::Target;
use crate::{Result, StoreError};

/// Parts in flight at once: enough to fill a link, bounded memory (4 × part size of copies).
const PARALLEL_PARTS: usize = 4;

pub(super) async fn upload(
    target: Target,
    data: Vec<u8>,
    part_size: usize,
    until: Option<SystemTime>,
) -> Result<()> {
    let mut req = target
        .client
        .create_multipart_upload()
        .bucket(&target.bucket)
        .key(&target.key)
        // Object Lock buckets require an integrity checksum on every part.
        .checksum_algorithm(ChecksumAlgorithm::Crc32);
    if let Some(t) = until {
        req = req
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(DateTime::from(t));
    }
    let created = req.send().await.map_err(|e| target.error(e))?;
    let Some(upload_id) = created.upload_id().map(str::to_string) else {
        return Err(io(
            &target,
            "the store started a multipart upload without an upload id",
        ));
    };
    let result = parts_and_complete(&target, &upload_id, data, part_size).await;
    if result.is_err() {
        // Best effort: the original error is what the caller needs to see.
        let _ = target
            .client
            .abort_multipart_upload()
            .bucket(&target.bucket)
            .key(&target.key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    result
}

async fn parts_and_complete(
    target: &Target,
    upload_id: &str,
    data: Vec<u8>,
    part_size: usize,
) -> Result<()> {
    let chunks: Vec<Vec<u8>> = data.chunks(part_size).map(<[u8]>::to_vec).collect();
    drop(data);
    let mut parts = Vec::with_capacity(chunks.len());
    let mut running = JoinSet::new();
    for (i, chunk) in chunks.into_iter().enumerate() {
        if running.len() >= PARALLEL_PARTS {
            parts.push(next_part(target, &mut running).await?);
        }
        // S3 part numbers start at 1.
        let number = i32::try_from(i + 1).map_err(|_| io(target, "more than 2^31 parts"))?;
        running.spawn(upload_part(
            target.clone(),
            upload_id.to_string(),
            number,
            chunk,
        ));
    }
    while !running.is_empty() {
        parts.push(next_part(target, &mut running).await?);
    }
    parts.sort_by_key(|p| p.part_number());
    target
        .client
        .complete_multipart_upload()
        .bucket(&target.bucket)
        .key(&target.key)
        .upload_id(upload_id)
        .if_none_match("*")
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map(drop)
        .map_err(|e| target.error(e))
}

async fn next_part(
    target: &Target,
    running: &mut JoinSet<Result<CompletedPart>>,
) -> Result<CompletedPart> {
    match running.join_next().await {
        Some(Ok(part)) => part,
        Some(Err(join)) => Err(io(target, &format!("a part upload task failed: {join}"))),
        None => Err(io(target, "no part upload was running")),
    }
}

async fn upload_part(
    target: Target,
    upload_id: String,
    number: i32,
    chunk: Vec<u8>,
) -> Result<CompletedPart> {
    let out = target
        .client
        .upload_part()
        .bucket(&target.bucket)
        .key(&target.key)
        .upload_id(upload_id)
        .part_number(number)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(chunk))
        .send()
        .await
        .map_err(|e| target.error(e))?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag().map(str::to_string))
        .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
        .build())
}

fn io(target: &Target, msg: &str) -> StoreError {
    StoreError::Io {
        kind: target.kind,
        name: target.name.clone(),
        source: std::io::Error::other(format!("multipart upload of {}: {msg}", target.key)),
    }
}
