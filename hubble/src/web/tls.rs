//! `tls_server_config`: certificates, client authentication, versions, cipher suites and curves, mapped from
//! the Go names the exporter toolkit uses onto rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::Deserialize;

use super::WebConfigError;

/// `tls_server_config` as written.
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
    min_version: Option<String>,
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[serde(default)]
    curve_preferences: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    client_allowed_sans: Vec<String>,
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

pub(super) fn server_config(
    t: &TlsFile,
    dir: &Path,
    err: FieldError<'_>,
) -> Result<rustls::ServerConfig, WebConfigError> {
    let e = |f: &str, m: String| err(&format!("{PREFIX}{f}"), m);
    let certs = certificates(t, dir, &e)?;
    let key = private_key(t, dir, &e)?;
    let provider = Arc::new(provider(t, &e)?);
    let versions = versions(t, &e)?;
    let auth = match t.client_auth_type.as_deref().unwrap_or("") {
        "" | "NoClientCert" => ClientAuth::NoClientCert,
        "RequestClientCert" => ClientAuth::RequestClientCert,
        "RequireAnyClientCert" => ClientAuth::RequireAnyClientCert,
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
    if !t.client_allowed_sans.is_empty() {
        return Err(e(
            "client_allowed_sans",
            "not supported by hubble; issue client certificates from a dedicated CA instead".into(),
        ));
    }
    let verifier: Arc<dyn ClientCertVerifier> = match (auth, &t.client_ca_file) {
        (ClientAuth::NoClientCert, None) => Arc::new(rustls::server::NoClientAuth),
        (ClientAuth::NoClientCert, Some(_)) => {
            return Err(e(
                "client_ca_file",
                "set without a client_auth_type that checks client certificates \
                 (VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                    .into(),
            ))
        }
        (ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert, _) => {
            Arc::new(AnyClientCert {
                mandatory: auth == ClientAuth::RequireAnyClientCert,
                algorithms: provider.signature_verification_algorithms,
            })
        }
        (_, None) => {
            return Err(e(
                "client_ca_file",
                format!("required with client_auth_type {auth:?}"),
            ))
        }
        (_, Some(ca)) => {
            let path = resolve(dir, ca);
            let mut roots = RootCertStore::empty();
            for cert in read_certs(&path).map_err(|m| e("client_ca_file", m))? {
                roots
                    .add(cert)
                    .map_err(|x| e("client_ca_file", format!("{}: {x}", path.display())))?;
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone());
            let builder = if auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|x| e("client_ca_file", format!("{}: {x}", path.display())))?
        }
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
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

fn key_field(t: &TlsFile) -> &'static str {
    if t.key.is_some() {
        "key"
    } else {
        "key_file"
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

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|x| format!("cannot read {}: {x}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|x| format!("{}: not PEM: {x}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate found", path.display()));
    }
    Ok(certs)
}

fn certificates(
    t: &TlsFile,
    dir: &Path,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    match (&t.cert_file, &t.cert) {
        (Some(f), None) => read_certs(&resolve(dir, f)).map_err(|m| e("cert_file", m)),
        (None, Some(pem)) => {
            let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|x| e("cert", format!("not PEM: {x}")))?;
            if certs.is_empty() {
                return Err(e("cert", "no PEM certificate found".into()));
            }
            Ok(certs)
        }
        (Some(_), Some(_)) => Err(e("cert", "give cert_file or cert, not both".into())),
        (None, None) => Err(e("cert_file", "required (or cert, inline PEM)".into())),
    }
}

fn private_key(
    t: &TlsFile,
    dir: &Path,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<PrivateKeyDer<'static>, WebConfigError> {
    match (&t.key_file, &t.key) {
        (Some(f), None) => {
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
        (Some(_), Some(_)) => Err(e("key", "give key_file or key, not both".into())),
        (None, None) => Err(e("key_file", "required (or key, inline PEM)".into())),
    }
}

fn version(
    name: &str,
    field: &str,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<u8, WebConfigError> {
    match name {
        "TLS12" => Ok(2),
        "TLS13" => Ok(3),
        "TLS10" | "TLS11" => Err(e(
            field,
            format!("{name} is not supported (obsolete); expected TLS12 or TLS13"),
        )),
        other => Err(e(field, format!("expected TLS12 or TLS13, got {other:?}"))),
    }
}

fn versions(
    t: &TlsFile,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, WebConfigError> {
    let min = t
        .min_version
        .as_deref()
        .map_or(Ok(2), |v| version(v, "min_version", e))?;
    let max = t
        .max_version
        .as_deref()
        .map_or(Ok(3), |v| version(v, "max_version", e))?;
    if min > max {
        return Err(e("max_version", "lower than min_version".into()));
    }
    let mut out = Vec::new();
    if min <= 3 && max >= 3 {
        out.push(&rustls::version::TLS13);
    }
    if min <= 2 && max >= 2 {
        out.push(&rustls::version::TLS12);
    }
    Ok(out)
}

/// The ring provider narrowed to the configured cipher suites and curves (Go names, e.g.
/// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, `X25519`, `CurveP256`), in the configured order.
fn provider(
    t: &TlsFile,
    e: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<CryptoProvider, WebConfigError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !t.cipher_suites.is_empty() {
        let all = provider.cipher_suites.clone();
        let name = |s: &rustls::SupportedCipherSuite| format!("{:?}", s.suite());
        let mut chosen = Vec::new();
        for wanted in &t.cipher_suites {
            let suite = all.iter().find(|s| name(s) == *wanted).ok_or_else(|| {
                let known: Vec<_> = all.iter().map(name).collect();
                e(
                    "cipher_suites",
                    format!(
                        "unknown or unsupported suite {wanted:?}; expected one of {}",
                        known.join(", ")
                    ),
                )
            })?;
            chosen.push(*suite);
        }
        // As in Go, TLS 1.3 suites are not configurable: they stay available.
        for s in &all {
            if s.version() == &rustls::version::TLS13 && !chosen.contains(s) {
                chosen.push(*s);
            }
        }
        provider.cipher_suites = chosen;
    }
    if !t.curve_preferences.is_empty() {
        let all = provider.kx_groups.clone();
        let mut chosen = Vec::new();
        for wanted in &t.curve_preferences {
            let rustls_name = match wanted.as_str() {
                "X25519" => "X25519",
                "CurveP256" => "secp256r1",
                "CurveP384" => "secp384r1",
                _ => {
                    return Err(e(
                        "curve_preferences",
                        format!(
                            "unsupported curve {wanted:?}; expected X25519, CurveP256 or CurveP384"
                        ),
                    ))
                }
            };
            let group = all
                .iter()
                .find(|g| format!("{:?}", g.name()) == rustls_name)
                .ok_or_else(|| e("curve_preferences", format!("{wanted} is not available")))?;
            chosen.push(*group);
        }
        provider.kx_groups = chosen;
    }
    Ok(provider)
}

/// Go's `RequestClientCert` / `RequireAnyClientCert`: asks for a certificate and checks only that the client
/// holds its key, not who issued it. The operator chose this; it proves possession, not identity.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
