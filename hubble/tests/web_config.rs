//! `--web.config.file` with real clients: curl and a Prometheus server over TLS, client certificates and
//! basic auth; reload without a restart.

use hubble_test_support as support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubble::{BaseExporter, MetricGroup, Registry, WebConfigHandle};
use support::pki::Pki;
use support::{serve_in_thread, wait_for, InThread, Prometheus};

#[derive(MetricGroup)]
#[hubble(prefix = "web_test")]
struct Info {
    #[metric(label)]
    version: &'static str,
    /// Always 1.
    #[metric(gauge)]
    info: u8,
}

const PASSWORD: &str = "correct horse battery staple";

/// Serves one exporter (`web_test_info 1`) under `web`.
fn serve(web: Arc<WebConfigHandle>) -> InThread {
    serve_in_thread(move |listener, shutdown| async move {
        let registry = Registry::new();
        let collector = hubble::group_fn(|| async {
            Ok(vec![Info {
                version: "1.0",
                info: 1,
            }])
        });
        registry
            .register(BaseExporter::builder("web").collector(collector).build()?)
            .await?;
        let router = hubble::router(registry.clone(), hubble::ServerConfig::default());
        hubble::serve_with(listener, router, web, shutdown).await?;
        registry.close_all().await;
        Ok(())
    })
}

struct Curl {
    /// curl's exit status (0, or why the transfer failed: 35/56 TLS, 52 empty reply, ...).
    code: i32,
    status: u16,
    headers: String,
    body: String,
}

/// `curl` against the server at `addr`, as `https://localhost:<port>` when `https`.
fn curl(server: &InThread, https: bool, path: &str, args: &[&str]) -> Curl {
    let port = server.addr.port();
    let scheme = if https { "https" } else { "http" };
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg("-D")
        .arg(&headers)
        .args(args)
        .arg(format!("{scheme}://localhost:{port}{path}"))
        .output()
        .expect("curl not found (Debian package `curl`, see scripts/test.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", "0"));
    Curl {
        code: out.status.code().unwrap_or(-1),
        status: status.trim().parse().unwrap_or(0),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: body.to_owned(),
    }
}

/// `/metrics` once the first collection is in.
fn first_collection(server: &InThread, https: bool, args: &[&str]) -> Curl {
    wait_for(Duration::from_secs(10), "the first collection", || {
        let r = curl(server, https, "/metrics", args);
        r.body.contains("web_test_info").then_some(r)
    })
}

fn write_config(pki: &Pki, text: &str) -> std::path::PathBuf {
    let path = pki.path("web.yml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Cost 11, not the toolkit's usual 10: unknown users must be timed like the configured hashes' cost.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 11).unwrap()
}

#[test]
fn mutual_tls_with_curl() {
    let pki = Pki::generate();
    let path = write_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS12\n",
    );
    let server = serve(Arc::new(WebConfigHandle::from_file(&path).unwrap()));
    let ca = pki.path("ca.crt").display().to_string();
    let (client_crt, client_key) = (pki.path("client.crt"), pki.path("client.key"));
    let (rogue_crt, rogue_key) = (pki.path("rogue.crt"), pki.path("rogue.key"));

    let client = [
        "--cacert",
        &ca,
        "--cert",
        &client_crt.display().to_string(),
        "--key",
        &client_key.display().to_string(),
    ];
    let ok = first_collection(&server, true, &client);
    assert_eq!((ok.code, ok.status), (0, 200), "{}", ok.body);
    assert!(
        ok.body.contains("web_test_info{version=\"1.0\"} 1"),
        "{}",
        ok.body
    );

    let anonymous = curl(&server, true, "/metrics", &["--cacert", &ca]);
    assert_ne!(anonymous.code, 0, "no client certificate must be refused");
    assert_ne!(anonymous.status, 200);
    let rogue = curl(
        &server,
        true,
        "/metrics",
        &[
            "--cacert",
            &ca,
            "--cert",
            &rogue_crt.display().to_string(),
            "--key",
            &rogue_key.display().to_string(),
        ],
    );
    assert_ne!(
        rogue.code, 0,
        "a certificate from another CA must be refused"
    );
    let untrusted = curl(&server, true, "/metrics", &[]);
    assert_ne!(
        untrusted.code, 0,
        "curl must not trust the test CA by default"
    );
    let plain = curl(&server, false, "/metrics", &[]);
    assert_ne!(
        plain.status, 200,
        "plain HTTP to the TLS port must not be served"
    );
    server.stop().unwrap();
}

