//! The vault client: [`RemoteBackend`] stores repository files on a `kura serve` vault over HTTPS.
//!
//! Selected when the repository is `https://HOST:PORT/NAME`. The client authenticates with a
//! bearer token (`KURA_TOKEN_FILE`) and trusts the vault by **pinning the SHA-256 fingerprint of
//! its certificate** (`KURA_TLS_FINGERPRINT`, printed by `kura admin fingerprint` on the vault
//! host) rather than through a CA: vaults use self-signed certificates, and a pinned fingerprint
//! also defeats an attacker who controls the hospital's own CA. The fingerprint may be written as
//! 64 hex digits or colon-separated pairs (as `openssl x509 -fingerprint -sha256` prints it).
//!
//! Encryption stays on the client: the vault only ever receives sealed objects.
//!
//! The HTTP/1.1 exchange is deliberately small (the vault is the only server it talks to):
//! one request at a time per connection, `Content-Length` or chunked bodies, connections kept
//! alive in a small pool. A request that fails on a pooled connection (closed by the server
//! while idle) is retried once on a fresh one; a create that was retried and finds the file
//! already there reports "exists", which callers of the create-only trait treat as stored.
//!
//! Status codes map back to the same [`StoreError`] variants a local directory gives: 404
//! NotFound, 409 AlreadyExists, 416 OutOfRange, 507 NoSpace, 401/403/400 Denied with the
//! vault's message (which names the missing permission).

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use sha2::{Digest, Sha256};

use crate::{validate_name, Backend, FileInfo, FileKind, Result, StoreError};

/// Largest response accepted (bounds memory on a hostile or broken server).
const MAX_BODY: u64 = 1 << 30;
const MAX_HEAD: usize = 64 << 10;
const IO_TIMEOUT: Duration = Duration::from_secs(300);
const POOL_SIZE: usize = 8;

type Conn = StreamOwned<ClientConnection, TcpStream>;

/// A repository on a vault.
pub struct RemoteBackend {
    host: String,
    port: u16,
    repo: String,
    token: String,
    tls: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    pool: Mutex<Vec<Conn>>,
}

/// Why a remote repository could not be set up (bad URL, token file, fingerprint).
#[derive(Debug, thiserror::Error)]
pub enum RemoteSetupError {
    #[error("{url}: not a vault URL; use https://HOST:PORT/NAME")]
    BadUrl { url: String },
    #[error("cannot read the token file {path}: {source}; set KURA_TOKEN_FILE to the file `kura admin token create` wrote")]
    TokenFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no token: set KURA_TOKEN_FILE to a file holding the vault token")]
    NoToken,
    #[error("no certificate fingerprint: set KURA_TLS_FINGERPRINT (or --tls-fingerprint) to what `kura admin fingerprint` prints on the vault host")]
    NoFingerprint,
    #[error("{0:?} is not a SHA-256 fingerprint: give 64 hex digits, with or without colons")]
    BadFingerprint(String),
}

/// Parse `https://HOST:PORT/NAME` into host, port and repository name.
pub fn parse_url(url: &str) -> std::result::Result<(String, u16, String), RemoteSetupError> {
    let bad = || RemoteSetupError::BadUrl { url: url.into() };
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let (authority, path) = rest.split_once('/').ok_or_else(bad)?;
    let name = path.trim_end_matches('/');
    if validate_name(name).is_err() {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6.split_once(']').ok_or_else(bad)?;
        (h.to_string(), p.strip_prefix(':').unwrap_or("443"))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (authority.to_string(), "443"),
        }
    };
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port, name.to_string()))
}

