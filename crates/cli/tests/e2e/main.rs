//! End-to-end tests of the `kura` binary, one module per capability.
//!
//! They are compiled into this one test binary (rather than one binary per file) because each
//! binary links every dependency again: 25 binaries cost gigabytes of disk and minutes of link time
//! on the 2-core CI machine. nextest still runs every test in its own process, in parallel.
//! Run one module with `cargo nextest run -p kura --test e2e crash::` (or `cargo test ... crash::`).

// Shared helpers.
mod browser;
mod clinical_support;
mod common;
mod plan_common;
mod vault_support;

mod clinical_fhir_samples;
mod clinical_scale;
mod clinical_ssmix2;
mod clinical_verdicts;
mod conformance;
mod console;
mod crash;
mod damage;
mod damage_suite;
mod demo;
mod detection;
mod faults;
mod generations;
mod keys;
mod plan_check;
mod plan_drill;
mod plan_restore;
mod postgres;
mod retention;
mod roundtrip;
mod s3;
mod traversal;
mod vault_attack;
mod vault_copy;
mod vault_login;
mod vault_plans;
mod viewer;
