//! `/probe` as an attacker on the scrape network would use it: it reaches only allowed servers, and the
//! operator's password never goes to a server that asks for it in cleartext.

mod running;

use hubble_test_support as support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres_exporter::app::{Config, Targets};
use postgres_exporter::auth_guard::AuthGuard;
use postgres_exporter::connection::{Connect as _, Dsn};
use running::{config, dsn, test_collection, Running};
use support::pg::PgCluster;
use support::{get, post, wait_for};

const OPERATOR_PASSWORD: &str = "operator-Pa55-s3cret";

/// A server that asks every client for its password in cleartext and keeps all it is sent.
struct StandIn {
    port: u16,
    seen: Arc<Mutex<Vec<u8>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StandIn {
    fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, connections, stop) = Default::default();
        let thread = std::thread::spawn({
            let (seen, connections, stop): (
                Arc<Mutex<Vec<u8>>>,
                Arc<AtomicUsize>,
                Arc<AtomicBool>,
            ) = (
                Arc::clone(&seen),
                Arc::clone(&connections),
                Arc::clone(&stop),
            );
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((mut conn, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    connections.fetch_add(1, Ordering::Relaxed);
                    conn.set_nonblocking(false).unwrap();
                    conn.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    // Whatever the client sends first (its startup message), then the request for a
                    // cleartext password, then everything it sends until it closes or goes quiet.
                    let mut buf = [0u8; 4096];
                    if let Ok(n) = conn.read(&mut buf) {
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = conn.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                }
            }
        });
        StandIn {
            port,
            seen,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn received(&self, secret: &str) -> bool {
        let seen = self.seen.lock().unwrap();
        seen.windows(secret.len()).any(|w| w == secret.as_bytes())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `GET /probe?target=...` of `exporter`.
fn probe(exporter: &Running, target: &str) -> support::Response {
    get(exporter.addr, &format!("/probe?target={target}"), &[]).unwrap()
}

fn probe_only(password: &str) -> Config {
    let mut c = config(Targets::ProbeOnly, test_collection());
    c.defaults.password = Some(password.into());
    c
}

#[test]
fn a_target_nobody_allowed_gets_403_and_no_connection() {
    let stand_in = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed");
    std::fs::write(&allowed, "# nothing yet\n").unwrap();
    let mut c = probe_only(OPERATOR_PASSWORD);
    c.probe.allowed_targets_file = Some(allowed.clone());
    c.enable_lifecycle = true;
    let exporter = Running::start_config(c);
    let caller_password = "caller-Pa55-s3cret";
    for target in [
        stand_in.target(),
        format!(
            "postgresql%3A%2F%2Fu%3A{caller_password}%40127.0.0.1%3A{}%2Fdb",
            stand_in.port
        ),
    ] {
        let r = get(exporter.addr, &format!("/probe?target={target}"), &[]).unwrap();
        assert_eq!(r.status, 403, "{}", r.text());
        let body = r.text();
        assert_eq!(
            body,
            format!(
                "target {} is not allowed: it matches no --probe.allowed-targets pattern and is not a discovered target\n",
                stand_in.target()
            )
        );
        assert!(!body.contains(OPERATOR_PASSWORD) && !body.contains(caller_password));
    }
    // Refused before anything was created, so nothing can connect later either.
    assert_eq!(stand_in.connections.load(Ordering::Relaxed), 0);
    let metrics = get(exporter.addr, "/metrics", &[]).unwrap().text();
    assert!(
        metrics.contains("hubble_probes_refused_total{reason=\"not_allowed\"} 2"),
        "{metrics}"
    );
    // The operator opens it up in the file and reloads: the target is reached (and then guarded).
    std::fs::write(&allowed, format!("{}\n", stand_in.target())).unwrap();
    assert_eq!(post(exporter.addr, "/-/reload").unwrap().status, 200);
    let r = probe(&exporter, &stand_in.target());
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for(
        Duration::from_secs(10),
        "a connection to the stand-in",
        || (stand_in.connections.load(Ordering::Relaxed) > 0).then_some(()),
    );
    exporter.stop();
    assert!(!stand_in.received(OPERATOR_PASSWORD));
}

#[test]
fn an_allowed_server_asking_for_a_cleartext_password_does_not_get_it() {
    let stand_in = StandIn::start();
    let mut c = probe_only(OPERATOR_PASSWORD);
    c.probe.allowed_targets = vec![stand_in.target().parse().unwrap()];
    let exporter = Running::start_config(c);
    let r = probe(&exporter, &stand_in.target());
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(
        body.contains(&format!("pg_up{{server=\"{}\"}} 0", stand_in.target())),
        "{body}"
    );
    assert!(!body.contains(OPERATOR_PASSWORD));
    wait_for(
        Duration::from_secs(10),
        "a connection to the stand-in",
        || (stand_in.connections.load(Ordering::Relaxed) > 0).then_some(()),
    );
    exporter.stop();
    assert!(
        stand_in.seen.lock().unwrap().len() > 8,
        "the stand-in saw the startup message"
    );
    assert!(!stand_in.received(OPERATOR_PASSWORD));
}

#[tokio::test]
async fn the_guard_says_why_it_cut_a_connection() {
    use sqlx::ConnectOptions as _;
    let stand_in = StandIn::start();
    let guard = AuthGuard::start(
        "127.0.0.1",
        stand_in.port,
        None,
        Duration::from_secs(5),
        &tokio::runtime::Handle::current(),
    )
    .unwrap();
    let dsn: Dsn = format!(
        "postgresql://postgres:{OPERATOR_PASSWORD}@{}/postgres?sslmode=disable",
        stand_in.target()
    )
    .parse()
    .unwrap();
    let options = dsn
        .startup_options(Duration::from_secs(5))
        .unwrap()
        .socket(guard.socket_dir());
    let error = options.connect().await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "hubble refused to send the password to {}: it asked for the password in cleartext",
            stand_in.target()
        )),
        "{error}"
    );
    let socket_dir = guard.socket_dir().to_owned();
    drop(guard);
    assert!(
        !socket_dir.exists(),
        "the relay's socket is removed with it"
    );
    // And a target that refuses connections is named with the reason.
    let (_reserved, port) = support::refused_port();
    let guard = AuthGuard::start(
        "127.0.0.1",
        port,
        None,
        Duration::from_secs(5),
        &tokio::runtime::Handle::current(),
    )
    .unwrap();
    let error = options
        .clone()
        .socket(guard.socket_dir())
        .port(port)
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("connecting to 127.0.0.1:{port}: ")),
        "{error}"
    );
    drop(stand_in);
}

