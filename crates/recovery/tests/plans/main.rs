//! Recovery plans and drills end to end, in one test binary.

mod example_plan;
mod postgres_drill;
