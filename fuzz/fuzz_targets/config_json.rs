//! The repository config: JSON inside an envelope of kind Config, then `validate`, as
//! `Repository::open` does. A config that validates must hold chunker and pack sizes a writer can
//! use.
#![no_main]

mod common;

use kura_format::config::RepoConfig;
use kura_format::crypto::{Compression, ObjectKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = common::key();
    let sealed = key.seal(ObjectKind::Config, None, data, Compression { level: 0 });
    let Ok(plain) = key.open(ObjectKind::Config, None, &sealed, 1 << 20) else {
        return;
    };
    let Ok(config) = serde_json::from_slice::<RepoConfig>(&plain) else {
        return;
    };
    if config.validate().is_ok() {
        let c = config.chunker;
        assert!(1024 <= c.min_size && c.min_size <= c.avg_size && c.avg_size <= c.max_size);
        assert!(c.max_size <= 8 << 20);
        assert!((1 << 20..=1 << 30).contains(&config.pack_size));
        assert!(config.version <= kura_format::FORMAT_VERSION);
    }
});
