//! # kura-server: the vault (`kura serve`)
//!
//! A vault keeps repositories where a hospital's own (possibly taken over) machines can only add
//! to them. It serves the create-only [`kura_store::Backend`] operations over HTTPS to clients
//! holding a bearer credential, and decides every request with one table ([`perm`]):
//!
//! - **Backup tokens** (`kura admin token create --role backup`) add packs, indexes and snapshots
//!   of their own source and read what deduplication needs. They cannot remove, overwrite, write
//!   config, key or metadata files (locks, holds, policies, garbage-collection marks), or read the
//!   audit log; each refusal is answered with 403 naming the missing permission, and audited.
//! - **The vault sets commit times** ([`commit`]): it holds its own key to each repository, opens
//!   the snapshot a client sends, and either stamps it with its clock (commit route) or refuses it
//!   when its time is off by more than the configured tolerance.
//! - **Content addressing is enforced**: a pack, index, key or snapshot is stored only under the
//!   BLAKE3 of its bytes, so a client cannot squat a name that an honest upload needs later.
//! - **Every write, removal, refusal, login and token failure is audited** in the hash-chained
//!   log of kura-audit; the log's head is anchored with each committed generation.
//!
//! - **Four-eyes deletion** ([`plans`]): with `require_approval` every forget or prune is a plan
//!   one account proposes and a second approves; the vault executes it with its own key.
//! - **Copies a takeover cannot reach** ([`copy`], [`media`]): generations are pulled into another
//!   repository, re-encrypted with its key, or exported to media with a manifest.
//!
//! - **Web pages** ([`web`], [`console`], [`viewer`]): the console for admins and auditors and
//!   the emergency clinical viewer for clinicians, server-rendered HTML over the same `Vault`.
//!
//! Layout of `data_dir`: `tls/` (certificate), `auth.json` (kura-auth), `audit.log`, `repos/NAME/`
//! (local repositories), `keys/NAME.key` (the vault's key to each, 0600), `anchors/NAME/ID.json`.
//! Configuration: CONFIG.md. Layers: [`http`] (TLS listener) → [`api`] (routes, thin) →
//! [`vault::Vault`] methods in [`ops`], [`commit`] and [`admin`] (synchronous, testable without a
//! network).
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod commit;
pub mod config;
pub mod console;
pub mod copy;
pub mod error;
mod fsutil;
pub mod http;
pub mod media;
pub mod ops;
pub mod perm;
pub mod plans;
pub mod tls;
pub mod vault;
pub mod viewer;
pub mod web;

pub use config::VaultConfig;
pub use error::{Result, ServerError};
pub use vault::{Caller, Vault};
