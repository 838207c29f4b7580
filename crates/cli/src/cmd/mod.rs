//! One module per command family: parse nothing, call the library, format the result.

pub mod backup;
pub mod browse;
pub mod check;
pub mod clinical;
pub mod demo;
pub mod detect;
pub mod init;
pub mod key;
pub mod plan;
pub mod restore;
pub mod retention;
pub mod store_lock;
pub mod vault;
