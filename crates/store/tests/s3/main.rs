//! The S3 backend's tests, in one binary (each test binary links the AWS SDK again).
//! Run with `cargo nextest run -p kura-store --test s3`.

mod probe_liars;
mod seaweedfs;
mod support;
