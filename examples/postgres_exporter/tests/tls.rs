//! TLS to a PostgreSQL that accepts only TLS (`ssl=on`, `hostssl` lines only), with certificates made here:
//! libpq's `sslmode`, `sslrootcert`, `sslcert` and `sslkey`, in the DSN as postgres_exporter users write it.

mod running;

use hubble_test_support as support;

use std::time::Duration;

use postgres_exporter::app::Targets;
use postgres_exporter::connection::{Connect as _, Dsn};
use postgres_exporter::{Collection, Schedule};
use running::Running;
use support::pg::PgCluster;
use support::pki::Pki;
use support::{get, wait_showing};

fn dsn(pg: &PgCluster, user: &str, params: &str) -> Dsn {
    format!(
        "postgresql://{user}@127.0.0.1:{}/postgres?{params}",
        pg.port
    )
    .parse()
    .unwrap()
}

/// An exporter of `targets` collecting every second: a TLS handshake in a debug build takes longer than
/// the other tests' 300 ms timeout.
fn start(targets: Targets) -> Running {
    let collection = Collection {
        schedule: Schedule {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            ..Schedule::default()
        },
        ..running::test_collection()
    };
    Running::start_collection(targets, collection)
}

/// Waits for `pg_up` to be `want`; with `want` 0, also for the status page to show an error containing
/// `reason`, and returns that page.
fn wait_up(exporter: &Running, want: u8, reason: &str) -> String {
    wait_showing(Duration::from_secs(30), "pg_up and the reason", || {
        let body = get(exporter.addr, "/metrics", &[])
            .map(|r| r.text())
            .unwrap_or_default();
        let up = body
            .lines()
            .any(|l| l.starts_with("pg_up{") && l.ends_with(&format!(" {want}")));
        let page = get(exporter.addr, "/", &[])
            .map(|r| r.text())
            .unwrap_or_default();
        if up && page.contains(reason) {
            Ok(page)
        } else {
            Err(format!("{body}\n{page}"))
        }
    })
}

/// The exporter's own connections that the server says are encrypted.
fn encrypted_connections(pg: &PgCluster) -> usize {
    pg.count(
        "postgres",
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE application_name = 'hubble_postgres_exporter' AND ssl",
    )
}

#[test]
fn verified_tls_works_and_each_failure_is_named() {
    let pki = Pki::generate();
    let pg = PgCluster::start_tls(&pki, "server");
    let ca = pki.path("ca.crt");

    // verify-full with the CA: up, over TLS.
    let exporter = start(Targets::Single(dsn(
        &pg,
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    )));
    // The status page shows the link as the server sees it.
    wait_up(
        &exporter,
        1,
        "Connection: <span class=\"up\">encrypted, verified (verify-full)</span>",
    );
    assert!(encrypted_connections(&pg) >= 1);
    // And says so, for an alert on a plaintext link.
    let body = get(exporter.addr, "/metrics", &[]).unwrap().text();
    assert!(
        body.lines().any(|l| l.starts_with("hubble_target_tls{")
            && l.contains("mode=\"verify-full\"")
            && l.ends_with(" 1")),
        "{body}"
    );
    exporter.stop();

    // verify-ca with the CA.
    let exporter = start(Targets::Single(dsn(
        &pg,
        "postgres",
        &format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
    )));
    wait_up(&exporter, 1, "");
    exporter.stop();

    // require: encrypted, the certificate not checked (a self-signed one would do).
    let exporter = start(Targets::Single(dsn(&pg, "postgres", "sslmode=require")));
    wait_up(&exporter, 1, "encrypted, not verified (require)");
    exporter.stop();

    // disable: the server refuses a connection without encryption, and says so.
    let exporter = start(Targets::Single(dsn(&pg, "postgres", "sslmode=disable")));
    // "no encryption" from PostgreSQL 14 on, "SSL off" before: the server refused it either way.
    wait_up(&exporter, 0, "no pg_hba.conf entry");
    exporter.stop();

    // A CA that did not sign the server's certificate.
    let exporter = start(Targets::Single(dsn(
        &pg,
        "postgres",
        &format!(
            "sslmode=verify-ca&sslrootcert={}",
            pki.path("rogue.crt").display()
        ),
    )));
    let page = wait_up(&exporter, 0, "invalid peer certificate");
    assert!(page.contains("UnknownIssuer"), "{page}");
    exporter.stop();

    // A client certificate for the user pg_hba.conf authenticates by certificate (method cert)...
    let exporter = start(Targets::Single(dsn(
        &pg,
        "certuser",
        &format!(
            "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
            ca.display(),
            pki.path("certuser.crt").display(),
            pki.path("certuser.key").display()
        ),
    )));
    wait_up(&exporter, 1, "");
    exporter.stop();
    // ...and without it, the server says what is missing.
    let exporter = start(Targets::Single(dsn(
        &pg,
        "certuser",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    )));
    wait_up(&exporter, 0, "certificate");
    exporter.stop();
}