/// Parse a fingerprint in either accepted form into its 32 bytes.
pub fn parse_fingerprint(text: &str) -> std::result::Result<[u8; 32], RemoteSetupError> {
    let hex: String = text.trim().chars().filter(|c| *c != ':').collect();
    let bad = || RemoteSetupError::BadFingerprint(text.into());
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Accepts exactly the certificate whose SHA-256 was pinned; signatures are still verified.
#[derive(Debug)]
struct PinnedCert {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if Sha256::digest(end_entity.as_ref()).as_slice() == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the vault's certificate does not match the pinned fingerprint (KURA_TLS_FINGERPRINT): \
                 wrong vault, replaced certificate, or an interception"
                    .into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl RemoteBackend {
    /// A backend for `url` with a token and the vault certificate's fingerprint.
    pub fn new(
        url: &str,
        token: &str,
        fingerprint: &str,
    ) -> std::result::Result<Self, RemoteSetupError> {
        let (host, port, repo) = parse_url(url)?;
        let fingerprint = parse_fingerprint(fingerprint)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(PinnedCert {
            fingerprint,
            provider: provider.clone(),
        });
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| RemoteSetupError::BadUrl { url: url.into() })?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let server_name = ServerName::try_from(host.clone())
            .map_err(|_| RemoteSetupError::BadUrl { url: url.into() })?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err(RemoteSetupError::NoToken);
        }
        Ok(RemoteBackend {
            host,
            port,
            repo,
            token,
            tls: Arc::new(tls),
            server_name,
            pool: Mutex::new(Vec::new()),
        })
    }

    /// A backend configured from the environment: `KURA_TOKEN_FILE` and `KURA_TLS_FINGERPRINT`
    /// (or `fingerprint` when given, from `--tls-fingerprint`).
    pub fn from_env(
        url: &str,
        fingerprint: Option<&str>,
    ) -> std::result::Result<Self, RemoteSetupError> {
        let path = std::env::var("KURA_TOKEN_FILE").map_err(|_| RemoteSetupError::NoToken)?;
        let token =
            std::fs::read_to_string(&path).map_err(|source| RemoteSetupError::TokenFile {
                path: path.clone(),
                source,
            })?;
        let fp = match fingerprint {
            Some(f) => f.to_string(),
            None => std::env::var("KURA_TLS_FINGERPRINT")
                .map_err(|_| RemoteSetupError::NoFingerprint)?,
        };
        Self::new(url, token.lines().next().unwrap_or(""), &fp)
    }

    fn connect(&self) -> std::io::Result<Conn> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
        tcp.set_nodelay(true)?;
        let conn = ClientConnection::new(self.tls.clone(), self.server_name.clone())
            .map_err(std::io::Error::other)?;
        Ok(StreamOwned::new(conn, tcp))
    }

    /// One request; a failure on a pooled (possibly stale) connection is retried once.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let answer = match pooled {
            Some(mut c) => match self.exchange(&mut c, method, path, body) {
                Ok(a) => Ok((a, c)),
                Err(_) => {
                    let mut c = self.connect()?;
                    self.exchange(&mut c, method, path, body).map(|a| (a, c))
                }
            },
            None => {
                let mut c = self.connect()?;
                self.exchange(&mut c, method, path, body).map(|a| (a, c))
            }
        };
        let ((status, data, keep), conn) = answer?;
        if keep {
            let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < POOL_SIZE {
                pool.push(conn);
            }
        }
        Ok((status, data))
    }

    fn exchange(
        &self,
        c: &mut Conn,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>, bool)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Bearer {}\r\n\
             Content-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
            self.host,
            self.port,
            self.token,
            body.len()
        );
        c.write_all(head.as_bytes())?;
        c.write_all(body)?;
        c.flush()?;
        wire::read_response(c, method == "HEAD")
    }

    fn path(&self, tail: &str) -> String {
        format!("/repo/{}/{tail}", self.repo)
    }

    /// Send and map the answer: Ok(body) for 2xx, the matching [`StoreError`] otherwise.
    fn call(
        &self,
        method: &str,
        tail: &str,
        body: &[u8],
        kind: FileKind,
        name: &str,
    ) -> Result<Vec<u8>> {
        let io = |source| StoreError::Io {
            kind,
            name: name.to_string(),
            source,
        };
        let (status, data) = self.request(method, &self.path(tail), body).map_err(io)?;
        if (200..300).contains(&status) {
            return Ok(data);
        }
        let text = String::from_utf8_lossy(&data).trim().to_string();
        Err(wire::status_error(status, text, kind, name))
    }
}

fn kind_name(kind: FileKind) -> String {
    kind.to_string()
}

impl Backend for RemoteBackend {
    fn location(&self) -> String {
        format!("https://{}:{}/{}", self.host, self.port, self.repo)
    }

    fn create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<()> {
        validate_name(name)?;
        let tail = format!("obj/{}/{name}", kind_name(kind));
        self.call("PUT", &tail, data, kind, name).map(|_| ())
    }

    fn read(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        validate_name(name)?;
        self.call(
            "GET",
            &format!("obj/{}/{name}", kind_name(kind)),
            &[],
            kind,
            name,
        )
    }

