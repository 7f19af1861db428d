//! A throwaway MariaDB server for tests: `mariadb-install-db` into a temporary directory, `mariadbd` on a free
//! loopback port, root without a password; killed and removed on drop. Debian's `mariadb-server` package.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::KillOnDrop;

/// A running throwaway server.
pub struct MariaDb {
    /// Its loopback port.
    pub port: u16,
    // Dropped first: the server stops before its directory goes.
    _server: KillOnDrop,
    dir: tempfile::TempDir,
}

impl MariaDb {
    /// Initialises a data directory and starts the server; panics with the server's log if it does not
    /// answer within 30 s.
    pub fn start() -> MariaDb {
        MariaDb::start_with(&[])
    }

    /// [`start`](Self::start) with more server options (`--log-bin`, `--server-id=2`, ...), given last so
    /// they override the defaults.
    pub fn start_with(options: &[&str]) -> MariaDb {
        let dir = tempfile::Builder::new()
            .prefix("hubble-mariadb-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        // Each server its own temporary directory: bootstraps run at once (tests in threads) otherwise share
        // /tmp, and one failed with "Unknown table 'mysql.tmp_user_sys'" in CI.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        // One bootstrap at a time in a test process, for the same reason.
        static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            // As root (the CI machine) the server must be told to stay root; otherwise it is ignored.
            .arg("--user=root")
            .output()
            .expect("mariadb-install-db not found (Debian package `mariadb-server`, see scripts/test.sh)");
        drop(installing);
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = super::free_addr().port();
        let log = dir.path().join("server.log");
        let server = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--log-error={}", log.display()))
            .args([
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
            ])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd not found (Debian package `mariadb-server`)");
        let db = MariaDb {
            port,
            _server: KillOnDrop::new(server),
            dir,
        };
        let until = Instant::now() + Duration::from_secs(30);
        while db.try_sql("SELECT 1").is_err() {
            if Instant::now() > until {
                panic!(
                    "mariadbd did not answer within 30 s: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        db
    }

    fn try_sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .args(["--no-defaults", "-h127.0.0.1", "-uroot", "-N", "-B"])
            .arg(format!("-P{}", self.port))
            .args(["-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs `sql` with the `mariadb` client; panics with its error.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("mariadb failed: {e}"))
    }

    /// A URL for database `db` as root.
    pub fn url(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.port)
    }

    /// Its directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}
