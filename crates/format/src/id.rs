//! 32-byte identifiers.
//!
//! Two kinds, deliberately distinct types so that one can never be passed for the other:
//! - [`BlobId`]: a chunk or tree, keyed BLAKE3 of its plaintext (see [`crate::crypto::MasterKey::blob_id`]).
//! - [`FileId`]: a stored file (pack, index, snapshot, key), plain BLAKE3 of the stored bytes. A
//!   file's name is its id in lower-case hex, so any reader can verify a file without the key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::FormatError;

macro_rules! id_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// The first 8 hex digits, for people.
            pub fn short(&self) -> String {
                hex::encode(&self.0[..4])
            }
            pub fn from_hex(s: &str) -> Result<Self, FormatError> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|e| {
                    FormatError::malformed(
                        stringify!($name),
                        format!("{s:?} is not 64 hex digits: {e}"),
                    )
                })?;
                Ok($name(out))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }
        impl FromStr for $name {
            type Err = FormatError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    BlobId,
    "Id of a chunk or tree: keyed BLAKE3 of the plaintext."
);
id_type!(
    FileId,
    "Id of a stored file: BLAKE3 of its bytes as stored."
);

impl FileId {
    /// The id of stored bytes.
    pub fn of(bytes: &[u8]) -> Self {
        FileId(*blake3::hash(bytes).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_bad_input() {
        let id = FileId::of(b"hello");
        assert_eq!(FileId::from_hex(&id.to_hex()).unwrap(), id);
        assert!(FileId::from_hex("zz").is_err());
        assert!(FileId::from_hex(&"0".repeat(63)).is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<FileId>(&json).unwrap(), id);
        assert_eq!(id.short().len(), 8);
    }
}
