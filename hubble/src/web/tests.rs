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
    assert!(c.tls_enabled() && c.warnings().is_empty());
    let cases = [
        ("tls_server_config:\n  key_file: server.key\n", "tls_server_config.cert_file: required"),
        ("tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n", "tls_server_config.cert_file: cannot read"),
        ("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n", "tls_server_config.cert_file: "),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n", "tls_server_config.key_file: "),
        (&format!("{ok}  min_version: TLS14\n"), "tls_server_config.min_version: expected TLS10, TLS11, TLS12 or TLS13, got \"TLS14\""),
        (&format!("{ok}  max_version: TLS11\n"), "tls_server_config.max_version: TLS 1.0 and 1.1 are not supported"),
        (&format!("{ok}  min_version: TLS13\n  max_version: TLS12\n"), "tls_server_config.max_version: lower than min_version"),
        (&format!("{ok}  client_auth_type: Sometimes\n"), "tls_server_config.client_auth_type: expected NoClientCert"),
        (&format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: nope.crt\n"), "tls_server_config.client_ca_file: cannot read"),
        (&format!("{ok}  client_ca_file: ca.crt\n"), "tls_server_config.client_ca_file: set without a client_auth_type"),
        (&format!("{ok}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"), "tls_server_config.cipher_suites: unknown cipher suite \"TLS_RSA_WITH_RC4_128_SHA\""),
        (&format!("{ok}  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n  min_version: TLS12\n"), "tls_server_config.cipher_suites: none of the listed suites is supported for TLS 1.2"),
        (&format!("{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n"), "tls_server_config.cipher_suites: with http_server_config.http2"),
        (&format!("{ok}  curve_preferences: [CurveP257]\n"), "tls_server_config.curve_preferences: unknown curve"),
        ("rate_limit:\n  interval: 1d\n", "rate_limit.interval: expected a duration"),
    ];
    for (text, want) in cases {
        let e = WebConfig::parse(text, &path).expect_err(text).to_string();
        assert!(e.contains(want), "{text}\n→ {e}\nwanted {want}");
        assert!(e.contains(&path.display().to_string()), "{e}");
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

/// Files the exporter toolkit starts with (the kinds its own test files cover, written afresh): each loads,
/// and a setting hubble serves differently says so in a warning. `warns` is a fragment of the expected
/// warning, or "" for none.
#[test]
fn every_kind_of_file_the_toolkit_accepts_loads() {
    let (dir, key_pem) = certificates();
    let path = dir.path().join("web.yml");
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let cert_pem = std::fs::read_to_string(dir.path().join("server.crt")).unwrap();
    let ca_pem = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    let ok = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let hash = bcrypt::hash("pw", 4).unwrap();
    let all_suites = "[TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, \
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, \
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, \
        TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, \
        TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, \
        TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA]";
    let files: Vec<(String, &str)> = vec![
        (String::new(), ""),
        (format!("{ok}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"), ""),
        (format!("{ok}  client_auth_type: RequireAnyClientCert\n"), ""),
        (format!("{ok}  client_auth_type: RequireClientCert\n"), ""),
        (format!("{ok}  client_auth_type: RequestClientCert\n"), ""),
        (format!("tls_server_config:\n  cert_file: server.crt\n  client_auth_type: RequireAnyClientCert\n  key: |\n{}", indent(&key_pem)), ""),
        (format!("tls_server_config:\n  cert: |\n{}  key: |\n{}", indent(&cert_pem), indent(&key_pem)), ""),
        (format!("{ok}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [one, prometheus, two]\n"), ""),
        (format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n  client_ca: |\n{}", indent(&ca_pem)), ""),
        (format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n"), ""),
        (format!("{ok}  client_auth_type: RequireAndVerifyClientCert\n"), ""),
        (format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n  cipher_suites: {all_suites}\n"), "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA not supported"),
        (format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n"), ""),
        (format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n  min_version: TLS13\n  curve_preferences: [CurveP521]\n"), ""),
        (format!("{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  min_version: TLS12\n  max_version: TLS12\n"), ""),
        (format!("{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  prefer_server_cipher_suites: false\n  max_version: TLS12\n"), ""),
        (format!("{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\nhttp_server_config:\n  http2: false\n"), ""),
        (format!("{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  min_version: TLS13\n"), ""),
        (format!("{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"), "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA not supported"),
        (format!("{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n  max_version: TLS13\nhttp_server_config:\n  http2: false\n"), "only TLS 1.3 clients can connect"),
        (format!("{ok}  min_version: TLS10\n"), "clients need TLS 1.2 or later"),
        (format!("{ok}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: /dev/null\n"), "0 usable CA certificates"),
        (format!("{ok}  cert: |\n{}", indent(&cert_pem)), ""),
        ("tls_server_config:\n  cert_file: ''\n  key_file: ''\n".into(), "TLS is off"),
        ("tls_server_config:\n  min_version: TLS13\n".into(), "TLS is off"),
        (format!("{ok}  client_allowed_sans: [prometheus]\n"), "client_allowed_sans: ignored"),
        ("http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: '1'\n    Content-Security-Policy: \"default-src 'self'\"\n".into(), ""),
        (format!("basic_auth_users:\n  alice: '{hash}'\n  bob: '{hash}'\n"), ""),
        (format!("basic_auth_users:\n  'a:b': '{hash}'\n"), "can never log in"),
        ("rate_limit:\n  burst: 10\n  interval: 1s\n".into(), ""),
        ("rate_limit:\n  burst: 10\n  interval: 100000000\n".into(), ""),
        ("rate_limit:\n  interval: 1m\n".into(), "every request is refused"),
    ];
    for (text, warns) in files {
        let c = WebConfig::parse(&text, &path).unwrap_or_else(|e| panic!("{text}\n→ {e}"));
        let warnings = c.warnings().join("\n");
        if warns.is_empty() {
            assert!(
                warnings.is_empty(),
                "{text}\n→ unexpected warnings: {warnings}"
            );
        } else {
            assert!(
                warnings.contains(warns),
                "{text}\n→ {warnings}\nwanted {warns}"
            );
        }
    }
}

/// And the kinds it refuses.
#[test]
fn every_kind_of_file_the_toolkit_refuses_is_refused() {
    let (dir, _) = certificates();
    let path = dir.path().join("web.yml");
    let ok = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let files = [
        "a\nb: [\n".to_owned(),
        "tls_server_config:\n  cert_filse: server.crt\n".into(),
        format!("{ok}  client_ca_file: ca.crt\n"),
        format!("{ok}  client_ca_file: /dev/null\n"),
        format!("{ok}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: nope.pem\n"),
        "basic_auth_users:\n  alice: plain\n".into(),
        "tls_server_config:\n  cert_file: ''\n  key_file: server.key\n".into(),
        "tls_server_config:\n  cert_file: nope\n  key_file: server.key\n".into(),
        "tls_server_config:\n  cert_file: ''\n  key_file: ''\n  client_auth_type: x\n".into(),
        "tls_server_config:\n  cert_file: nope\n  key_file: nope\n".into(),
        "tls_server_config:\n  cert: ''\n  key_file: server.key\n".into(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: ''\n".into(),
        "tls_server_config:\n  cert_file: server.crt\n  key: ''\n".into(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: nope\n".into(),
        format!("{ok}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048]\n"),
        format!("{ok}  cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]\n"),
        format!("{ok}  curve_preferences: [CurveP257]\n"),
        format!(
            "{ok}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\n"
        ),
        format!("{ok}  min_version: TLS9\n"),
        "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n".into(),
        "http_server_config:\n  headers:\n    Content-Type: foo\n".into(),
        "http_server_config:\n  headers:\n    X-Frame-Options: foo\n".into(),
        "http_server_config:\n  headers:\n    x-frame-options: deny\n".into(),
        "http_server_config:\n  headers:\n    X-Frame-Options: DENY\n".into(),
        "http_server_config:\n  http3: true\n".into(),
        "rate_limit:\n  interval: fast\n".into(),
        "rate_limit:\n  burst: 1\n  period: 1s\n".into(),
    ];
    for text in files {
        if let Ok(c) = WebConfig::parse(&text, &path) {
            panic!("{text}\n→ accepted: {c:?}");
        }
    }
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
