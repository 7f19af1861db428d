//! Throwaway certificates for TLS tests: a CA, a server certificate for localhost / 127.0.0.1, a client
//! certificate from the same CA and one from an unrelated CA, as PEM files in a temporary directory.

use std::path::{Path, PathBuf};

/// A throwaway CA with server and client certificates in a temporary directory.
pub struct Pki {
    /// Where the PEM files are.
    pub dir: tempfile::TempDir,
}

fn new_ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

fn leaf(dir: &Path, name: &str, sans: &[&str], issuer: &(rcgen::Certificate, rcgen::KeyPair)) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    if name == "nameless" {
        params.distinguished_name = rcgen::DistinguishedName::new();
    } else {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
    }
    let cert = params.signed_by(&key, &issuer.0, &issuer.1).unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

impl Pki {
    /// `ca.crt`, `server.{crt,key}` (localhost, 127.0.0.1), `client.{crt,key}`, `elsewhere.{crt,key}`
    /// (a server certificate for db.example.com), `certuser.{crt,key}` (CN `certuser`), all signed by `ca`;
    /// `nameless.{crt,key}` (a client certificate without a CommonName); `rogue.{crt,key}` (another CA).
    pub fn generate() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = new_ca("hubble test CA");
        let rogue_ca = new_ca("rogue CA");
        std::fs::write(dir.path().join("ca.crt"), ca.0.pem()).unwrap();
        leaf(dir.path(), "server", &["localhost", "127.0.0.1"], &ca);
        leaf(dir.path(), "client", &["prometheus"], &ca);
        leaf(dir.path(), "rogue", &["prometheus"], &rogue_ca);
        // A server certificate for another name, and a client certificate whose CN is a database user.
        leaf(dir.path(), "elsewhere", &["db.example.com"], &ca);
        leaf(dir.path(), "certuser", &["certuser"], &ca);
        // A client certificate without a CommonName (etcd's JSON gateway refuses one with a CN).
        leaf(dir.path(), "nameless", &["prometheus"], &ca);
        Pki { dir }
    }

    /// A file in the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}
