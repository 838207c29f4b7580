//! Exit codes that scripts can trust (documented in README.md).

pub const SUCCESS: i32 = 0;
/// The command failed; nothing it was asked to commit was committed.
pub const FAILURE: i32 = 1;
// 2: wrong command-line usage (clap exits with it before any command runs).
/// Completed, but some files could not be read (backup) and are listed in the output.
pub const WARNINGS: i32 = 3;
/// Backup completed, and the new generation was judged suspicious (possible ransomware).
pub const SUSPICIOUS: i32 = 4;
/// The repository does not exist at the given location.
pub const NO_REPOSITORY: i32 = 10;
/// The password or recovery key does not open the repository.
pub const WRONG_PASSWORD: i32 = 12;
