//! The vault's TLS identity.
//!
//! On first start the vault makes a self-signed certificate (ECDSA P-256, names `localhost`, the
//! listen address and the host name) and keeps it in `data_dir/tls/` (key mode 0600). Clients do not
//! trust it through a CA: they pin the SHA-256 of its DER bytes, printed by
//! `kura admin fingerprint`. A provided certificate (`tls_cert`/`tls_key`) is pinned the same way.
//!
//! The fingerprint is 64 lower-case hex digits; clients also accept the colon-separated upper-case
//! form that `openssl x509 -fingerprint -sha256` prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::rustls;

use crate::config::VaultConfig;
use crate::error::{Result, ServerError};
use crate::fsutil::write_private;

/// Paths of the certificate and key in use.
fn paths(config: &VaultConfig) -> (PathBuf, PathBuf) {
    match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => {
            let dir = config.data_dir.join("tls");
            (dir.join("cert.pem"), dir.join("key.pem"))
        }
    }
}

/// Make the self-signed certificate if it does not exist yet (and none was provided).
pub fn ensure_certificate(config: &VaultConfig) -> Result<()> {
    let (cert, key) = paths(config);
    if config.tls_cert.is_some() || cert.exists() {
        return Ok(());
    }
    let mut names = vec!["localhost".to_string(), config.listen.ip().to_string()];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            names.push(h.to_string());
        }
    }
    let signed = rcgen::generate_simple_self_signed(names)
        .map_err(|e| ServerError::Tls(format!("cannot make a certificate: {e}")))?;
    let dir = cert.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ServerError::io("create", dir, e))?;
    // Key first: a crash between the two leaves no certificate, so the next start makes both again.
    write_private(&key, signed.signing_key.serialize_pem().as_bytes())?;
    write_private(&cert, signed.cert.pem().as_bytes())?;
    Ok(())
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let chain: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", path.display())))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(ServerError::Tls(format!(
            "{} holds no certificate",
            path.display()
        )));
    }
    Ok(chain)
}

/// SHA-256 of the certificate's DER bytes, 64 lower-case hex digits.
pub fn fingerprint_of(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The fingerprint of the certificate the vault presents.
pub fn fingerprint(config: &VaultConfig) -> Result<String> {
    let (cert, _) = paths(config);
    if !cert.exists() {
        return Err(ServerError::Tls(format!(
            "no certificate at {} yet: start the vault once with `kura serve`, or run `kura admin init`",
            cert.display()
        )));
    }
    Ok(fingerprint_of(&load_chain(&cert)?[0]))
}

/// The rustls configuration for the listener (ring provider; TLS 1.2 and 1.3).
pub fn server_config(config: &VaultConfig) -> Result<Arc<rustls::ServerConfig>> {
    ensure_certificate(config)?;
    let (cert, key) = paths(config);
    let chain = load_chain(&cert)?;
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| ServerError::Tls(format!("cannot read key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let sc = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Tls(format!("certificate and key do not match: {e}")))?;
    Ok(Arc::new(sc))
}
