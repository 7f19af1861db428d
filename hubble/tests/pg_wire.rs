//! hubble's own PostgreSQL connection (`targets::pg_wire`) against real servers: answers read by statement,
//! a failing statement in a message, every password exchange, TLS as `sslmode` says, a Unix socket.

use std::time::Duration;

use hubble::targets::pg_wire::{Answer, WireConnection, WireError};
use hubble::targets::postgres::Dsn;
use hubble_test_support as support;
use support::pg::PgCluster;
use support::pki::Pki;

/// Every test bounds its network work: a server that stops answering fails it, not hangs it.
const LIMIT: Duration = Duration::from_secs(20);

/// The first statement's first row's first cell.
fn first_cell(answer: &Answer) -> Option<&str> {
    let row = answer.statement(0)?.iter().next()?;
    row.get(0).expect("a first column")
}

async fn connect(dsn: &str) -> Result<WireConnection, WireError> {
    let dsn: Dsn = dsn.parse().expect("a valid DSN");
    tokio::time::timeout(
        LIMIT,
        WireConnection::connect(&dsn, &[("application_name", "pg_wire test")]),
    )
    .await
    .expect("connected or refused in time")
}

#[tokio::test(flavor = "current_thread")]
async fn a_message_of_statements_is_answered_statement_by_statement() {
    let pg = PgCluster::start(&[]);
    let mut conn = connect(&format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    ))
    .await
    .unwrap();
    assert!(!conn.is_encrypted());
    assert!(conn
        .server_version()
        .starts_with(&(pg.version_num() / 10_000).to_string()));

    let answer = conn
        .query(
            "SET statement_timeout = 2500; \
             SELECT g AS n, CASE WHEN g = 2 THEN NULL ELSE 'v' || g END AS label, 0.1::float8 AS f \
               FROM generate_series(1, 3) g; \
             SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS t; \
             SELECT 1 WHERE false",
        )
        .await
        .unwrap();
    assert_eq!(answer.len(), 4);
    assert!(answer.error().is_none());
    let set = answer.statement(0).unwrap();
    assert_eq!((set.tag(), set.len()), ("SET", 0));
    assert!(set.columns().unwrap().is_empty());

    let rows = answer.statement(1).unwrap();
    assert_eq!(rows.tag(), "SELECT 3");
    assert_eq!(rows.columns().unwrap(), ["n", "label", "f"]);
    assert_eq!(
        rows.column_types().unwrap(),
        [23, 25, 701],
        "int4, text, float8"
    );
    let label = rows.column("label").unwrap().unwrap();
    let cells: Vec<Vec<Option<&str>>> = rows
        .iter()
        .map(|r| r.cells().collect::<Result<_, _>>().unwrap())
        .collect();
    assert_eq!(
        cells,
        [
            [Some("1"), Some("v1"), Some("0.1")],
            [Some("2"), None, Some("0.1")],
            [Some("3"), Some("v3"), Some("0.1")],
        ],
        "every value as text, NULL as None, floats in their shortest exact form"
    );
    assert_eq!(rows.iter().nth(2).unwrap().get(label).unwrap(), Some("v3"));
    assert!(
        rows.iter().next().unwrap().get(3).is_err(),
        "no fourth column"
    );

    let session = answer.statement(2).unwrap();
    let row = session.iter().next().unwrap();
    assert_eq!(row.get(0).unwrap(), Some("pg_wire test"));
    assert_eq!(
        row.get(1).unwrap(),
        Some("2500ms"),
        "the SET earlier in the message holds"
    );
    assert_eq!(answer.statement(3).unwrap().len(), 0);
    assert!(answer.statement(4).is_none());
    drop(answer);

    assert!(!conn.ended_by_server(), "a session waiting between queries");
    // A failing statement ends the message there: the rows before it, its error, nothing after.
    let answer = conn
        .query("SELECT 1 AS one; SELECT * FROM no_such_table; SELECT 3")
        .await
        .unwrap();
    assert_eq!(answer.len(), 1);
    assert_eq!(first_cell(&answer), Some("1"));
    let error = answer.error().expect("the second statement's error");
    assert_eq!(
        (error.severity.as_str(), error.code.as_str()),
        ("ERROR", "42P01")
    );
    assert!(error.message.contains("no_such_table"), "{error}");

    // The connection goes on after a statement's error, and the message's implicit transaction was rolled
    // back with it.
    let answer = conn
        .query("SET statement_timeout = 1000; SELECT 1/0")
        .await
        .unwrap();
    assert_eq!(
        (answer.len(), answer.error().unwrap().code.as_str()),
        (1, "22012")
    );
    let answer = conn
        .query("SELECT current_setting('statement_timeout')")
        .await
        .unwrap();
    assert_eq!(first_cell(&answer), Some("2500ms"));
    // An empty statement is answered too.
    let answer = conn.query(";").await.unwrap();
    assert_eq!((answer.len(), answer.statement(0).unwrap().tag()), (1, ""));
    conn.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_large_answer_and_a_query_cut_short() {
    let pg = PgCluster::start(&[]);
    let dsn = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let mut conn = connect(&dsn).await.unwrap();
    // Rows arrive over many reads: 20,000 rows of about 100 bytes.
    let answer = conn
        .query("SELECT g, repeat('x', 90) FROM generate_series(1, 20000) g")
        .await
        .unwrap();
    let rows = answer.statement(0).unwrap();
    assert_eq!(rows.len(), 20_000);
    let last: i64 = rows
        .iter()
        .last()
        .unwrap()
        .get(0)
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last, 20_000);
    assert!(answer.bytes() > 2_000_000);

    // A query whose future is dropped half way leaves the stream out of step: the connection says so and
    // refuses the next query rather than reading the old answer as the new one.
    let cut =
        tokio::time::timeout(Duration::from_millis(100), conn.query("SELECT pg_sleep(2)")).await;
    assert!(cut.is_err(), "still waiting for the sleep");
    assert!(conn.is_broken());
    let refused = conn.query("SELECT 1").await.unwrap_err();
    assert!(refused.to_string().contains("cut short"), "{refused}");

    // Over the server's Unix socket (a host that is a directory).
    let socket = format!(
        "host={} port={} user=postgres dbname=postgres",
        pg.dir().display(),
        pg.port
    );
    let mut conn = connect(&socket).await.unwrap();
    let answer = conn
        .query("SELECT inet_client_addr() IS NULL")
        .await
        .unwrap();
    assert_eq!(first_cell(&answer), Some("t"));
    // Ended by the server while it waits: the connection says so without a query.
    assert!(!conn.ended_by_server());
    pg.psql(
        "postgres",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_wire test'",
    );
    support::wait_for_async(LIMIT, "the server's goodbye", || {
        conn.ended_by_server().then_some(())
    })
    .await;
    conn.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn every_password_exchange_and_tls_as_sslmode_says() {
    let pki = Pki::generate();
    let pg = PgCluster::start_tls(&pki, "server");
    // An MD5 user too: its password stored as MD5 and `md5` in pg_hba.conf, ahead of the rest.
    pg.psql(
        "postgres",
        "SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5-Pa55'",
    );
    let hba = pg.dir().join("data/pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("hostssl all md5user 127.0.0.1/32 md5\n{rules}"),
    )
    .unwrap();
    pg.psql("postgres", "SELECT pg_reload_conf()");
    let port = pg.port;
    let ca = pki.path("ca.crt");
    let ca = ca.display();

    let whoami = |mut conn: WireConnection| async move {
        assert!(conn.is_encrypted());
        // Kept between queries, a TLS session is not taken for one the server ended (what TLS 1.3 sends
        // after the handshake is read with the first answer).
        for _ in 0..2 {
            conn.query("SELECT 1").await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!conn.ended_by_server());
        }
        let answer = conn.query("SELECT current_user").await.unwrap();
        let user = first_cell(&answer).unwrap().to_owned();
        conn.close().await;
        user
    };
    for (user, password) in [
        ("scramuser", "scram-Pa55"),
        ("clearuser", "clear-Pa55"),
        ("md5user", "md5-Pa55"),
    ] {
        let dsn =
            format!("postgresql://{user}:{password}@127.0.0.1:{port}/postgres?sslmode=require");
        let conn = connect(&dsn)
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(whoami(conn).await, user);

        let dsn = format!("postgresql://{user}:wrong@127.0.0.1:{port}/postgres?sslmode=require");
        match connect(&dsn).await.unwrap_err() {
            WireError::Server(e) => assert_eq!(e.code, "28P01", "{user}: {e}"),
            other => panic!("{user} with a wrong password: {other}"),
        }
        let dsn = format!("postgresql://{user}@127.0.0.1:{port}/postgres?sslmode=require");
        let none = connect(&dsn).await.unwrap_err();
        assert!(
            matches!(none, WireError::Auth(_)),
            "{user} without a password: {none}"
        );
    }

    // The server's certificate checked: against the CA, and for its name.
    let dsn = format!(
        "postgresql://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
    );
    assert_eq!(whoami(connect(&dsn).await.unwrap()).await, "postgres");
    let rogue = pki.path("rogue.crt");
    let dsn = format!(
        "postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=verify-ca&sslrootcert={}",
        rogue.display()
    );
    let refused = connect(&dsn).await.unwrap_err();
    assert!(
        matches!(refused, WireError::Tls(_)),
        "a CA that did not sign it: {refused}"
    );

    // A client certificate for `cert` authentication.
    let dsn = format!(
        "postgresql://certuser@127.0.0.1:{port}/postgres?sslmode=verify-ca&sslrootcert={ca}&sslcert={}&sslkey={}",
        pki.path("certuser.crt").display(),
        pki.path("certuser.key").display()
    );
    assert_eq!(whoami(connect(&dsn).await.unwrap()).await, "certuser");

    // This server has no rule for connections in clear.
    let dsn = format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
    match connect(&dsn).await.unwrap_err() {
        WireError::Server(e) => assert_eq!(e.code, "28000", "{e}"),
        other => panic!("in clear: {other}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_without_tls_under_each_sslmode() {
    let pg = PgCluster::start(&[]);
    let port = pg.port;
    let prefer = connect(&format!(
        "postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=prefer"
    ))
    .await
    .unwrap();
    assert!(
        !prefer.is_encrypted(),
        "prefer takes what the server offers"
    );
    let pki = Pki::generate();
    let ca = pki.path("ca.crt");
    for mode in [
        "require",
        &format!("verify-full&sslrootcert={}", ca.display()),
    ] {
        let refused = connect(&format!(
            "postgresql://postgres@localhost:{port}/postgres?sslmode={mode}"
        ))
        .await
        .unwrap_err();
        assert!(
            matches!(&refused, WireError::Tls(m) if m.contains("does not offer TLS")),
            "{mode}: {refused}"
        );
    }
    let refused = connect(&format!(
        "postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=sometimes"
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&refused, WireError::Settings(m) if m.contains("sslmode")),
        "{refused}"
    );
    let (_socket, closed) = support::refused_port();
    let refused = connect(&format!(
        "postgresql://postgres@127.0.0.1:{closed}/postgres"
    ))
    .await
    .unwrap_err();
    assert!(matches!(refused, WireError::Connect(_)), "{refused}");
}
