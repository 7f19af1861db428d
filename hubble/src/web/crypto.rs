//! The crypto provider a `tls_server_config` asks for: Go's cipher-suite and curve names (the ones the
//! exporter toolkit accepts) mapped onto rustls with ring, plus P-521 key exchange, which ring lacks.

use rustls::crypto::{ActiveKeyExchange, CryptoProvider, SharedSecret, SupportedKxGroup};
use rustls::{CipherSuite, NamedGroup, PeerMisbehaved};

/// Go's `tls.CipherSuites()` (every name the toolkit accepts) and the rustls suite of the same name. `None`:
/// the CBC suites, which rustls does not implement.
const GO_SUITES: [(&str, Option<CipherSuite>); 13] = [
    (
        "TLS_AES_128_GCM_SHA256",
        Some(CipherSuite::TLS13_AES_128_GCM_SHA256),
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        Some(CipherSuite::TLS13_AES_256_GCM_SHA384),
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
    ),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", None),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", None),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
];

/// The suites Go's HTTP/2 server insists on when a TLS 1.2 suite list is given.
pub(super) const HTTP2_REQUIRED: [&str; 2] = [
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
];

/// Go's curve names, as the toolkit spells them.
const GO_CURVES: [(&str, NamedGroup); 4] = [
    ("CurveP256", NamedGroup::secp256r1),
    ("CurveP384", NamedGroup::secp384r1),
    ("CurveP521", NamedGroup::secp521r1),
    ("X25519", NamedGroup::X25519),
];

/// What a name list selected, and what it said that cannot be honoured as written.
pub(super) struct Provider {
    pub(super) provider: CryptoProvider,
    /// Whether any TLS 1.2 suite is left (TLS 1.3 suites are not configurable, as in Go).
    pub(super) has_tls12_suites: bool,
    pub(super) warnings: Vec<String>,
}

/// The ring provider (with P-521 added) narrowed to `suites` and `curves`, in their order. `Err` names the
/// field and what is wrong.
pub(super) fn provider(
    suites: &[String],
    curves: &[String],
) -> Result<Provider, (&'static str, String)> {
    let mut provider = super::ring_provider::ring_provider();
    provider.kx_groups.push(&P521);
    let mut warnings = Vec::new();
    let mut has_tls12_suites = true;
    if !suites.is_empty() {
        let all = provider.cipher_suites.clone();
        let mut chosen = Vec::new();
        let mut unsupported = Vec::new();
        for wanted in suites {
            let Some((_, rustls_suite)) = GO_SUITES.iter().find(|(go, _)| go == wanted) else {
                let known: Vec<_> = GO_SUITES.iter().map(|(go, _)| *go).collect();
                return Err((
                    "cipher_suites",
                    format!(
                        "unknown cipher suite {wanted:?}; expected one of {}",
                        known.join(", ")
                    ),
                ));
            };
            match rustls_suite.and_then(|id| all.iter().find(|s| s.suite() == id)) {
                // TLS 1.3 suites are always on (below); listing one changes nothing, as in Go.
                Some(s) if s.version() == &rustls::version::TLS13 => {}
                Some(s) if !chosen.contains(s) => chosen.push(*s),
                Some(_) => {}
                None => unsupported.push(wanted.as_str()),
            }
        }
        if !unsupported.is_empty() {
            warnings.push(format!(
                "tls_server_config.cipher_suites: {} not supported (rustls has no CBC suites); \
                 clients that offer only these cannot connect",
                unsupported.join(", ")
            ));
        }
        has_tls12_suites = !chosen.is_empty();
        chosen.extend(
            all.iter()
                .filter(|s| s.version() == &rustls::version::TLS13),
        );
        provider.cipher_suites = chosen;
    }
    if !curves.is_empty() {
        let all = provider.kx_groups.clone();
        let mut chosen: Vec<&'static dyn SupportedKxGroup> = Vec::new();
        for wanted in curves {
            let Some((_, group)) = GO_CURVES.iter().find(|(go, _)| go == wanted) else {
                let known: Vec<_> = GO_CURVES.iter().map(|(go, _)| *go).collect();
                return Err((
                    "curve_preferences",
                    format!(
                        "unknown curve {wanted:?}; expected one of {}",
                        known.join(", ")
                    ),
                ));
            };
            let kx = all
                .iter()
                .find(|g| g.name() == *group)
                .expect("every Go curve has a key exchange");
            if !chosen.iter().any(|g| g.name() == *group) {
                chosen.push(*kx);
            }
        }
        provider.kx_groups = chosen;
    }
    Ok(Provider {
        provider,
        has_tls12_suites,
        warnings,
    })
}

