//! Where an S3 repository is and how to sign in: the `s3:` URL and the credentials.
//!
//! Credentials come from the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! optional `AWS_SESSION_TOKEN`, `AWS_REGION` or `AWS_DEFAULT_REGION`), else from the shared
//! credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, profile
//! `AWS_PROFILE` or `default`). We read them ourselves instead of pulling in `aws-config`, which
//! adds about forty crates (SSO, IMDS, STS) that a hospital backup host does not use.

use std::collections::HashMap;
use std::path::PathBuf;

use super::S3SetupError;

/// Everything needed to reach one repository on an S3-compatible store.
#[derive(Clone)]
pub struct S3Config {
    /// `http(s)://HOST[:PORT]`, no trailing slash.
    pub endpoint: String,
    pub bucket: String,
    /// Key prefix of the repository: empty, or ending in `/`.
    pub prefix: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
    /// `https://HOST/BUCKET/key` instead of `https://BUCKET.HOST/key`. On by default for IP
    /// addresses and localhost, which have no DNS names per bucket.
    pub path_style: bool,
    /// Attempts per request (first try included) for throttling, 5xx and network errors.
    pub max_attempts: u32,
    /// Objects at least this large are sent as multipart uploads.
    pub multipart_threshold: usize,
    /// Size of each part of a multipart upload (S3 requires at least 5 MiB except the last).
    pub part_size: usize,
}

impl std::fmt::Debug for S3Config {
    // Hand-written so that the secret key never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// The parts of `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    /// True when HOST is an IP address or `localhost`.
    pub host_is_local_or_ip: bool,
}

/// Parse `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]`.
pub fn parse_url(url: &str) -> Result<S3Url, S3SetupError> {
    let bad = |why: &str| S3SetupError::BadUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let rest = url
        .strip_prefix("s3:")
        .ok_or_else(|| bad("it must start with s3:"))?;
    let (scheme, after) = rest
        .split_once("://")
        .ok_or_else(|| bad("give the endpoint as http:// or https://"))?;
    if scheme != "http" && scheme != "https" {
        return Err(bad("the endpoint scheme must be http or https"));
    }
    let (authority, path) = after
        .split_once('/')
        .ok_or_else(|| bad("the bucket is missing after the host"))?;
    if authority.is_empty() || authority.contains('@') {
        return Err(bad(
            "the host is empty or holds credentials (use AWS_ACCESS_KEY_ID instead)",
        ));
    }
    let path = path.trim_end_matches('/');
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if !valid_bucket(bucket) {
        return Err(bad(
            "the bucket name must be 3-63 lower-case letters, digits, '-' or '.'",
        ));
    }
    if prefix
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        && !prefix.is_empty()
    {
        return Err(bad("the prefix has an empty, '.' or '..' segment"));
    }
    Ok(S3Url {
        endpoint: format!("{scheme}://{authority}"),
        bucket: bucket.to_string(),
        prefix: if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        },
        host_is_local_or_ip: host_is_local_or_ip(authority),
    })
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && !b.starts_with(['-', '.'])
}

fn host_is_local_or_ip(authority: &str) -> bool {
    // An IPv6 literal is bracketed; otherwise strip the port.
    if let Some(v6) = authority.strip_prefix('[') {
        return v6
            .split(']')
            .next()
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok()
}

impl S3Config {
    /// The configuration for `url` with credentials from the environment or the shared file.
    pub fn from_url(url: &str) -> Result<Self, S3SetupError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let creds = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(a), Some(s)) => (a, s, env("AWS_SESSION_TOKEN")),
            _ => credentials_from_file(env("AWS_SHARED_CREDENTIALS_FILE"), env("AWS_PROFILE"))?,
        };
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        Self::with_credentials(url, &creds.0, &creds.1, creds.2, &region)
    }

    /// The configuration for `url` with explicit credentials (tests, operator tools).
    pub fn with_credentials(
        url: &str,
        access_key: &str,
        secret_key: &str,
        session_token: Option<String>,
        region: &str,
    ) -> Result<Self, S3SetupError> {
        let u = parse_url(url)?;
        let path_style = match std::env::var("KURA_S3_PATH_STYLE").ok().as_deref() {
            Some("1" | "true") => true,
            Some("0" | "false") => false,
            _ => u.host_is_local_or_ip,
        };
        Ok(S3Config {
            endpoint: u.endpoint,
            bucket: u.bucket,
            prefix: u.prefix,
            region: region.to_string(),
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            session_token,
            path_style,
            max_attempts: 6,
            multipart_threshold: 32 << 20,
            part_size: 8 << 20,
        })
    }
}

