//! `tls_server_config`: certificates, client authentication, versions, cipher suites and curves, mapped from
//! the Go names the exporter toolkit uses onto rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use super::client_cert::{system_roots, AllowedSans, UncheckedIssuer};
use super::{crypto, WebConfigError};

/// `tls_server_config` as written. An empty string is as good as absent, as in the toolkit.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsFile {
    cert_file: Option<String>,
    key_file: Option<String>,
    /// Inline PEM certificate (instead of `cert_file`).
    cert: Option<String>,
    /// Inline PEM key (instead of `key_file`).
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    /// Inline PEM client CA certificates (instead of `client_ca_file`).
    client_ca: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[serde(default)]
    curve_preferences: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
    /// `None` (absent) and `Some([])` differ as in the toolkit: an empty list allows no certificate.
    client_allowed_sans: Option<Vec<String>>,
}

/// Go's `tls.ClientAuthType` names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

type FieldError<'a> = &'a dyn Fn(&str, String) -> WebConfigError;

const PREFIX: &str = "tls_server_config.";

/// A set, non-empty string field.
fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

impl TlsFile {
    /// The toolkit's `IsEnabled`: TLS is on when a certificate, key, client CA or client auth type is given;
    /// otherwise the section is ignored and the server speaks plain HTTP.
    pub(super) fn enabled(&self) -> bool {
        [
            &self.cert_file,
            &self.key_file,
            &self.cert,
            &self.key,
            &self.client_ca_file,
            &self.client_ca,
            &self.client_auth_type,
        ]
        .into_iter()
        .any(|f| given(f).is_some())
    }
}

