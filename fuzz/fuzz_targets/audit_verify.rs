//! The audit log verifier on an arbitrary log file (a copy on removable media, an export), with and
//! without an expected head. It must report, never panic, and count no more entries than lines.
#![no_main]

use kura_audit::{verify_reader, Head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = verify_reader(data, None).expect("reading from memory cannot fail");
    assert!(report.entries <= report.lines, "{report:?}");
    if data.is_empty() {
        assert!(report.is_ok() && report.head.is_none());
    }
    let _ = report.to_string();
    let expected = Head::new(report.entries + 1, "00".repeat(32));
    let checked = verify_reader(data, Some(&expected)).expect("reading from memory cannot fail");
    // The log cannot end at a head it never reached.
    assert!(
        !checked.is_ok(),
        "a head past the end was accepted: {checked:?}"
    );
});
