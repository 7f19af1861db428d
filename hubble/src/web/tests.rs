use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
    WebConfig::parse(text, Path::new("/etc/web.yml"))
}

fn error(text: &str) -> String {
    parse(text).expect_err("should be refused").to_string()
}

/// A CA, a server certificate for localhost signed by it, and a directory holding their PEM files.
fn certificates() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    let key_pem = key.serialize_pem();
    (dir, key_pem)
}

#[test]
fn an_empty_file_is_plain_http() {
    let c = parse("").unwrap();
    assert!(!c.tls_enabled() && !c.basic_auth_enabled());
    let c = parse("basic_auth_users: {}\n").unwrap();
    assert!(!c.basic_auth_enabled());
}

#[test]
fn unknown_keys_are_refused_with_their_position() {
    let e = error("basic_auth_user:\n  alice: x\n");
    assert!(e.starts_with("web config /etc/web.yml: "), "{e}");
    assert!(e.contains("unknown field `basic_auth_user`"), "{e}");
    assert!(e.contains("line 1"), "{e}");
    let e = error("tls_server_config:\n  cert_file: a\n  keyfile: b\n");
    assert!(
        e.contains("unknown field `keyfile`") && e.contains("line 3"),
        "{e}"
    );
}

#[test]
fn a_password_instead_of_a_hash_is_refused_without_showing_it() {
    let e = error("basic_auth_users:\n  alice: hunter2\n");
    assert!(
        e.contains("basic_auth_users.alice: expected a bcrypt hash"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    let hash = bcrypt::hash("pw", 4).unwrap();
    let c = parse(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    assert!(c.basic_auth_enabled());
    assert!(!format!("{c:?}").contains(&hash), "Debug shows no hash");
    // Unknown users are checked against a hash of the same cost.
    assert!(c.dummy_hash.starts_with("$2y$04$"), "{}", c.dummy_hash);
    assert_eq!(bcrypt::verify("pw", &c.dummy_hash).ok(), Some(false));
}

#[test]
fn only_the_toolkit_headers_are_allowed() {
    let c = parse("http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n").unwrap();
    assert_eq!(c.headers.len(), 2);
    let e = error("http_server_config:\n  headers:\n    Server: hubble\n");
    assert!(
        e.contains("http_server_config.headers.Server: header not allowed; expected one of"),
        "{e}"
    );
    let e = error("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
    assert!(
        e.contains("expected one of deny, sameorigin, got \"allow\""),
        "{e}"
    );
}

#[test]
fn tls_fields_are_checked_and_named() {
    let (dir, key_pem) = certificates();
    let path = dir.path().join("web.yml");
    let ok = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    // Relative paths resolve against the config file's directory.
    let c = WebConfig::parse(ok, &path).unwrap();
    assert!(c.tls_enabled());
    let cases = [
        ("tls_server_config:\n  key_file: server.key\n", "tls_server_config.cert_file: required"),
        ("tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n", "tls_server_config.cert_file: cannot read"),
        ("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n", "tls_server_config.cert_file: "),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n", "tls_server_config.key_file: "),
        (&format!("{ok}  min_version: TLS10\n"), "tls_server_config.min_version: TLS10 is not supported"),
        (&format!("{ok}  min_version: TLS13\n  max_version: TLS12\n"), "tls_server_config.max_version: lower than min_version"),
        (&format!("{ok}  client_auth_type: Sometimes\n"), "tls_server_config.client_auth_type: expected NoClientCert"),
        (&format!("{ok}  client_auth_type: RequireAndVerifyClientCert\n"), "tls_server_config.client_ca_file: required"),
        (&format!("{ok}  client_ca_file: ca.crt\n"), "tls_server_config.client_ca_file: set without a client_auth_type"),
        (&format!("{ok}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"), "tls_server_config.cipher_suites: unknown or unsupported suite \"TLS_RSA_WITH_RC4_128_SHA\""),
        (&format!("{ok}  curve_preferences: [CurveP521]\n"), "tls_server_config.curve_preferences: unsupported curve"),
    ];
    for (text, want) in cases {
        let e = WebConfig::parse(text, &path).expect_err(text).to_string();
        assert!(e.contains(want), "{text}\n→ {e}\nwanted {want}");
        assert!(e.contains(&path.display().to_string()), "{e}");
    }
    let good = [
        format!("{ok}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"),
        format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n"),
        format!("{ok}  client_auth_type: RequireAnyClientCert\n"),
        format!("{ok}  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n"),
    ];
    for text in good {
        WebConfig::parse(&text, &path).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    // An inline key that does not parse is never quoted back.
    let inline = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key: |\n{}\n",
        key_pem
            .replace("PRIVATE KEY", "NOT A KEY")
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let e = WebConfig::parse(&inline, &path).unwrap_err().to_string();
    assert!(
        e.contains("tls_server_config.key: no usable PEM private key"),
        "{e}"
    );
    let body = key_pem.lines().nth(1).unwrap();
    assert!(!e.contains(body), "{e}");
}

#[test]
fn a_bad_reload_keeps_the_config_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let handle = WebConfigHandle::from_file(&path).unwrap();
    assert!(handle.current().basic_auth_enabled());
    std::fs::write(&path, "basic_auth_users: [\n").unwrap();
    let e = handle.reload().unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(handle.current().basic_auth_enabled(), "still in force");
    std::fs::write(&path, "").unwrap();
    handle.reload().unwrap();
    assert!(
        !handle.current().basic_auth_enabled(),
        "the new file is in force"
    );
    std::fs::remove_file(&path).unwrap();
    let e = handle.reload().unwrap_err().to_string();
    assert!(e.contains("cannot read"), "{e}");
}
