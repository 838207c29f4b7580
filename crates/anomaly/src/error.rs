//! Errors of the crate. Analysis itself never fails (any observation yields a verdict);
//! only inputs that contradict themselves are refused.

use thiserror::Error;

/// What went wrong, to what, and what to do next.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AnomalyError {
    /// The same generation id was passed twice to a clean-point computation.
    #[error(
        "generation {0} appears more than once in the input; pass each generation of the \
         source exactly once, oldest first"
    )]
    DuplicateGeneration(String),
    /// A threshold is outside the range where it means anything.
    #[error("threshold {name} = {value} is invalid: {expected}; fix the configuration")]
    InvalidThreshold {
        /// Field name in [`crate::Thresholds`].
        name: &'static str,
        /// The value that was given.
        value: f64,
        /// What the value must be.
        expected: &'static str,
    },
}
