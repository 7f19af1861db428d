//! Client certificate checks beyond rustls's chain verifier: Go's `RequestClientCert`/`RequireAnyClientCert`
//! (possession of the key only), the system's CA certificates when no client CA is given (Go's default),
//! and the toolkit's `client_allowed_sans`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DistinguishedName, RootCertStore};
use rustls_pki_types::{CertificateDer, UnixTime};

/// A verifier that does not check who issued the certificate: Go's `RequestClientCert` and
/// `RequireAnyClientCert` (the client proves it holds the key, not who it is; the operator chose this), or,
/// with `trusted: false`, one that has no CA to trust and so refuses every certificate.
#[derive(Debug)]
pub(super) struct UncheckedIssuer {
    pub(super) mandatory: bool,
    pub(super) trusted: bool,
    pub(super) algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for UncheckedIssuer {
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
        if self.trusted {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ))
        }
    }

    handshake_signatures!(algorithms algorithms);
}

/// The system's CA certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR`, else the distribution's bundle), which Go
/// verifies client certificates against when no client CA is configured. The second value says what went
/// wrong reading them, if anything did.
pub(crate) fn system_roots() -> (RootCertStore, Option<String>) {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(found.certs);
    let mut problems: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
    if unusable > 0 {
        problems.push(format!("{unusable} certificates could not be parsed"));
    }
    (roots, (!problems.is_empty()).then(|| problems.join("; ")))
}

/// The toolkit's `client_allowed_sans`: after `inner` accepts a certificate, one of its subject alternative
/// names (DNS name, email address, IP address or URI, compared as Go prints them) must be in the list. A
/// client without a certificate is refused too (the toolkit cannot complete such a handshake either).
#[derive(Debug)]
pub(super) struct AllowedSans {
    pub(super) inner: Arc<dyn ClientCertVerifier>,
    pub(super) allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alt_names(end_entity).ok_or(rustls::Error::InvalidCertificate(
            CertificateError::BadEncoding,
        ))?;
        if names.iter().any(|n| self.allowed.contains(n)) {
            Ok(verified)
        } else {
            tracing::debug!(sans = ?names, "client certificate refused: no allowed SAN");
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    handshake_signatures!(inner inner);
}

/// One DER element: (tag, contents, what follows). `None` when truncated or longer than 4 GiB.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, &b| len << 8 | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// `der` expecting `tag`.
fn der_tagged(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = der(input)?;
    (t == tag).then_some((contents, rest))
}

const SEQUENCE: u8 = 0x30;
/// id-ce-subjectAltName, 2.5.29.17.
const SUBJECT_ALT_NAME: [u8; 3] = [0x55, 0x1d, 0x11];

/// The subject alternative names of a DER certificate, as Go's `crypto/x509` prints them. `None` when the
/// certificate cannot be read (rustls has parsed it already, so only a malformed extension gets here).
fn subject_alt_names(cert: &[u8]) -> Option<Vec<String>> {
    let (certificate, _) = der_tagged(cert, SEQUENCE)?;
    let (mut tbs, _) = der_tagged(certificate, SEQUENCE)?;
    while !tbs.is_empty() {
        let (tag, field, rest) = der(tbs)?;
        tbs = rest;
        // extensions [3] EXPLICIT SEQUENCE OF Extension
        if tag != 0xa3 {
            continue;
        }
        let (mut extensions, _) = der_tagged(field, SEQUENCE)?;
        while !extensions.is_empty() {
            let (extension, rest) = der_tagged(extensions, SEQUENCE)?;
            extensions = rest;
            let (oid, mut value) = der_tagged(extension, 0x06)?;
            if oid != SUBJECT_ALT_NAME {
                continue;
            }
            if let Some((_, after_critical)) = der_tagged(value, 0x01) {
                value = after_critical;
            }
            let (octets, _) = der_tagged(value, 0x04)?;
            let (mut names, _) = der_tagged(octets, SEQUENCE)?;
            let mut out = Vec::new();
            while !names.is_empty() {
                let (tag, name, rest) = der(names)?;
                names = rest;
                match tag {
                    // rfc822Name, dNSName, uniformResourceIdentifier: IA5 strings.
                    0x81 | 0x82 | 0x86 => out.push(String::from_utf8_lossy(name).into_owned()),
                    0x87 => out.push(ip_address(name)?),
                    _ => {}
                }
            }
            return Some(out);
        }
    }
    Some(Vec::new())
}

/// An iPAddress name as Go's `net.IP.String` prints it: IPv4-mapped IPv6 addresses as IPv4.
fn ip_address(octets: &[u8]) -> Option<String> {
    match octets.len() {
        4 => Some(Ipv4Addr::from(<[u8; 4]>::try_from(octets).ok()?).to_string()),
        16 => {
            let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(octets).ok()?);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_san() {
        let mut params =
            rcgen::CertificateParams::new(vec!["prometheus.example".to_owned()]).unwrap();
        params.subject_alt_names.extend([
            rcgen::SanType::Rfc822Name("ops@example.net".try_into().unwrap()),
            rcgen::SanType::IpAddress("10.1.2.3".parse().unwrap()),
            rcgen::SanType::IpAddress("2001:db8::1".parse().unwrap()),
            rcgen::SanType::IpAddress("::ffff:192.0.2.7".parse().unwrap()),
            rcgen::SanType::URI(
                "spiffe://cluster/ns/monitoring/sa/prometheus"
                    .try_into()
                    .unwrap(),
            ),
        ]);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let names = subject_alt_names(cert.der()).unwrap();
        assert_eq!(
            names,
            [
                "prometheus.example",
                "ops@example.net",
                "10.1.2.3",
                "2001:db8::1",
                "192.0.2.7",
                "spiffe://cluster/ns/monitoring/sa/prometheus"
            ]
        );
        let none = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert_eq!(subject_alt_names(none.der()), Some(vec![]));
        assert_eq!(subject_alt_names(&cert.der()[..40]), None, "truncated");
    }
}
