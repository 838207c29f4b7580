//! JP-CLINS FHIR JSON (a resource or a Bundle): any bytes must give content or a skip reason.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match kura_clinical::parse_fhir_bytes(data) {
        Ok(content) => {
            let _ = format!("{content:?}");
        }
        Err(reason) => {
            let _ = reason.to_string();
        }
    }
});