#[test]
fn basic_auth_and_headers_with_curl() {
    let pki = Pki::generate();
    let path = write_config(
        &pki,
        &format!(
            "basic_auth_users:\n  alice: '{}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    \
             X-Content-Type-Options: nosniff\n",
            hash(PASSWORD)
        ),
    );
    let server = serve(Arc::new(WebConfigHandle::from_file(&path).unwrap()));
    let good = format!("alice:{PASSWORD}");
    let ok = first_collection(&server, false, &["-u", &good]);
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("web_test_info"), "{}", ok.body);
    assert!(
        ok.headers
            .to_ascii_lowercase()
            .contains("x-frame-options: deny"),
        "{}",
        ok.headers
    );

    for (who, args) in [
        ("no credentials", vec![]),
        ("a wrong password", vec!["-u", "alice:wrong"]),
        ("an unknown user", vec!["-u", "mallory:wrong"]),
    ] {
        for path in ["/metrics", "/", "/-/healthy"] {
            let r = curl(&server, false, path, &args);
            assert_eq!(r.status, 401, "{who} on {path}");
            assert!(!r.body.contains("web_test"), "{who} on {path}: {}", r.body);
            let h = r.headers.to_ascii_lowercase();
            assert!(h.contains("www-authenticate: basic"), "{h}");
            assert!(
                h.contains("x-content-type-options: nosniff"),
                "headers on a 401 too: {h}"
            );
        }
    }

    // An unknown user costs a bcrypt like a known one: the response time does not tell which names exist.
    let time = |user: &str| {
        (0..3)
            .map(|_| {
                let start = Instant::now();
                let r = curl(&server, false, "/metrics", &["-u", &format!("{user}:nope")]);
                assert_eq!(r.status, 401);
                start.elapsed()
            })
            .min()
            .unwrap()
    };
    let (known, unknown) = (time("alice"), time("mallory"));
    assert!(
        unknown * 3 > known && known * 3 > unknown,
        "wrong password {known:?} vs unknown user {unknown:?}"
    );
    server.stop().unwrap();
}

