//! Fault injection for crash- and fault-safety tests.
//!
//! A [`FaultPlan`] makes the local backend fail at one chosen point of its write protocol (write,
//! short write, fsync, link/rename, directory fsync) on the n-th time that point is reached, with
//! ENOSPC or EIO. End-to-end tests set it through `KURA_FAULT=point:n:error`
//! (e.g. `fsync:3:eio`), so the real `kura` binary is exercised, not a model of it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    Write,
    ShortWrite,
    Fsync,
    Link,
    DirSync,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    NoSpace,
    Io,
}

#[derive(Debug)]
pub struct FaultPlan {
    point: FaultPoint,
    nth: u64,
    error: FaultError,
    seen: AtomicU64,
}

impl FaultPlan {
    pub fn fail_nth(point: FaultPoint, nth: u64, error: FaultError) -> Self {
        FaultPlan {
            point,
            nth,
            error,
            seen: AtomicU64::new(0),
        }
    }

    /// Parse `KURA_FAULT` (`point:n:error`); absent or malformed means no faults.
    pub fn from_env() -> Option<Self> {
        let spec = std::env::var("KURA_FAULT").ok()?;
        Self::parse(&spec)
    }

    pub fn parse(spec: &str) -> Option<Self> {
        let mut parts = spec.split(':');
        let point = match parts.next()? {
            "write" => FaultPoint::Write,
            "short-write" => FaultPoint::ShortWrite,
            "fsync" => FaultPoint::Fsync,
            "link" => FaultPoint::Link,
            "dirsync" => FaultPoint::DirSync,
            _ => return None,
        };
        let nth = parts.next()?.parse().ok()?;
        let error = match parts.next()? {
            "enospc" => FaultError::NoSpace,
            "eio" => FaultError::Io,
            _ => return None,
        };
        Some(Self::fail_nth(point, nth, error))
    }

    /// Called by the backend at each point; fails exactly once, at the chosen occurrence.
    pub fn check(&self, point: FaultPoint) -> io::Result<()> {
        if point != self.point {
            return Ok(());
        }
        if self.seen.fetch_add(1, Ordering::SeqCst) == self.nth {
            let code = match self.error {
                FaultError::NoSpace => libc::ENOSPC,
                FaultError::Io => libc::EIO,
            };
            return Err(io::Error::from_raw_os_error(code));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_fires_once() {
        let p = FaultPlan::parse("fsync:1:eio").unwrap();
        assert!(p.check(FaultPoint::Write).is_ok());
        assert!(p.check(FaultPoint::Fsync).is_ok());
        assert_eq!(
            p.check(FaultPoint::Fsync).unwrap_err().raw_os_error(),
            Some(libc::EIO)
        );
        assert!(p.check(FaultPoint::Fsync).is_ok());
        assert!(FaultPlan::parse("nope:1:eio").is_none());
        assert!(FaultPlan::parse("write:x:eio").is_none());
    }
}
