//! A throwaway PostgreSQL cluster for tests: initdb in a temp dir, a free loopback port, trust auth, stopped
//! and removed on drop. Runs the server as the `postgres` user when the tests run as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A running throwaway cluster, stopped and removed on drop.
pub struct PgCluster {
    /// Its loopback port.
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    dir: tempfile::TempDir,
    /// The `-c` settings it was started with, for restarts and replicas.
    settings: Vec<String>,
}

/// The PostgreSQL server binaries the tests use (`PG_BIN`, else the newest under /usr/lib/postgresql).
pub fn bin_dir_for_tests() -> PathBuf {
    bin_dir()
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return dir.into();
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions
        .pop()
        .expect("PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql (see .ci/run)")
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `command` as `postgres` when the tests run as root (PgBouncer and Pgpool-II refuse root, or should
/// not have it), after giving `dir` to that user. Set on the process itself, so that killing it on drop kills
/// the server, not a wrapper.
pub(crate) fn as_postgres(command: &mut Command, dir: &Path) {
    if !is_root() {
        return;
    }
    // A walk over a running server's directory can meet a file that goes before it is changed (a failure of
    // that file only): walked again, it is not there to fail.
    let chown = || {
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir)
            .status()
            .unwrap()
            .success()
    };
    assert!((0..3).any(|_| chown()), "chown of {} failed", dir.display());
    as_postgres_user(command);
}

/// Runs `command` as `postgres` when the tests run as root, in a directory already given to it (a `chown
/// -R` of a running server's directory can fail on a file that goes while it walks).
pub(crate) fn as_postgres_user(command: &mut Command) {
    if !is_root() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("user postgres")
    };
    command.gid(id("-g")).uid(id("-u"));
}

impl PgCluster {
    /// Starts a new cluster; `settings` are extra `-c name=value` server settings.
    pub fn start(settings: &[&str]) -> PgCluster {
        let mut cluster = PgCluster::empty(settings);
        cluster.initdb();
        cluster.first_start();
        cluster
    }