/// Connects as `user` with `password` to `pg` through a guard made for `params`; whether the link the server
/// sees is encrypted, or the error.
async fn through_guard(
    pg: &PgCluster,
    user: &str,
    password: &str,
    params: &str,
) -> Result<bool, String> {
    use sqlx::ConnectOptions as _;
    let dsn: Dsn = format!(
        "postgresql://{user}:{password}@127.0.0.1:{}/postgres?{params}",
        pg.port
    )
    .parse()
    .unwrap();
    let guard = AuthGuard::start(
        &dsn.host,
        dsn.port,
        dsn.tls_client()?,
        Duration::from_secs(10),
        &tokio::runtime::Handle::current(),
    )
    .unwrap();
    let mut conn = dsn
        .startup_options(Duration::from_secs(10))?
        .socket(guard.socket_dir())
        .ssl_mode(sqlx::postgres::PgSslMode::Disable)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    Ok(ssl)
}

/// The guard behind TLS: the relay makes the TLS connection the DSN asks for (sqlx reaches it in clear), a
/// server asking for the password in cleartext gets it only once `verify-full` authenticated it, and a
/// failed handshake is named with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_speaks_tls_and_gives_a_cleartext_password_only_to_a_verified_server() {
    let pki = support::pki::Pki::generate();
    let pg = PgCluster::start_tls(&pki, "server");
    let ca = format!("sslrootcert={}", pki.path("ca.crt").display());
    // SCRAM over TLS, whatever is verified: the password is never shown to the server.
    assert_eq!(
        through_guard(&pg, "scramuser", "scram-Pa55", "sslmode=require").await,
        Ok(true)
    );
    assert_eq!(
        through_guard(&pg, "scramuser", "scram-Pa55", "sslmode=prefer").await,
        Ok(true)
    );
    // Cleartext over TLS to a server nobody verified: refused, the reason named.
    let error = through_guard(&pg, "clearuser", "clear-Pa55", "sslmode=require")
        .await
        .unwrap_err();
    assert!(
        error.contains("hubble refused to send the password") && error.contains("cleartext"),
        "{error}"
    );
    let error = through_guard(
        &pg,
        "clearuser",
        "clear-Pa55",
        &format!("sslmode=verify-ca&{ca}"),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("cleartext"),
        "verify-ca does not check the name: {error}"
    );
    // The same server verified by its CA and name: it may have it.
    assert_eq!(
        through_guard(
            &pg,
            "clearuser",
            "clear-Pa55",
            &format!("sslmode=verify-full&{ca}")
        )
        .await,
        Ok(true)
    );
    // A CA that did not sign the server's certificate; a server without TLS where TLS is required.
    let other = support::pki::Pki::generate();
    let error = through_guard(
        &pg,
        "scramuser",
        "scram-Pa55",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            other.path("ca.crt").display()
        ),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains(&format!("TLS handshake with 127.0.0.1:{} (sslmode=verify-full)", pg.port))
            // The other CA has the same name, so its signature is what fails.
            && error.contains("invalid peer certificate"),
        "{error}"
    );
    let plain = PgCluster::start(&[]);
    let error = through_guard(&plain, "postgres", "x", "sslmode=require")
        .await
        .unwrap_err();
    assert!(
        error.contains("does not offer TLS, which sslmode=require requires"),
        "{error}"
    );
}