#[test]
fn a_certificate_for_another_name_fails_verify_full() {
    let pki = Pki::generate();
    // The server presents a certificate for db.example.com, signed by the trusted CA.
    let pg = PgCluster::start_tls(&pki, "elsewhere");
    let ca = pki.path("ca.crt");
    let exporter = start(Targets::Single(dsn(
        &pg,
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    )));
    let page = wait_up(&exporter, 0, "invalid peer certificate");
    assert!(page.contains("certificate not valid for name"), "{page}");
    exporter.stop();
    // libpq's verify-ca would accept this certificate (the issuer is trusted; the name is not checked); sqlx
    // 0.8.6 checks the name too with rustls 0.23.24 and later (launchbadge/sqlx#3793): stricter, not weaker.
}

#[test]
fn tls_settings_are_read_from_every_form_a_dsn_takes() {
    let url: Dsn = "postgresql://u@h:5432/d?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem"
        .parse()
        .unwrap();
    let kv: Dsn = "host=h port=5432 user=u dbname=d sslmode=verify-full sslrootcert=/ca.pem sslcert=/c.pem sslkey=/k.pem"
        .parse()
        .unwrap();
    assert_eq!(url, kv);
    assert_eq!(url.sslrootcert.as_deref(), Some("/ca.pem"));
    assert_eq!(url.sslkey.as_deref(), Some("/k.pem"));
    // Exporter options (file_sd __param_<name>, Consul KV) fill what the address lacks.
    let options = [
        ("sslmode", "verify-ca"),
        ("sslrootcert", "/ca2.pem"),
        ("sslcert", "/c2.pem"),
        ("sslkey", "/k2.pem"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let discovered = "10.0.0.1:5432"
        .parse::<Dsn>()
        .unwrap()
        .with_options(&options);
    assert_eq!(discovered.sslmode.as_deref(), Some("verify-ca"));
    assert_eq!(discovered.sslcert.as_deref(), Some("/c2.pem"));
    assert!(discovered.requires_tls());
    // sslrootcert=system is verify-full, as in libpq 16; a weaker mode with it is refused.
    let system: Dsn = "postgresql://u@h/d?sslrootcert=system".parse().unwrap();
    assert!(system.requires_tls());
    assert!(system.startup_options(Duration::from_secs(1)).is_ok());
    let weak: Dsn = "postgresql://u@h/d?sslrootcert=system&sslmode=require"
        .parse()
        .unwrap();
    let err = weak.startup_options(Duration::from_secs(1)).unwrap_err();
    assert!(
        err.contains("sslrootcert=system needs sslmode=verify-full"),
        "{err}"
    );
    let half: Dsn = "postgresql://u@h/d?sslcert=/c.pem".parse().unwrap();
    assert!(half
        .startup_options(Duration::from_secs(1))
        .unwrap_err()
        .contains("sslcert and sslkey go together"));
    // Through /probe's password guard sqlx speaks in clear over the guard's private socket; the guard makes
    // the TLS connection the DSN asks for, and requires it where the DSN does.
    let guard = std::path::Path::new("/tmp");
    let required: Dsn = "postgresql://u:pw@h/d?sslmode=require".parse().unwrap();
    let relayed = required
        .options(Duration::from_secs(1), Some(guard))
        .unwrap();
    assert!(matches!(
        relayed.get_ssl_mode(),
        sqlx::postgres::PgSslMode::Disable
    ));
    let tls = required.tls_client().unwrap().expect("TLS for require");
    assert!(tls.required && tls.verify == hubble::targets::tls::Verify::Nothing);
    let preferred: Dsn = "postgresql://u:pw@h/d".parse().unwrap();
    let tls = preferred.tls_client().unwrap().expect("TLS when offered");
    assert!(!tls.required);
    let plain: Dsn = "postgresql://u:pw@h/d?sslmode=disable".parse().unwrap();
    assert!(plain.tls_client().unwrap().is_none());
    // libpq checks the chain under require when a CA file is given.
    let pki = Pki::generate();
    let ca = pki.path("ca.crt");
    let chained: Dsn = format!(
        "postgresql://u@h/d?sslmode=require&sslrootcert={}",
        ca.display()
    )
    .parse()
    .unwrap();
    assert_eq!(
        chained.tls_client().unwrap().unwrap().verify,
        hubble::targets::tls::Verify::Chain
    );
    // Paths are no secret: the redacted form keeps them, and never the password.
    let with_password: Dsn = "postgresql://u:pw@h/d?sslmode=require&sslrootcert=/ca.pem"
        .parse()
        .unwrap();
    let shown = with_password.redacted();
    assert!(
        shown.contains("sslrootcert=/ca.pem") && !shown.contains("pw"),
        "{shown}"
    );
}

/// A file_sd target whose `__param_<name>` labels carry its TLS settings: verified with the CA they name, and a
/// client certificate for the `cert`-authenticated user; one without them is refused by the server.
#[test]
fn discovered_targets_take_their_tls_settings_from_their_labels() {
    let pki = Pki::generate();
    let pg = PgCluster::start_tls(&pki, "server");
    let file = pg.dir().join("targets.yml");
    let target = format!("127.0.0.1:{}", pg.port);
    std::fs::write(
        &file,
        format!(
            "- targets: ['{target}']\n  labels: {{env: tls, __param_user: certuser, __param_dbname: postgres, \
             __param_sslmode: verify-full, __param_sslrootcert: '{ca}', __param_sslcert: '{cert}', \
             __param_sslkey: '{key}'}}\n",
            ca = pki.path("ca.crt").display(),
            cert = pki.path("certuser.crt").display(),
            key = pki.path("certuser.key").display(),
        ),
    )
    .unwrap();
    let exporter = start(Targets::File(file.clone()));
    let body = exporter.wait_metrics("the discovered target up over TLS", |b| {
        b.lines()
            .any(|l| l.starts_with("pg_up{") && l.contains("env=\"tls\"") && l.ends_with(" 1"))
    });
    assert!(
        body.lines().any(|l| l.starts_with("hubble_target_tls{")
            && l.contains("mode=\"verify-full\"")
            && l.ends_with(" 1")),
        "{body}"
    );
    // The same target without TLS settings: the server's hostssl-only pg_hba refuses it.
    std::fs::write(
        &file,
        format!("- targets: ['{target}']\n  labels: {{env: plain, __param_sslmode: disable}}\n"),
    )
    .unwrap();
    exporter.wait_metrics("the plaintext target refused", |b| {
        b.lines()
            .any(|l| l.starts_with("pg_up{") && l.contains("env=\"plain\"") && l.ends_with(" 0"))
    });
    exporter.stop();
}
