//! `--exclude` patterns (glob syntax). A pattern with a `/` matches the whole path; one without
//! matches any file or directory name, as in restic.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::error::{EngineError, Result};

#[derive(Default)]
pub struct Excludes {
    by_path: Option<GlobSet>,
    by_name: Option<GlobSet>,
}

fn build(patterns: &[&String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| EngineError::BadPattern {
            pattern: p.to_string(),
            detail: e.to_string(),
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| EngineError::BadPattern {
        pattern: patterns
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(","),
        detail: e.to_string(),
    })
}

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Self> {
        let (with_slash, names): (Vec<&String>, Vec<&String>) =
            patterns.iter().partition(|p| p.contains('/'));
        Ok(Excludes {
            by_path: build(&with_slash)?,
            by_name: build(&names)?,
        })
    }

    pub fn is_excluded(&self, path: &Path) -> bool {
        if let Some(set) = &self.by_path {
            if set.is_match(path) {
                return true;
            }
        }
        if let (Some(set), Some(name)) = (&self.by_name, path.file_name()) {
            if set.is_match(Path::new(std::ffi::OsStr::from_bytes(name.as_bytes()))) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let ex = Excludes::new(&["*.tmp".into(), "/data/cache/**".into()]).unwrap();
        assert!(ex.is_excluded(Path::new("/x/y/a.tmp")));
        assert!(ex.is_excluded(Path::new("/data/cache/z")));
        assert!(!ex.is_excluded(Path::new("/data/keep/z")));
        assert!(Excludes::new(&["[".into()]).is_err());
    }
}
