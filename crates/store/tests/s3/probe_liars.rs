//! The immutability probe against servers that lie (issue 9, acceptance 4). Each test runs a tiny
//! in-process S3 imitation on loopback that answers 200 to headers it then ignores, the way Garage
//! ignores `If-None-Match` and Ceph 16 ignores lock headers on some paths. No SeaweedFS needed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use kura_store::s3::{S3Backend, S3Config, S3SetupError};

/// What the imitation honours.
#[derive(Clone, Copy)]
struct Honours {
    if_none_match: bool,
}

type Objects = Arc<Mutex<HashMap<String, usize>>>; // key -> size

/// Start the imitation; returns its `s3:` URL.
fn liar(honours: Honours) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let objects: Objects = Arc::default();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let objects = objects.clone();
            std::thread::spawn(move || serve(conn, objects, honours));
        }
    });
    format!("s3:http://127.0.0.1:{port}/liar-bucket")
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body_len: usize,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let body_len = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; body_len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body_len,
    })
}

fn serve(conn: TcpStream, objects: Objects, honours: Honours) {
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    while let Some(req) = read_request(&mut r) {
        let (status, headers, body) = respond(&req, &objects, honours);
        let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        if w.write_all(out.as_bytes())
            .and_then(|_| w.write_all(body.as_bytes()))
            .is_err()
        {
            return;
        }
    }
}

fn respond(
    req: &Request,
    objects: &Objects,
    honours: Honours,
) -> (&'static str, Vec<(String, String)>, String) {
    let mut objs = objects.lock().unwrap();
    let exists = objs.contains_key(&req.path);
    let conditional = req.headers.get("if-none-match").is_some_and(|v| v == "*");
    let refuse = honours.if_none_match && conditional && exists;
    let precondition = || {
        let xml = "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>";
        ("412 Precondition Failed", vec![], xml.to_string())
    };
    let etag = vec![("etag".to_string(), "\"0123\"".to_string())];
    match (req.method.as_str(), req.query.as_str()) {
        ("POST", q) if q.starts_with("uploads") => (
            "200 OK",
            vec![],
            "<InitiateMultipartUploadResult><Bucket>liar-bucket</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>".into(),
        ),
        ("PUT", q) if q.contains("uploadId") => ("200 OK", etag, String::new()),
        ("POST", q) if q.contains("uploadId") => {
            if refuse {
                return precondition();
            }
            objs.insert(req.path.clone(), 5);
            ("200 OK", vec![], "<CompleteMultipartUploadResult><ETag>\"0123\"</ETag></CompleteMultipartUploadResult>".into())
        }
        ("PUT", _) => {
            if refuse {
                return precondition();
            }
            // Lock headers, if any, are accepted and forgotten: the lie under test.
            objs.insert(req.path.clone(), req.body_len);
            ("200 OK", etag, String::new())
        }
        // No x-amz-object-lock-* headers in the answer, whatever the PUT asked for.
        ("HEAD", _) if exists => ("200 OK", etag, String::new()),
        ("HEAD", _) => ("404 Not Found", vec![], String::new()),
        // AbortMultipartUpload: nothing was stored.
        ("DELETE", q) if q.contains("uploadId") => ("204 No Content", vec![], String::new()),
        ("DELETE", _) => {
            objs.remove(&req.path);
            ("204 No Content", vec![], String::new())
        }
        _ => ("501 Not Implemented", vec![], "<Error><Code>NotImplemented</Code></Error>".into()),
    }
}

fn backend(url: &str) -> S3Backend {
    S3Backend::new(S3Config::with_credentials(url, "k", "s", None, "us-east-1").unwrap()).unwrap()
}

#[test]
fn a_server_that_ignores_if_none_match_is_refused() {
    let url = liar(Honours {
        if_none_match: false,
    });
    let err = backend(&url).probe_immutable().unwrap_err();
    assert!(matches!(err, S3SetupError::NotImmutable { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("If-None-Match") && msg.contains("immutable mode refused"),
        "{msg}"
    );
}

#[test]
fn a_server_that_ignores_lock_headers_is_refused() {
    let url = liar(Honours {
        if_none_match: true,
    });
    // Create-only is honoured, so without locks the probe passes ...
    assert_eq!(backend(&url).probe_immutable().unwrap().checks.len(), 2);
    // ... but a lock that HEAD does not show is a lie.
    let err = backend(&url)
        .with_lock_days(7)
        .probe_immutable()
        .unwrap_err();
    assert!(matches!(err, S3SetupError::NotImmutable { .. }), "{err}");
    assert!(
        err.to_string().contains("ignores Object Lock headers"),
        "{err}"
    );
}