/// ECDHE over NIST P-521 (`secp521r1`), from the RustCrypto `p521` crate: Go offers it, ring does not.
#[derive(Debug)]
struct P521Group;

static P521: P521Group = P521Group;

impl SupportedKxGroup for P521Group {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let secret = p521::ecdh::EphemeralSecret::random(&mut rand_core::OsRng);
        // TLS sends points uncompressed (RFC 8446 §4.2.8.2).
        let public = p521::EncodedPoint::from(secret.public_key())
            .as_bytes()
            .to_vec();
        Ok(Box::new(P521Exchange { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::secp521r1
    }
}

struct P521Exchange {
    secret: p521::ecdh::EphemeralSecret,
    public: Vec<u8>,
}

impl ActiveKeyExchange for P521Exchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let invalid = || rustls::Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare);
        if peer.first() != Some(&0x04) {
            return Err(invalid());
        }
        // Decoding checks that the point is on the curve, so a bad share cannot leak the secret.
        let peer = p521::PublicKey::from_sec1_bytes(peer).map_err(|_| invalid())?;
        let shared = self.secret.diffie_hellman(&peer);
        Ok(SharedSecret::from(shared.raw_secret_bytes().as_slice()))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::secp521r1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p521_exchanges_agree() {
        let a = P521.start().unwrap();
        let b = P521.start().unwrap();
        let (pa, pb) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        assert_eq!(pa.len(), 133, "uncompressed P-521 point");
        let sa = a.complete(&pb).unwrap();
        let sb = b.complete(&pa).unwrap();
        assert_eq!(sa.secret_bytes(), sb.secret_bytes());
        assert_eq!(sa.secret_bytes().len(), 66);
        let c = P521.start().unwrap();
        assert!(c.complete(&[0x04; 133]).is_err(), "a point off the curve");
    }

    #[test]
    fn go_names_map_onto_rustls() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all: Vec<_> = GO_SUITES.iter().map(|(n, _)| *n).collect();
        let p = provider(&names(&all), &names(&["CurveP521", "X25519"])).unwrap();
        assert!(p.has_tls12_suites);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"));
        assert_eq!(p.provider.cipher_suites.len(), 9);
        let groups: Vec<_> = p.provider.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [NamedGroup::secp521r1, NamedGroup::X25519]);

        let cbc = provider(&names(&["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]), &[]).unwrap();
        assert!(!cbc.has_tls12_suites);
        assert_eq!(cbc.provider.cipher_suites.len(), 3, "TLS 1.3 suites only");

        let (field, e) = provider(&names(&["TLS_RSA_WITH_RC4_128_SHA"]), &[])
            .err()
            .unwrap();
        assert_eq!(field, "cipher_suites");
        assert!(
            e.contains("unknown cipher suite \"TLS_RSA_WITH_RC4_128_SHA\""),
            "{e}"
        );
        let (field, e) = provider(&[], &names(&["CurveP257"])).err().unwrap();
        assert_eq!(field, "curve_preferences");
        assert!(
            e.contains("expected one of CurveP256, CurveP384, CurveP521, X25519"),
            "{e}"
        );
    }
}