/// The rustls configuration `t` describes, with the toolkit's meaning. `http2` is
/// `http_server_config.http2` (the toolkit refuses some suite lists with it); notes on settings that cannot
/// be honoured exactly go to `warnings`.
pub(super) fn server_config(
    t: &TlsFile,
    http2: bool,
    dir: &Path,
    err: FieldError<'_>,
    warnings: &mut Vec<String>,
) -> Result<rustls::ServerConfig, WebConfigError> {
    let e = |f: &str, m: String| err(&format!("{PREFIX}{f}"), m);
    let certs = certificates(t, dir, &e)?;
    let key = private_key(t, dir, &e)?;
    let versions = versions(t, &e, warnings)?;
    let chosen =
        crypto::provider(&t.cipher_suites, &t.curve_preferences).map_err(|(f, m)| e(f, m))?;
    warnings.extend(chosen.warnings);
    let tls12 = versions.contains(&&rustls::version::TLS12);
    if tls12 && !chosen.has_tls12_suites {
        if versions.len() == 1 {
            return Err(e(
                "cipher_suites",
                "none of the listed suites is supported for TLS 1.2 (the only version allowed); \
                 add a GCM or CHACHA20 suite, or allow TLS13"
                    .into(),
            ));
        }
        warnings.push(format!(
            "{PREFIX}cipher_suites: no listed TLS 1.2 suite is supported; only TLS 1.3 clients can connect"
        ));
    }
    // Go's HTTP/2 server refuses to start on such a list; the toolkit's exporters with it.
    let go_min_below_13 = given(&t.min_version).is_none_or(|v| v != "TLS13");
    if http2
        && go_min_below_13
        && !t.cipher_suites.is_empty()
        && !t
            .cipher_suites
            .iter()
            .any(|s| crypto::HTTP2_REQUIRED.contains(&s.as_str()))
    {
        return Err(e(
            "cipher_suites",
            format!(
                "with http_server_config.http2 (on by default) the list must include {} (HTTP/2 requires one); \
                 add one, or set http2: false",
                crypto::HTTP2_REQUIRED.join(" or ")
            ),
        ));
    }
    let provider = Arc::new(chosen.provider);
    let auth = match given(&t.client_auth_type).unwrap_or("NoClientCert") {
        "NoClientCert" => ClientAuth::NoClientCert,
        "RequestClientCert" => ClientAuth::RequestClientCert,
        // `RequireClientCert` is the toolkit's old spelling.
        "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
        other => {
            return Err(e(
                "client_auth_type",
                format!(
                    "expected NoClientCert, RequestClientCert, RequireAnyClientCert, \
                     VerifyClientCertIfGiven or RequireAndVerifyClientCert, got {other:?}"
                ),
            ))
        }
    };
    let client_cas = client_cas(t, dir, &e, warnings)?;
    if auth == ClientAuth::NoClientCert {
        if let Some((field, _)) = client_cas {
            return Err(e(
                field,
                "set without a client_auth_type that checks client certificates \
                 (VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                    .into(),
            ));
        }
    }
    let sans = t.client_allowed_sans.as_ref();
    let verifier: Arc<dyn ClientCertVerifier> = match auth {
        ClientAuth::NoClientCert => {
            if sans.is_some() {
                warnings.push(format!(
                    "{PREFIX}client_allowed_sans: ignored, client_auth_type NoClientCert asks for no certificate"
                ));
            }
            // Nothing more to check: SANs need a certificate.
            return finish(
                t,
                provider,
                &versions,
                Arc::new(rustls::server::NoClientAuth),
                certs,
                key,
                &e,
            );
        }
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Arc::new(UncheckedIssuer {
                mandatory: auth == ClientAuth::RequireAnyClientCert,
                trusted: true,
                algorithms: provider.signature_verification_algorithms,
            })
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let roots = match client_cas {
                Some((_, roots)) => roots,
                None => {
                    let (roots, problem) = system_roots();
                    if let Some(problem) = problem {
                        warnings.push(format!(
                            "{PREFIX}client_auth_type {auth:?} without client_ca_file verifies \
                             against the system's CA certificates: {problem}"
                        ));
                    }
                    roots
                }
            };
            if roots.is_empty() {
                warnings.push(format!(
                    "{PREFIX}client_auth_type {auth:?}: no CA certificate to verify clients against: \
                     every client certificate is refused"
                ));
                Arc::new(UncheckedIssuer {
                    mandatory: auth == ClientAuth::RequireAndVerifyClientCert,
                    trusted: false,
                    algorithms: provider.signature_verification_algorithms,
                })
            } else {
                let builder =
                    WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone());
                let builder = if auth == ClientAuth::VerifyClientCertIfGiven {
                    builder.allow_unauthenticated()
                } else {
                    builder
                };
                builder
                    .build()
                    .map_err(|x| e("client_ca_file", x.to_string()))?
            }
        }
    };
    let verifier = match sans {
        Some(allowed) => Arc::new(AllowedSans {
            inner: verifier,
            allowed: allowed.clone(),
        }) as Arc<dyn ClientCertVerifier>,
        None => verifier,
    };
    finish(t, provider, &versions, verifier, certs, key, &e)
}

fn finish(
    t: &TlsFile,
    provider: Arc<rustls::crypto::CryptoProvider>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    verifier: Arc<dyn ClientCertVerifier>,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<rustls::ServerConfig, WebConfigError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|x| e("min_version", x.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|x| {
            e(
                key_field(t),
                format!("does not go with the certificate or is unusable: {x}"),
            )
        })?;
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `client_ca_file`, else `client_ca` (the toolkit reads the file when both are set), with the field named.
/// Text without a usable certificate leaves the set empty, as Go's `AppendCertsFromPEM` does: no client
/// certificate verifies then, and a warning says so.
fn client_cas(
    t: &TlsFile,
    dir: &Path,
    e: &dyn Fn(&str, String) -> WebConfigError,
    warnings: &mut Vec<String>,
) -> Result<Option<(&'static str, RootCertStore)>, WebConfigError> {
    let (field, pem, origin) = if let Some(file) = given(&t.client_ca_file) {
        let path = resolve(dir, file);
        let pem = std::fs::read(&path).map_err(|x| {
            e(
                "client_ca_file",
                format!("cannot read {}: {x}", path.display()),
            )
        })?;
        ("client_ca_file", pem, path.display().to_string())
    } else if let Some(pem) = given(&t.client_ca) {
        (
            "client_ca",
            pem.as_bytes().to_vec(),
            "inline PEM".to_owned(),
        )
    } else {
        return Ok(None);
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
    let (_, unusable) = roots.add_parsable_certificates(certs);
    if roots.is_empty() || unusable > 0 {
        warnings.push(format!(
            "{PREFIX}{field}: {origin}: {} usable CA certificates, {unusable} unusable",
            roots.len()
        ));
    }
    Ok(Some((field, roots)))
}

fn key_field(t: &TlsFile) -> &'static str {
    if given(&t.key_file).is_some() {
        "key_file"
    } else {
        "key"
    }
}

fn resolve(dir: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_owned()
    } else {
        dir.join(p)
    }
}

fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|x| format!("not PEM: {x}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|x| format!("cannot read {}: {x}", path.display()))?;
    parse_certs(&pem).map_err(|m| format!("{}: {m}", path.display()))
}

fn certificates(
    t: &TlsFile,
    dir: &Path,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    // The file wins when both are given, as in the toolkit.
    match (given(&t.cert_file), given(&t.cert)) {
        (Some(f), _) => read_certs(&resolve(dir, f)).map_err(|m| e("cert_file", m)),
        (None, Some(pem)) => parse_certs(pem.as_bytes()).map_err(|m| e("cert", m)),
        (None, None) => Err(e("cert_file", "required (or cert, inline PEM)".into())),
    }
}

fn private_key(
    t: &TlsFile,
    dir: &Path,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<PrivateKeyDer<'static>, WebConfigError> {
    match (given(&t.key_file), given(&t.key)) {
        (Some(f), _) => {
            let path = resolve(dir, f);
            let pem = std::fs::read(&path)
                .map_err(|x| e("key_file", format!("cannot read {}: {x}", path.display())))?;
            PrivateKeyDer::from_pem_slice(&pem).map_err(|x| {
                e(
                    "key_file",
                    format!("{}: no usable PEM private key ({x})", path.display()),
                )
            })
        }
        // The inline key is a secret: errors never quote it.
        (None, Some(pem)) => PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|x| e("key", format!("no usable PEM private key ({x})"))),
        (None, None) => Err(e("key_file", "required (or key, inline PEM)".into())),
    }
}

/// A Go version name as its minor number (`TLS12` → 2).
fn version(
    name: &str,
    field: &str,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<u8, WebConfigError> {
    match name {
        "TLS10" => Ok(0),
        "TLS11" => Ok(1),
        "TLS12" => Ok(2),
        "TLS13" => Ok(3),
        other => Err(e(
            field,
            format!("expected TLS10, TLS11, TLS12 or TLS13, got {other:?}"),
        )),
    }
}

/// The versions from `min_version` to `max_version` (TLS12 to TLS13 by default, as in the toolkit). rustls
/// has no TLS 1.0 or 1.1: a range that starts there is served from TLS 1.2, with a warning. A range no
/// client could connect with (ending below TLS 1.2, or empty) is refused, where Go would start and fail
/// every handshake.
fn versions(
    t: &TlsFile,
    e: &dyn Fn(&str, String) -> WebConfigError,
    warnings: &mut Vec<String>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, WebConfigError> {
    let min = given(&t.min_version).map_or(Ok(2), |v| version(v, "min_version", e))?;
    let max = given(&t.max_version).map_or(Ok(3), |v| version(v, "max_version", e))?;
    if max < 2 {
        return Err(e(
            "max_version",
            "TLS 1.0 and 1.1 are not supported (obsolete, and absent from rustls); expected TLS12 or TLS13"
                .into(),
        ));
    }
    if min > max {
        return Err(e("max_version", "lower than min_version".into()));
    }
    if min < 2 {
        warnings.push(format!(
            "{PREFIX}min_version: TLS 1.0 and 1.1 are not supported (obsolete, and absent from rustls); \
             clients need TLS 1.2 or later"
        ));
    }
    let mut out = Vec::new();
    if max >= 3 {
        out.push(&rustls::version::TLS13);
    }
    if min <= 2 {
        out.push(&rustls::version::TLS12);
    }
    Ok(out)
}
