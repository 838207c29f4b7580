//! SS-MIX2 files (HL7 v2 in ISO-2022-JP, Shift_JIS or UTF-8) as they come from a hospital share or
//! out of a backup: any bytes must give facts or a skip reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match kura_clinical::parse_ssmix2_bytes(data) {
        Ok(facts) => {
            let _ = format!("{facts:?}");
        }
        Err(reason) => {
            // Skip reasons are shown to people: formatting them must not panic either.
            let _ = reason.to_string();
        }
    }
});