type Creds = (String, String, Option<String>);

/// Read one profile of an AWS shared credentials file (INI: `[profile]`, `key = value`).
fn credentials_from_file(
    file: Option<String>,
    profile: Option<String>,
) -> Result<Creds, S3SetupError> {
    let path = match file {
        Some(f) => PathBuf::from(f),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".aws/credentials"),
            None => return Err(S3SetupError::NoCredentials),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(S3SetupError::NoCredentials)
        }
        Err(source) => return Err(S3SetupError::CredentialsFile { path, source }),
    };
    let profile = profile.unwrap_or_else(|| "default".to_string());
    let values = parse_profile(&text, &profile);
    match (
        values.get("aws_access_key_id"),
        values.get("aws_secret_access_key"),
    ) {
        (Some(a), Some(s)) => Ok((
            a.clone(),
            s.clone(),
            values.get("aws_session_token").cloned(),
        )),
        _ => Err(S3SetupError::ProfileIncomplete { path, profile }),
    }
}

fn parse_profile(text: &str, profile: &str) -> HashMap<String, String> {
    let mut current = String::new();
    let mut out = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with(['#', ';']) || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_string();
        } else if current == profile {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_endpoint_bucket_and_prefix() {
        let u = parse_url("s3:http://127.0.0.1:9000/kura/hosp-a/ehr/").unwrap();
        assert_eq!(u.endpoint, "http://127.0.0.1:9000");
        assert_eq!(u.bucket, "kura");
        assert_eq!(u.prefix, "hosp-a/ehr/");
        assert!(u.host_is_local_or_ip);
        let u = parse_url("s3:https://s3.ap-northeast-1.amazonaws.com/kura-backup").unwrap();
        assert_eq!(u.prefix, "");
        assert!(!u.host_is_local_or_ip);
        assert!(
            parse_url("s3:http://localhost:8333/b12")
                .unwrap()
                .host_is_local_or_ip
        );
        assert!(
            parse_url("s3:http://[::1]:8333/b12")
                .unwrap()
                .host_is_local_or_ip
        );
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for bad in [
            "http://127.0.0.1/bucket",
            "s3:ftp://h/bucket",
            "s3:http://h",
            "s3:http://h/",
            "s3:http://h/UPPER",
            "s3:http://h/ab",
            "s3:http://key:secret@h/bucket",
            "s3:http://h/bucket/a//b",
            "s3:http://h/bucket/../x",
        ] {
            let err = parse_url(bad).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn shared_credentials_file_profiles() {
        let text = "[default]\naws_access_key_id = A1\naws_secret_access_key=S1\n\n\
                    # comment\n[ward]\naws_access_key_id=A2\naws_secret_access_key = S2\naws_session_token=T\n";
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("credentials");
        std::fs::write(&f, text).unwrap();
        let file = Some(f.display().to_string());
        let d = credentials_from_file(file.clone(), None).unwrap();
        assert_eq!((d.0.as_str(), d.1.as_str(), d.2), ("A1", "S1", None));
        let w = credentials_from_file(file.clone(), Some("ward".into())).unwrap();
        assert_eq!(
            (w.0.as_str(), w.1.as_str(), w.2.as_deref()),
            ("A2", "S2", Some("T"))
        );
        let err = credentials_from_file(file, Some("none".into())).unwrap_err();
        assert!(
            matches!(err, S3SetupError::ProfileIncomplete { .. }),
            "{err}"
        );
    }
}