    fn read_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        validate_name(name)?;
        let tail = format!("obj/{}/{name}?offset={offset}&len={len}", kind_name(kind));
        self.call("GET", &tail, &[], kind, name)
            .map_err(|e| wire::with_range(e, offset, len))
    }

    fn size(&self, kind: FileKind, name: &str) -> Result<u64> {
        validate_name(name)?;
        let body = self.call(
            "GET",
            &format!("size/{}/{name}", kind_name(kind)),
            &[],
            kind,
            name,
        )?;
        String::from_utf8_lossy(&body)
            .trim()
            .parse()
            .map_err(|_| wire::protocol_error(kind, name, "size is not a number"))
    }

    fn list(&self, kind: FileKind) -> Result<Vec<FileInfo>> {
        let body = self.call("GET", &format!("list/{}", kind_name(kind)), &[], kind, "*")?;
        wire::parse_list(&body)
            .ok_or_else(|| wire::protocol_error(kind, "*", "list is not valid JSON"))
    }

    fn remove(&self, kind: FileKind, name: &str) -> Result<()> {
        validate_name(name)?;
        let tail = format!("obj/{}/{name}", kind_name(kind));
        self.call("DELETE", &tail, &[], kind, name).map(|_| ())
    }

    /// The vault opens the snapshot, sets `committed_at` to its own clock, seals it again and
    /// answers with the name it is stored under.
    fn commit_snapshot(&self, name: &str, data: &[u8]) -> Result<String> {
        validate_name(name)?;
        let body = self.call(
            "POST",
            &format!("commit/{name}"),
            data,
            FileKind::Snapshot,
            name,
        )?;
        let id = String::from_utf8_lossy(&body).trim().to_string();
        validate_name(&id)?;
        Ok(id)
    }
}

/// The HTTP/1.1 wire format, as much of it as the vault uses.
mod wire {
    use std::io::Read;

    use super::{MAX_BODY, MAX_HEAD};
    use crate::{FileInfo, FileKind, StoreError};

