//! The storage conformance suite (`kura_store::conformance`) against a real vault: `kura serve`
//! over HTTPS on loopback, reached through `RemoteBackend` with the vault's own authorisation in
//! the way. The local backend runs the same suite in `kura-store`'s unit tests, S3 in its `s3`
//! test binary (against SeaweedFS).
//!
//! A vault never lets one credential both write and remove: files are written with a backup
//! token and removed by a retention administrator's session (password and TOTP), as a prune
//! through the vault would be.

use kura_store::{conformance, Backend, FileKind, StoreError};

use crate::vault_support::{enrolment_code, fresh_code, login, VaultHarness, ADMIN_PASSWORD};

#[test]
fn the_vault_backend_passes_the_conformance_suite() {
    let mut v = VaultHarness::new("require_approval = false");
    let token = v.token("backup", None);
    v.admin(&[
        "user",
        "grant",
        "sato",
        "--role",
        "retention-admin",
        "--repo",
        "ehr",
    ]);
    let mut used = enrolment_code(&v.admin_totp);
    v.start();
    let session = login(
        &v,
        "sato",
        ADMIN_PASSWORD,
        &fresh_code(&v.admin_totp, &mut used),
    );
    let writer = v.backend(&token);
    let remover = v.backend(&session);

    conformance::run_all(writer.as_ref(), remover.as_ref());
    conformance::concurrent_writers(writer.clone());

    // The split is the vault's, not the suite's: the backup token cannot remove what it wrote.
    let name = conformance::name_of(b"pack one");
    let err = writer.remove(FileKind::Pack, &name).unwrap_err();
    assert!(matches!(err, StoreError::Denied { .. }), "{err}");
    assert!(writer.exists(FileKind::Pack, &name).unwrap());
}