#[test]
fn prometheus_scrapes_over_mutual_tls_with_basic_auth() {
    let pki = Pki::generate();
    let path = write_config(
        &pki,
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n\
             basic_auth_users:\n  prometheus: '{}'\n",
            hash(PASSWORD)
        ),
    );
    let server = serve(Arc::new(WebConfigHandle::from_file(&path).unwrap()));
    let job = format!(
        "job_name: web\nscheme: https\nbasic_auth:\n  username: prometheus\n  password: '{PASSWORD}'\n\
         tls_config:\n  ca_file: {}\n  cert_file: {}\n  key_file: {}\n\
         static_configs:\n  - targets: ['localhost:{}']\n",
        pki.path("ca.crt").display(),
        pki.path("client.crt").display(),
        pki.path("client.key").display(),
        server.addr.port(),
    );
    let prometheus = Prometheus::with_job(&job);
    wait_for(
        Duration::from_secs(60),
        "Prometheus to scrape over mTLS",
        || (prometheus.query("web_test_info").as_deref() == Some("1")).then_some(()),
    );
    assert_eq!(prometheus.query(r#"up{job="web"}"#).as_deref(), Some("1"));
    drop(prometheus);

    // The same scrape without the client certificate fails, and Prometheus says why.
    let job = job.replace(
        &format!(
            "  cert_file: {}\n  key_file: {}\n",
            pki.path("client.crt").display(),
            pki.path("client.key").display()
        ),
        "",
    );
    let prometheus = Prometheus::with_job(&job);
    let error = wait_for(Duration::from_secs(60), "a failed scrape", || {
        prometheus.target_error().filter(|e| !e.is_empty())
    });
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{error}"
    );
    // The targets API can report the error before the failed scrape's `up` sample is queryable.
    wait_for(
        Duration::from_secs(30),
        "up 0 for the failed scrape",
        || (prometheus.query(r#"up{job="web"}"#).as_deref() == Some("0")).then_some(()),
    );
    drop(prometheus);
    server.stop().unwrap();
}

#[test]
fn reload_switches_credentials_and_a_bad_file_changes_nothing() {
    let pki = Pki::generate();
    let config = |user: &str| format!("basic_auth_users:\n  {user}: '{}'\n", hash(PASSWORD));
    let path = write_config(&pki, &config("alice"));
    let web = Arc::new(WebConfigHandle::from_file(&path).unwrap());
    let server = serve(web.clone());
    let as_user = |user: &str| {
        curl(
            &server,
            false,
            "/metrics",
            &["-u", &format!("{user}:{PASSWORD}")],
        )
        .status
    };
    first_collection(&server, false, &["-u", &format!("alice:{PASSWORD}")]);
    assert_eq!(as_user("alice"), 200);
    assert_eq!(as_user("bob"), 401);

    std::fs::write(&path, config("bob")).unwrap();
    web.reload().unwrap();
    assert_eq!(as_user("bob"), 200);
    assert_eq!(
        as_user("alice"),
        401,
        "the cache must not keep a removed user in"
    );

    std::fs::write(&path, "basic_auth_users:\n  carol: plaintext\n").unwrap();
    let e = web.reload().unwrap_err().to_string();
    assert!(
        e.contains("basic_auth_users.carol") && !e.contains("plaintext"),
        "{e}"
    );
    assert_eq!(as_user("bob"), 200, "the old config stays in force");

    // Turning TLS on takes effect for new connections.
    std::fs::write(
        &path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    )
    .unwrap();
    web.reload().unwrap();
    let ca = pki.path("ca.crt").display().to_string();
    let r = curl(&server, true, "/metrics", &["--cacert", &ca]);
    assert_eq!((r.code, r.status), (0, 200));
    server.stop().unwrap();
}

/// `client_allowed_sans`: a certificate from the trusted CA gets in only with an allowed SAN; reloading the
/// list takes effect for new connections.
#[test]
fn client_allowed_sans_with_curl() {
    let pki = Pki::generate();
    let config = |sans: &str| {
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [{sans}]\n"
        )
    };
    let path = write_config(&pki, &config("grafana, prometheus"));
    let web = Arc::new(WebConfigHandle::from_file(&path).unwrap());
    let server = serve(web.clone());
    let ca = pki.path("ca.crt").display().to_string();
    let with_cert = |name: &str| {
        let (crt, key) = (
            pki.path(&format!("{name}.crt")),
            pki.path(&format!("{name}.key")),
        );
        vec![
            "--cacert".to_owned(),
            ca.clone(),
            "--cert".to_owned(),
            crt.display().to_string(),
            "--key".to_owned(),
            key.display().to_string(),
        ]
    };
    let args = with_cert("client");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ok = first_collection(&server, true, &args);
    assert_eq!((ok.code, ok.status), (0, 200), "SAN prometheus is allowed");

    let rogue = with_cert("rogue");
    let rogue: Vec<&str> = rogue.iter().map(String::as_str).collect();
    let r = curl(&server, true, "/metrics", &rogue);
    assert_ne!(r.code, 0, "an allowed SAN from an untrusted CA is refused");
    let r = curl(&server, true, "/metrics", &["--cacert", &ca]);
    assert_ne!(r.code, 0, "no certificate is refused");

    std::fs::write(&path, config("grafana")).unwrap();
    web.reload().unwrap();
    let r = curl(&server, true, "/metrics", &args);
    assert_ne!(r.code, 0, "SAN prometheus no longer allowed");
    assert_ne!(r.status, 200);
    server.stop().unwrap();
}

/// `rate_limit`: `burst` requests, then 429 until a token comes back; failed logins spend tokens too.
#[test]
fn rate_limit_with_curl() {
    let pki = Pki::generate();
    let config = |limit: &str| {
        format!(
            "{limit}basic_auth_users:\n  alice: '{}'\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
            bcrypt::hash(PASSWORD, 4).unwrap()
        )
    };
    let path = write_config(&pki, &config(""));
    let web = Arc::new(WebConfigHandle::from_file(&path).unwrap());
    let server = serve(web.clone());
    let good = format!("alice:{PASSWORD}");
    first_collection(&server, false, &["-u", &good]);
    // A reload starts a full bucket; the burst is spent well within an interval.
    std::fs::write(&path, config("rate_limit:\n  burst: 3\n  interval: 2s\n")).unwrap();
    web.reload().unwrap();
    assert_eq!(curl(&server, false, "/metrics", &["-u", &good]).status, 200);
    assert_eq!(
        curl(&server, false, "/metrics", &["-u", "alice:wrong"]).status,
        401
    );
    assert_eq!(
        curl(&server, false, "/-/healthy", &["-u", &good]).status,
        200
    );
    let limited = curl(&server, false, "/metrics", &["-u", &good]);
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(
        limited.body.contains("Too Many Requests"),
        "{}",
        limited.body
    );
    assert!(
        limited
            .headers
            .to_ascii_lowercase()
            .contains("x-content-type-options: nosniff"),
        "{}",
        limited.headers
    );
    let back = wait_for(Duration::from_secs(10), "a token to come back", || {
        std::thread::sleep(Duration::from_millis(500));
        let r = curl(&server, false, "/metrics", &["-u", &good]);
        (r.status == 200).then_some(r)
    });
    assert!(back.body.contains("web_test_info"));
    server.stop().unwrap();
}

/// Cipher suites and curves by their Go names, against OpenSSL's curl: P-521 (which ring lacks) works, a
/// curve left out of the list does not, and a list of CBC suites (which rustls lacks) still serves TLS 1.3.
#[test]
fn go_curves_and_suites_with_curl() {
    let pki = Pki::generate();
    let ca = pki.path("ca.crt").display().to_string();
    let path = write_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n  \
         curve_preferences: [CurveP521]\n",
    );
    let web = Arc::new(WebConfigHandle::from_file(&path).unwrap());
    assert!(web.current().warnings().is_empty());
    let server = serve(web.clone());
    let ok = first_collection(&server, true, &["--cacert", &ca, "--curves", "secp521r1"]);
    assert_eq!((ok.code, ok.status), (0, 200));
    let r = curl(
        &server,
        true,
        "/metrics",
        &["--cacert", &ca, "--curves", "X25519"],
    );
    assert_ne!(r.code, 0, "X25519 is not in curve_preferences");

    std::fs::write(
        &path,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n\
         http_server_config:\n  http2: false\n",
    )
    .unwrap();
    web.reload().unwrap();
    assert!(
        web.current()
            .warnings()
            .join("\n")
            .contains("only TLS 1.3 clients can connect"),
        "{:?}",
        web.current().warnings()
    );
    let r = curl(&server, true, "/metrics", &["--cacert", &ca, "--tlsv1.3"]);
    assert_eq!((r.code, r.status), (0, 200));
    let r = curl(
        &server,
        true,
        "/metrics",
        &["--cacert", &ca, "--tls-max", "1.2"],
    );
    assert_ne!(r.code, 0, "no TLS 1.2 suite is left");
    server.stop().unwrap();
}

/// `VerifyClientCertIfGiven` without `client_ca_file` verifies against the system's CA certificates, as Go
/// does: no certificate is fine, one from a private CA the system does not trust is refused.
#[test]
fn client_certificates_without_a_client_ca_use_the_system_roots() {
    let pki = Pki::generate();
    let path = write_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: VerifyClientCertIfGiven\n",
    );
    let server = serve(Arc::new(WebConfigHandle::from_file(&path).unwrap()));
    let ca = pki.path("ca.crt").display().to_string();
    let ok = first_collection(&server, true, &["--cacert", &ca]);
    assert_eq!((ok.code, ok.status), (0, 200), "no client certificate");
    let client = [
        "--cacert",
        &ca,
        "--cert",
        &pki.path("client.crt").display().to_string(),
        "--key",
        &pki.path("client.key").display().to_string(),
    ];
    let r = curl(&server, true, "/metrics", &client);
    assert_ne!(
        r.code, 0,
        "a certificate the system does not trust is refused"
    );
    server.stop().unwrap();
}