    fn invalid(msg: &str) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("vault answer: {msg}"),
        )
    }

    /// Read one response: (status, body, connection reusable).
    pub fn read_response<R: Read>(
        r: &mut R,
        head_only: bool,
    ) -> std::io::Result<(u16, Vec<u8>, bool)> {
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD {
                return Err(invalid("headers too long"));
            }
            let n = r.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the vault closed the connection",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head =
            std::str::from_utf8(&buf[..head_end]).map_err(|_| invalid("headers not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("no status"))?;
        let (mut length, mut chunked, mut keep) = (None, false, true);
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => {
                    length = Some(v.parse::<u64>().map_err(|_| invalid("bad length"))?)
                }
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => keep = !v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = buf.split_off(head_end + 4);
        if head_only || status == 204 || status == 304 {
            return Ok((status, Vec::new(), keep));
        }
        if chunked {
            return Ok((status, read_chunked(r, body)?, keep));
        }
        let Some(len) = length else {
            // No length: the body ends when the server closes the connection.
            r.take(MAX_BODY).read_to_end(&mut body)?;
            return Ok((status, body, false));
        };
        if len > MAX_BODY || (body.len() as u64) > len {
            return Err(invalid("body too long"));
        }
        let missing = len - body.len() as u64;
        body.reserve(missing as usize);
        let got = r.take(missing).read_to_end(&mut body)?;
        if got as u64 != missing {
            return Err(invalid("body shorter than its length"));
        }
        Ok((status, body, keep))
    }

    fn read_chunked<R: Read>(r: &mut R, mut pending: Vec<u8>) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            // Parse every complete chunk in `pending`.
            while let Some(i) = find(&pending, b"\r\n") {
                let size_text = std::str::from_utf8(&pending[..i]).map_err(|_| invalid("chunk"))?;
                let size_text = size_text.split(';').next().unwrap_or_default().trim();
                let size =
                    usize::from_str_radix(size_text, 16).map_err(|_| invalid("chunk size"))?;
                if out.len() + size > MAX_BODY as usize {
                    return Err(invalid("body too long"));
                }
                if size == 0 {
                    return Ok(out);
                }
                if pending.len() < i + 2 + size + 2 {
                    break;
                }
                out.extend_from_slice(&pending[i + 2..i + 2 + size]);
                pending.drain(..i + 2 + size + 2);
            }
            let n = r.read(&mut chunk)?;
            if n == 0 {
                return Err(invalid("chunked body cut short"));
            }
            pending.extend_from_slice(&chunk[..n]);
        }
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    pub fn protocol_error(kind: FileKind, name: &str, what: &str) -> StoreError {
        StoreError::Io {
            kind,
            name: name.to_string(),
            source: invalid(what),
        }
    }

    /// The error a status code stands for; `text` is the vault's one-line message.
    pub fn status_error(status: u16, text: String, kind: FileKind, name: &str) -> StoreError {
        let name = name.to_string();
        match status {
            404 => StoreError::NotFound { kind, name },
            409 => StoreError::AlreadyExists { kind, name },
            416 => StoreError::OutOfRange {
                kind,
                name,
                offset: 0,
                len: 0,
                size: size_in(&text),
            },
            507 => StoreError::NoSpace { kind, name },
            400 | 401 | 403 => StoreError::Denied {
                kind,
                name,
                detail: format!("the vault answered {status}: {text}"),
            },
            _ => StoreError::Io {
                kind,
                name,
                source: std::io::Error::other(format!("the vault answered {status}: {text}")),
            },
        }
    }

    /// The file size in the vault's OutOfRange message ("... ({size} bytes)").
    fn size_in(text: &str) -> u64 {
        text.rsplit_once('(')
            .and_then(|(_, t)| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Put the request's range into an OutOfRange error.
    pub fn with_range(e: StoreError, offset: u64, len: u64) -> StoreError {
        match e {
            StoreError::OutOfRange {
                kind, name, size, ..
            } => StoreError::OutOfRange {
                kind,
                name,
                offset,
                len,
                size,
            },
            other => other,
        }
    }

    pub fn parse_list(body: &[u8]) -> Option<Vec<FileInfo>> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        v.as_array()?
            .iter()
            .map(|f| {
                let modified = f
                    .get("modified_ms")
                    .and_then(|m| m.as_u64())
                    .map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms));
                Some(FileInfo {
                    name: f.get("name")?.as_str()?.to_string(),
                    size: f.get("size")?.as_u64()?,
                    modified,
                })
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_length_chunked_and_close_delimited_bodies() {
            let mut r: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
            assert_eq!(
                read_response(&mut r, false).unwrap(),
                (200, b"hello".to_vec(), true)
            );
            let mut r: &[u8] = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
            assert_eq!(read_response(&mut r, false).unwrap().1, b"abcde");
            let mut r: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end";
            assert_eq!(
                read_response(&mut r, false).unwrap(),
                (200, b"to the end".to_vec(), false)
            );
        }

        #[test]
        fn refuses_truncated_or_oversized_answers() {
            let mut r: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nshort";
            assert!(read_response(&mut r, false).is_err());
            let mut r: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999\r\n\r\n";
            assert!(read_response(&mut r, false).is_err());
            let mut r: &[u8] = b"garbage";
            assert!(read_response(&mut r, false).is_err());
        }

        #[test]
        fn statuses_map_to_store_errors() {
            let e = status_error(
                403,
                "refused: missing permission 'prune'".into(),
                FileKind::Pack,
                "ab",
            );
            assert!(e.to_string().contains("missing permission 'prune'"), "{e}");
            assert!(status_error(409, String::new(), FileKind::Pack, "ab").is_already_exists());
            assert!(status_error(404, String::new(), FileKind::Pack, "ab").is_not_found());
            let e = status_error(
                416,
                "read 9+9 is past its end (12 bytes)".into(),
                FileKind::Pack,
                "ab",
            );
            assert!(matches!(
                with_range(e, 9, 9),
                StoreError::OutOfRange {
                    size: 12,
                    offset: 9,
                    ..
                }
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_fingerprints_parse() {
        assert_eq!(
            parse_url("https://127.0.0.1:8443/ehr").unwrap(),
            ("127.0.0.1".into(), 8443, "ehr".into())
        );
        assert_eq!(
            parse_url("https://[::1]:9/pacs/").unwrap(),
            ("::1".into(), 9, "pacs".into())
        );
        assert_eq!(parse_url("https://vault/ehr").unwrap().1, 443);
        for bad in [
            "http://h:1/x",
            "https://h:1/",
            "https://h:1/a/b",
            "https://h:x/a",
            "https://:1/a",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let hex = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&hex).unwrap(), [0xab; 32]);
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0xab; 32]);
        assert!(parse_fingerprint("abcd").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }
}
