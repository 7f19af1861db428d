//! A throwaway Pgpool-II for tests, in front of a primary and a standby ([`PgCluster`](super::pg::PgCluster)s):
//! streaming replication mode, health checks every second, trust authentication, a config in a temporary
//! directory, on free loopback ports; killed and removed on drop. Debian's `pgpool2` package.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::KillOnDrop;

/// The PCP password of user `postgres` (PCP is Pgpool-II's administration port).
const PCP_PASSWORD: &str = "pcp-Pa55";

/// A running throwaway Pgpool-II.
pub struct Pgpool {
    /// Its loopback port (clients and the exporter).
    pub port: u16,
    /// Its PCP port.
    pub pcp_port: u16,
    // Dropped first: the process stops before its directory goes.
    process: KillOnDrop,
    dir: tempfile::TempDir,
}

/// Shuts Pgpool-II down the way it cleans up after itself (SIGINT, its fast shutdown): killed outright, its
/// children live on, holding their ports, and its SysV shared memory (128 MB) stays allocated until reboot.
impl Drop for Pgpool {
    fn drop(&mut self) {
        let pid = self.process.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.process.child().try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Still there: KillOnDrop kills it.
    }
}

impl Pgpool {
    /// Pools the servers at 127.0.0.1 on `backends` ports (the primary first) in streaming replication
    /// mode; panics with its log if it does not answer within 30 s.
    pub fn start(backends: &[u16]) -> Pgpool {
        let dir = tempfile::Builder::new()
            .prefix("hubble-pgpool-")
            .tempdir()
            .unwrap();
        let (port, pcp_port) = (super::free_addr().port(), super::free_addr().port());
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{d}'\n\
             pcp_listen_addresses = '127.0.0.1'\npcp_port = {pcp_port}\npcp_socket_dir = '{d}'\n\
             backend_clustering_mode = 'streaming_replication'\nenable_pool_hba = off\n\
             pool_passwd = '{passwd}'\nnum_init_children = 4\nmax_pool = 2\n\
             sr_check_period = 1\nsr_check_user = 'postgres'\n\
             health_check_period = 1\nhealth_check_user = 'postgres'\nhealth_check_max_retries = 0\n\
             failover_on_backend_error = off\nmemory_cache_enabled = off\n\
             pid_file_name = '{pid}'\nlogdir = '{d}'\n",
            d = dir.path().display(),
            passwd = path("pool_passwd"),
            pid = path("pgpool.pid"),
        );
        for (i, backend) in backends.iter().enumerate() {
            conf.push_str(&format!(
                "backend_hostname{i} = '127.0.0.1'\nbackend_port{i} = {backend}\nbackend_weight{i} = 1\n\
                 backend_flag{i} = 'ALLOW_TO_FAILOVER'\n"
            ));
        }
        std::fs::write(dir.path().join("pgpool.conf"), conf).unwrap();
        // Trust authentication: an empty password file, so Pgpool-II looks up nothing.
        std::fs::write(dir.path().join("pool_passwd"), "").unwrap();
        let md5 = Command::new(program("pg_md5"))
            .arg(PCP_PASSWORD)
            .output()
            .expect("pg_md5 (Debian package `pgpool2`)");
        let md5 = String::from_utf8_lossy(&md5.stdout).trim().to_owned();
        std::fs::write(dir.path().join("pcp.conf"), format!("postgres:{md5}\n")).unwrap();
        let pcppass = format!("127.0.0.1:{pcp_port}:postgres:{PCP_PASSWORD}\n");
        std::fs::write(dir.path().join("pcppass"), pcppass).unwrap();
        std::fs::set_permissions(
            dir.path().join("pcppass"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("pgpool.log")).unwrap();
        let mut command = Command::new(program("pgpool"));
        command
            .arg("-n")
            .arg("-f")
            .arg(dir.path().join("pgpool.conf"))
            .arg("-F")
            .arg(dir.path().join("pcp.conf"))
            .stdout(Stdio::null())
            .stderr(log);
        super::pg::as_postgres(&mut command, dir.path());
        let process = command
            .spawn()
            .expect("pgpool not found (Debian package `pgpool2`, see scripts/test.sh)");
        let pool = Pgpool {
            port,
            pcp_port,
            process: KillOnDrop::new(process),
            dir,
        };
        let until = Instant::now() + Duration::from_secs(30);
        while pool.psql("SHOW pool_version").is_err() {
            if Instant::now() > until {
                panic!("pgpool did not answer within 30 s: {}", pool.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        pool
    }

    /// A URL for database `postgres` as `postgres`, through it.
    pub fn url(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// Runs `sql` through it; its output, or psql's error.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(),
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Detaches backend `node` over PCP (`pcp_detach_node`), as an operator taking it out would.
    pub fn detach(&self, node: u32) {
        let out = Command::new(program("pcp_detach_node"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-w"])
            .args(["-p", &self.pcp_port.to_string(), "-n", &node.to_string()])
            .env("PCPPASSFILE", self.dir.path().join("pcppass"))
            .output()
            .expect("pcp_detach_node");
        assert!(
            out.status.success(),
            "pcp_detach_node: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgpool.log")).unwrap_or_default()
    }
}

/// Debian installs Pgpool-II's programs in /usr/sbin, which a user's PATH may lack.
fn program(name: &str) -> String {
    let sbin = format!("/usr/sbin/{name}");
    if std::path::Path::new(&sbin).exists() {
        sbin
    } else {
        name.to_owned()
    }
}