/// `/probe` of a DSN that requires TLS, with a password: through the guard, encrypted, and said so.
#[test]
fn a_probed_target_that_requires_tls_is_reached_through_the_guard() {
    let pki = support::pki::Pki::generate();
    let pg = PgCluster::start_tls(&pki, "server");
    let collection = postgres_exporter::Collection {
        schedule: postgres_exporter::Schedule {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            ..postgres_exporter::Schedule::default()
        },
        ..test_collection()
    };
    let mut c = config(Targets::ProbeOnly, collection);
    c.probe.allowed_targets = vec!["127.0.0.0/8:*".parse().unwrap()];
    let exporter = Running::start_config(c);
    let target = format!(
        "postgresql%3A%2F%2Fscramuser%3Ascram-Pa55%40127.0.0.1%3A{}%2Fpostgres%3Fsslmode%3Drequire",
        pg.port
    );
    // The first probe waits for the first collection, bounded; on a loaded machine a debug build's TLS
    // handshakes may take longer, and the next probes read the cache.
    let body = support::wait_showing(Duration::from_secs(30), "pg_up 1 through /probe", || {
        let r = probe(&exporter, &target);
        let body = r.text();
        let up = r.status == 200
            && body
                .lines()
                .any(|l| l.starts_with("pg_up{") && l.ends_with(" 1"));
        if up {
            Ok(body)
        } else {
            Err(format!("{}: {body}", r.status))
        }
    });
    assert!(
        body.lines().any(|l| l.starts_with("hubble_target_tls{")
            && l.contains("mode=\"require\"")
            && l.ends_with(" 1")),
        "{body}"
    );
    exporter.stop();
}

#[test]
fn with_insecure_auth_allowed_the_stand_in_does_get_it() {
    // The same as above with the guard turned off: proves the stand-in would see a password sent.
    let stand_in = StandIn::start();
    let mut c = probe_only(OPERATOR_PASSWORD);
    c.probe.allowed_targets = vec!["127.0.0.0/8:*".parse().unwrap()];
    c.probe.allow_insecure_auth = true;
    let exporter = Running::start_config(c);
    let r = probe(&exporter, &stand_in.target());
    assert_eq!(r.status, 200);
    wait_for(
        Duration::from_secs(10),
        "the password at the stand-in",
        || stand_in.received(OPERATOR_PASSWORD).then_some(()),
    );
    exporter.stop();
}

#[test]
fn auth_modules_work_end_to_end_for_known_targets() {
    let pg = PgCluster::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postgres_exporter.yml");
    std::fs::write(
        &file,
        "auth_modules:\n  mon:\n    type: userpass\n    userpass:\n      username: postgres\n      password: module-Pa55\n    options:\n      sslmode: disable\n",
    )
    .unwrap();
    // No allowlist: the exporter's own target may be probed, nothing else.
    let mut c = config(Targets::Single(dsn(&pg, "postgres")), test_collection());
    c.probe.auth_config_file = Some(file);
    let exporter = Running::start_config(c);
    let target = format!("127.0.0.1:{}", pg.port);
    // The module's password makes the connections go through the guard; trust auth lets them in.
    let r = get(
        exporter.addr,
        &format!("/probe?target={target}&auth_module=mon"),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .contains(&format!("pg_up{{server=\"{target}\"}} 1")),
        "{}",
        r.text()
    );
    let r = get(
        exporter.addr,
        &format!("/probe?target={target}&auth_module=nope"),
        &[],
    )
    .unwrap();
    assert_eq!(
        (r.status, r.text()),
        (400, "auth_module nope not found\n".into())
    );
    let other = support::refused_port();
    let r = get(
        exporter.addr,
        &format!("/probe?target=127.0.0.1:{}&auth_module=mon", other.1),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 403);
    assert!(!r.text().contains("module-Pa55"));
    exporter.stop();
}
