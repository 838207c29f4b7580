//! The HTTPS listener: TCP accept, TLS handshake (rustls, ring provider) with a time limit, then
//! HTTP/1.1 served by hyper into the axum router, with the peer address attached to each request
//! for the audit log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::config::VaultConfig;
use crate::error::{Result, ServerError};
use crate::vault::Vault;

/// The peer address of a request, inserted by the listener.
#[derive(Clone, Copy, Debug)]
pub struct RemoteAddr(pub SocketAddr);

/// A slow or silent client cannot hold a connection slot through the handshake longer than this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often accounts unused for `inactivity_days` are looked for and disabled.
const INACTIVITY_SWEEP: Duration = Duration::from_secs(3600);

/// Run the vault until the process ends: `kura serve`.
pub fn run(config: VaultConfig) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerError::io("start the runtime for", &config.data_dir, e))?;
    runtime.block_on(async move {
        let listen = config.listen;
        let vault = Arc::new(Vault::open(config)?);
        // A plan approved just before a crash is executed now rather than left half done.
        let resumed = vault.resume_approved_plans()?;
        if resumed > 0 {
            eprintln!("executed {resumed} approved deletion plan(s) interrupted by a restart");
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| ServerError::io("listen on", listen.to_string(), e))?;
        let fp = crate::tls::fingerprint(&vault.config)?;
        eprintln!("kura vault listening on https://{listen} (certificate SHA-256 {fp})");
        serve(vault, listener).await
    })
}

/// Serve on an already bound listener (tests bind port 0 and read the address first).
pub async fn serve(vault: Arc<Vault>, listener: TcpListener) -> Result<()> {
    let acceptor = TlsAcceptor::from(crate::tls::server_config(&vault.config)?);
    tokio::spawn(sweep_inactive(vault.clone()));
    let app = crate::api::router(vault);
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                // Out of descriptors or a reset before accept: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(RemoteAddr(addr));
                app.clone().call(req)
            });
            // A broken connection concerns only its client; nothing to report here.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

async fn sweep_inactive(vault: Arc<Vault>) {
    loop {
        let v = vault.clone();
        let _ = tokio::task::spawn_blocking(move || v.disable_inactive_accounts()).await;
        tokio::time::sleep(INACTIVITY_SWEEP).await;
    }
}

impl Vault {
    /// Disable accounts unused for `inactivity_days`, each audited.
    pub fn disable_inactive_accounts(&self) -> Result<Vec<String>> {
        let now = chrono::Utc::now();
        let names = self.with_auth(|s| s.disable_inactive(now))??;
        for n in &names {
            let event = kura_audit::AuditEvent::now(
                "vault",
                "account.disable",
                n.as_str(),
                kura_audit::Outcome::Success,
            )
            .with_reason("unused for longer than inactivity_days");
            self.audit(event)?;
        }
        Ok(names)
    }
}
