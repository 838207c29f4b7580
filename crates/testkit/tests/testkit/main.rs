//! The test kit's own tests, in one test binary.

mod cli;
mod compare;
mod dataset;