    /// A cluster that accepts only TLS connections over TCP (`ssl=on`, `hostssl` lines only): its certificate
    /// and key are `<server>.crt` and `<server>.key` from `pki`, client certificates are checked against its
    /// CA, user `certuser` (created here) must log in with a client certificate (`cert`), every other user is
    /// trusted. psql reaches it over TLS (its default `sslmode=prefer`).
    pub fn start_tls(pki: &super::pki::Pki, server: &str) -> PgCluster {
        let mut cluster = PgCluster::empty(&[]);
        let tls_dir = cluster.dir.path().join("tls");
        std::fs::create_dir(&tls_dir).unwrap();
        for (from, to) in [
            (format!("{server}.crt"), "server.crt"),
            (format!("{server}.key"), "server.key"),
            ("ca.crt".to_owned(), "ca.crt"),
        ] {
            std::fs::copy(pki.path(&from), tls_dir.join(to)).unwrap();
        }
        // The server refuses a key others can read.
        std::fs::set_permissions(
            tls_dir.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        cluster.chown();
        cluster.settings.extend([
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", tls_dir.join("server.crt").display()),
            format!("ssl_key_file={}", tls_dir.join("server.key").display()),
            format!("ssl_ca_file={}", tls_dir.join("ca.crt").display()),
        ]);
        cluster.initdb();
        std::fs::write(
            cluster.data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all certuser 127.0.0.1/32 cert\n\
             hostssl all clearuser 127.0.0.1/32 password\n\
             hostssl all scramuser 127.0.0.1/32 scram-sha-256\n\
             hostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        cluster.first_start();
        cluster.psql("postgres", "CREATE ROLE certuser LOGIN");
        // Roles asked for their password in cleartext and with SCRAM (PostgreSQL 13 stores MD5 by default).
        cluster.psql(
            "postgres",
            "SET password_encryption = 'scram-sha-256'; \
             CREATE ROLE clearuser LOGIN PASSWORD 'clear-Pa55'; \
             CREATE ROLE scramuser LOGIN PASSWORD 'scram-Pa55'",
        );
        cluster
    }

    /// Initialises the data directory: superuser `postgres`, trust authentication, UTF-8.
    fn initdb(&self) {
        self.run(
            "initdb",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
    }

    /// A cluster not yet initialised: its directory (owned by `postgres` when root) and a free port.
    fn empty(settings: &[&str]) -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("hubble-pg-")
            .tempdir()
            .unwrap();
        let cluster = PgCluster {
            port: super::free_addr().port(),
            bin: bin_dir(),
            data: dir.path().join("data"),
            dir,
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        cluster.chown();
        cluster
    }

    fn chown(&self) {
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(self.dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the cluster dir failed");
        }
    }

    /// A streaming replica of this cluster on its own port, from the same binaries and settings, started and
    /// streaming when this returns, through the physical replication `slot` when given (create it first).
    /// Made by `pg_basebackup -R` from the running server where the binaries have it (Debian's); else (the
    /// npm builds have none) from a copy of the data directory taken while this server is briefly stopped,
    /// with `standby.signal` and `primary_conninfo` as `pg_basebackup -R` writes them.
    pub fn replica(&self, slot: Option<&str>) -> PgCluster {
        let settings: Vec<&str> = self.settings.iter().map(String::as_str).collect();
        let replica = PgCluster::empty(&settings);
        if self.bin.join("pg_basebackup").exists() {
            let conninfo = format!(
                "host=127.0.0.1 port={} user=postgres application_name=replica",
                self.port
            );
            let mut args = vec![
                "-d",
                &conninfo,
                "-D",
                replica.data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ];
            if let Some(slot) = slot {
                args.extend(["-S", slot]);
            }
            self.run("pg_basebackup", &args);
            return replica.until_streaming();
        }
        self.stop();
        let status = Command::new("cp")
            .arg("-a")
            .arg(&self.data)
            .arg(&replica.data)
            .status()
            .unwrap();
        assert!(status.success(), "copying the data directory failed");
        self.restart();
        std::fs::write(replica.data.join("standby.signal"), "").unwrap();
        let mut auto = std::fs::read_to_string(replica.data.join("postgresql.auto.conf")).unwrap();
        auto.push_str(&format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name=replica'\n",
            self.port
        ));
        if let Some(slot) = slot {
            auto.push_str(&format!("primary_slot_name = '{slot}'\n"));
        }
        std::fs::write(replica.data.join("postgresql.auto.conf"), auto).unwrap();
        replica.chown();
        replica.until_streaming()
    }

    /// Starts this replica and waits until it streams from its primary.
    fn until_streaming(mut self) -> PgCluster {
        self.first_start();
        for _ in 0..300 {
            if self.count(
                "postgres",
                "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'",
            ) == 1
            {
                return self;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the replica did not start streaming within 30 s");
    }

    /// Promotes a replica to a primary (`pg_ctl promote`), waiting until it accepts writes.
    pub fn promote(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "promote",
            ],
        );
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server the first time. Its port was free when picked, but a test beside it may have taken
    /// it since (each picks a free port, then runs initdb for a second or two before binding): then another.
    fn first_start(&mut self) {
        for _ in 0..5 {
            match self.try_start_server() {
                Ok(()) => return,
                Err(e) if e.contains("Address already in use") => {
                    self.port = super::free_addr().port();
                }
                Err(e) => panic!("{e}"),
            }
        }
        self.start_server();
    }

    fn start_server(&self) {
        if let Err(e) = self.try_start_server() {
            panic!("{e}");
        }
    }

    /// `pg_ctl start`; its output and the server's log when it fails.
    fn try_start_server(&self) -> Result<(), String> {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        for s in &self.settings {
            opts.push_str(" -c ");
            opts.push_str(s);
        }
        let log = self.dir.path().join("server.log");
        let out = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ])
            .output()
            .unwrap();
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "pg_ctl start on port {} failed: {}{}\nserver log:\n{}",
            self.port,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        ))
    }

    /// Stops the server (fast shutdown); the data stays, [`restart`](Self::restart) brings it back.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// Kills the server as a crash would (immediate shutdown: no checkpoint, backends dropped mid-query).
    pub fn kill(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Starts the server again on the same port, with the same settings.
    pub fn restart(&self) {
        self.start_server();
    }

    /// A URL for database `db` as user postgres.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A client session to `db` that stays connected and idle until dropped (psql reading a script from a
    /// pipe that stays open). Returns once the session shows in `pg_stat_activity` as idle.
    pub fn idle_session(&self, db: &str) -> super::KillOnDrop {
        let mut c = self.psql_base(db);
        c.arg("-f")
            .arg("-")
            .env("PGAPPNAME", "idle_session")
            .stdin(std::process::Stdio::piped());
        let child = super::KillOnDrop::new(c.spawn().unwrap());
        let sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'idle_session' AND state = 'idle'";
        super::wait_for(
            std::time::Duration::from_secs(10),
            "an idle session",
            || (self.count("postgres", sql) >= 1).then_some(()),
        );
        child
    }

    fn psql_command(&self, db: &str, sql: &str) -> Command {
        let mut c = self.psql_base(db);
        c.args(["-c", sql]);
        c
    }

    fn psql_base(&self, db: &str) -> Command {
        // The npm builds of other majors carry no client: Debian's psql speaks to every major tested.
        let own = self.bin.join("psql");
        let psql = if own.exists() {
            own
        } else {
            PathBuf::from("psql")
        };
        let mut c = Command::new(psql);
        c.args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .args(["-p", &self.port.to_string(), "-d", db]);
        c
    }

    /// Runs SQL through psql (for setup: several statements, CREATE DATABASE, ...).
    pub fn psql(&self, db: &str, sql: &str) {
        let out = self.psql_command(db, sql).output().unwrap();
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A query's single numeric value; `usize::MAX` when the server does not answer.
    pub fn count(&self, db: &str, sql: &str) -> usize {
        let out = self.psql_command(db, sql).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(usize::MAX)
    }

    /// A query's rows, each as its columns' text (`|` separates columns in psql's unaligned output, so
    /// query no column that may hold one).
    pub fn rows(&self, db: &str, sql: &str) -> Vec<Vec<String>> {
        let out = self.psql_command(db, sql).output().unwrap();
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect()
    }

    /// The server's `server_version_num` (e.g. 170010).
    pub fn version_num(&self) -> usize {
        self.count("postgres", "SHOW server_version_num")
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
                "stop",
            ])
            .output();
        std::thread::sleep(Duration::from_millis(10));
    }
}
