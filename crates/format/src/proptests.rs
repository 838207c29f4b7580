//! Property tests: every on-disk structure survives encode → decode unchanged, and every decoder
//! returns an error (never a panic) on arbitrary bytes.

use proptest::prelude::*;

use crate::config::{ChunkerParams, RepoConfig};
use crate::crypto::{Compression, MasterKey, ObjectKind, MAX_OBJECT_LEN};
use crate::id::BlobId;
use crate::keyfile::KeyFile;
use crate::pack::{decode_header, parse_trailer, BlobKind, PackBuilder, PackEntry, TRAILER_LEN};
use crate::snapshot::{Snapshot, SnapshotStats};

fn key() -> MasterKey {
    MasterKey::from_bytes(&[7u8; 64]).expect("64 bytes")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn envelope_round_trip(plain in prop::collection::vec(any::<u8>(), 0..20_000), level in 0i32..4, kind in 1u8..8) {
        let k = key();
        let kind = ObjectKind::from_u8(kind).expect("valid kind");
        let id = k.blob_id(&plain);
        let sealed = k.seal(kind, Some(&id), &plain, Compression { level });
        prop_assert_eq!(k.open(kind, Some(&id), &sealed, MAX_OBJECT_LEN).unwrap(), plain);
    }

    #[test]
    fn envelope_open_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = key().open(ObjectKind::Data, None, &bytes, 1 << 20);
    }

    #[test]
    fn pack_entry_round_trip(kind in any::<bool>(), id in any::<[u8; 32]>(), o in any::<u32>(), l in any::<u32>(), r in any::<u32>()) {
        let e = PackEntry { kind: if kind { BlobKind::Tree } else { BlobKind::Data }, id: BlobId(id), offset: o, length: l, raw_len: r };
        let mut buf = Vec::new();
        e.encode(&mut buf);
        prop_assert_eq!(PackEntry::decode(&buf).unwrap(), e);
    }

    #[test]
    fn pack_round_trip(blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 1..12)) {
        let k = key();
        let mut pb = PackBuilder::new(1 << 16);
        for b in &blobs {
            let id = k.blob_id(b);
            pb.add(BlobKind::Data, id, &k.seal(ObjectKind::Data, Some(&id), b, Compression::default()), b.len() as u32);
        }
        let (_, bytes, entries) = pb.finish(&k);
        let n = bytes.len();
        let h = parse_trailer(&bytes[n - TRAILER_LEN..], n as u64).unwrap() as usize;
        let decoded = decode_header(&k, &bytes[n - TRAILER_LEN - h..n - TRAILER_LEN], n as u64).unwrap();
        prop_assert_eq!(&decoded, &entries);
        for (e, b) in decoded.iter().zip(&blobs) {
            let sealed = &bytes[e.offset as usize..(e.offset + e.length) as usize];
            prop_assert_eq!(&k.open(ObjectKind::Data, Some(&e.id), sealed, MAX_OBJECT_LEN).unwrap(), b);
        }
    }

    #[test]
    fn pack_trailer_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), len in any::<u64>()) {
        let _ = parse_trailer(&bytes, len);
        let _ = decode_header(&key(), &bytes, len);
    }

    #[test]
    fn snapshot_round_trip(paths in prop::collection::vec("[a-zA-Z0-9/患者データ ._-]{1,40}", 1..4),
                           tags in prop::collection::vec("[a-z0-9-]{1,12}", 0..3),
                           secs in 0i64..4_000_000_000, lock in prop::option::of(1u32..4000), files in any::<u64>()) {
        let t = chrono::DateTime::from_timestamp(secs, 0).unwrap();
        let s = Snapshot {
            version: 1, time: t, committed_at: t, tree: BlobId([3; 32]), paths, host: "h".into(), user: "u".into(),
            source: "ehr-db".into(), tags, parent: None, stats: SnapshotStats { files_new: files, ..Default::default() },
            program: "kura".into(), lock_days: lock, verdict: None,
        };
        prop_assert_eq!(Snapshot::open(&key(), &s.seal(&key())).unwrap(), s);
    }

    #[test]
    fn config_round_trip(min in 1024u32..65536, pack in (1u32 << 20)..(1u32 << 30), level in -5i32..22) {
        let c = RepoConfig { version: 1, id: "ab".repeat(32), created: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            chunker: ChunkerParams { min_size: min, avg_size: min * 2, max_size: min * 4 }, pack_size: pack, compression_level: level };
        let json = serde_json::to_vec(&c).unwrap();
        let back: RepoConfig = serde_json::from_slice(&json).unwrap();
        prop_assert!(back.validate().is_ok());
        prop_assert_eq!(back, c);
    }

    #[test]
    fn keyfile_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = KeyFile::from_bytes(&bytes);
    }
}
