//! A throwaway PgBouncer for tests, in front of a [`PgCluster`](super::pg::PgCluster): a config in a temporary
//! directory, `pgbouncer` on a free loopback port, trust authentication for the users given; killed and
//! removed on drop. Debian's `pgbouncer` package.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::KillOnDrop;

/// A running throwaway PgBouncer.
pub struct PgBouncer {
    /// Its loopback port.
    pub port: u16,
    // Dropped first: the process stops before its directory goes.
    _process: KillOnDrop,
    dir: tempfile::TempDir,
}

impl PgBouncer {
    /// Pools `databases` (names of databases on the server at 127.0.0.1:`server_port`) for `users`, with
    /// `admin` (one of them) allowed on the admin console; panics with its log if it does not listen within
    /// 30 s.
    pub fn start(server_port: u16, databases: &[&str], users: &[&str], admin: &str) -> PgBouncer {
        PgBouncer::start_with(server_port, databases, users, admin, None)
    }

    /// [`start`](Self::start), accepting clients only over TLS (`client_tls_sslmode = require`) with the
    /// certificate `server.crt` of `pki` (for localhost and 127.0.0.1).
    pub fn start_tls(
        server_port: u16,
        databases: &[&str],
        users: &[&str],
        admin: &str,
        pki: &super::pki::Pki,
    ) -> PgBouncer {
        PgBouncer::start_with(server_port, databases, users, admin, Some(pki))
    }

    fn start_with(
        server_port: u16,
        databases: &[&str],
        users: &[&str],
        admin: &str,
        tls: Option<&super::pki::Pki>,
    ) -> PgBouncer {
        let dir = tempfile::Builder::new()
            .prefix("hubble-pgbouncer-")
            .tempdir()
            .unwrap();
        let port = super::free_addr().port();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut ini = String::from("[databases]\n");
        for db in databases {
            ini.push_str(&format!(
                "{db} = host=127.0.0.1 port={server_port} dbname={db}\n"
            ));
        }
        ini.push_str(&format!(
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {}\nadmin_users = {admin}\npool_mode = session\n\
             logfile = {}\npidfile = {}\nmax_client_conn = 50\ndefault_pool_size = 5\n",
            path("users.txt"),
            path("pgbouncer.log"),
            path("pgbouncer.pid"),
        ));
        if let Some(pki) = tls {
            for file in ["server.crt", "server.key"] {
                std::fs::copy(pki.path(file), dir.path().join(file)).unwrap();
            }
            ini.push_str(&format!(
                "client_tls_sslmode = require\nclient_tls_cert_file = {}\nclient_tls_key_file = {}\n",
                path("server.crt"),
                path("server.key"),
            ));
        }
        std::fs::write(dir.path().join("pgbouncer.ini"), ini).unwrap();
        let users: String = users.iter().map(|u| format!("\"{u}\" \"\"\n")).collect();
        std::fs::write(dir.path().join("users.txt"), users).unwrap();
        // Debian installs it in /usr/sbin, which a user's PATH may lack.
        let program = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("pgbouncer");
        let mut command = Command::new(program);
        // PgBouncer refuses to run as root.
        super::pg::as_postgres(&mut command, dir.path());
        let process = command
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer not found (Debian package `pgbouncer`, see scripts/test.sh)");
        let bouncer = PgBouncer {
            port,
            _process: KillOnDrop::new(process),
            dir,
        };
        let until = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > until {
                panic!("pgbouncer did not listen within 30 s: {}", bouncer.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    /// A URL for `db` (a pooled database, or `pgbouncer` for the admin console) as `user`.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Its pid file.
    pub fn pid_file(&self) -> std::path::PathBuf {
        self.dir.path().join("pgbouncer.pid")
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}
