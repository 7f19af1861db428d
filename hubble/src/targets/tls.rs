//! TLS to a monitored server made by the exporter itself (rustls over the ring provider, no OpenSSL), for a
//! connection hubble has to see into, such as the Postgres exporter's password guard: it makes the TLS
//! connection to the server and checks the authentication request inside it.
//!
//! How much is checked follows libpq's `sslmode`: [`Verify::Nothing`] (`require`, `prefer`, `allow`:
//! encrypted, anyone's certificate), [`Verify::Chain`] (`verify-ca`: the certificate chains to the CA given),
//! [`Verify::ChainAndName`] (`verify-full`: and names the host connected to).

use std::sync::Arc;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, RootCertStore};

/// What the client checks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing: the link is encrypted, but anyone in the path could be the server.
    Nothing,
    /// That it chains to a trusted CA, whatever name it carries.
    Chain,
    /// That it chains to a trusted CA and names the host connected to.
    ChainAndName,
}

/// Where the trusted CAs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// A PEM file.
    File(std::path::PathBuf),
    /// The system's CA certificates (libpq's `sslrootcert=system`).
    System,
}

/// A client configuration: `verify` with the CAs of `roots` (needed unless nothing is verified), presenting
/// the certificate and key of `client` (PEM files) when given. Errors name the file and what is wrong.
pub fn client_config(
    verify: Verify,
    roots: Option<&Roots>,
    client: Option<(&std::path::Path, &std::path::Path)>,
) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(crate::web::ring_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(AnyCertificate(provider.clone())),
        Verify::Chain | Verify::ChainAndName => {
            let roots =
                match roots {
                    Some(Roots::File(path)) => {
                        let mut store = RootCertStore::empty();
                        let certs = CertificateDer::pem_file_iter(path)
                            .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                        let (added, _) = store.add_parsable_certificates(certs);
                        if added == 0 {
                            return Err(format!(
                                "sslrootcert {}: no CA certificate in it",
                                path.display()
                            ));
                        }
                        store
                    }
                    Some(Roots::System) => crate::web::system_roots().0,
                    None => return Err(
                        "verifying the server needs its CA: give sslrootcert (a file, or system)"
                            .to_owned(),
                    ),
                };
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("sslrootcert: {e}"))?;
            if verify == Verify::Chain {
                Arc::new(AnyName(webpki))
            } else {
                webpki
            }
        }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("sslcert {}: {e}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("sslcert {}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("sslkey {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("sslcert and sslkey: {e}"))?
        }
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry for `host` (a name or an address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_owned()).map_err(|e| format!("host {host:?}: {e}"))
}

/// `verify-ca`: the chain is checked, the name is not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    handshake_signatures!(inner 0);
}

/// `require`: any certificate; the handshake's signatures are still checked against it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures!(algorithms 0.signature_verification_algorithms);
}
