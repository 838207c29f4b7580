//! Attack simulations against the detector, in one test binary.

mod detection;
mod slow_attack;
mod support;
