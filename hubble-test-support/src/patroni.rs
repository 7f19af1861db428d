//! A throwaway Patroni cluster (Debian's `patroni` over the PostgreSQL of [`super::pg`]) on a test etcd:
//! each member its own data directory, PostgreSQL port and REST API port, run as `postgres` when the tests
//! run as root; every process killed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::etcd::Etcd;
use super::{free_addr, wait_showing, KillOnDrop};

/// One member.
pub struct Member {
    /// Its name.
    pub name: String,
    /// Its PostgreSQL port.
    pub port: u16,
    config: PathBuf,
    process: Option<KillOnDrop>,
}

impl Member {
    /// `127.0.0.1:<port>`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A Patroni cluster.
pub struct Patroni {
    /// The cluster's name (Patroni's scope).
    pub scope: String,
    /// Its members.
    pub members: Vec<Member>,
    dir: tempfile::TempDir,
}

fn bin_dir() -> String {
    let dir = super::pg::bin_dir_for_tests();
    dir.display().to_string()
}

impl Patroni {
    /// Starts `n` members of `scope` on `etcd` (namespace `/service/`), the first bootstrapping the
    /// cluster, and waits until one leads and the others replicate.
    pub fn start(etcd: &Etcd, scope: &str, n: usize) -> Patroni {
        assert!(
            Command::new("patroni").arg("--version").output().is_ok(),
            "patroni not found: apt-get install patroni (see .ci/run)"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut members = Vec::new();
        for i in 1..=n {
            let name = format!("{scope}{i}");
            let port = free_addr().port();
            let api = free_addr().port();
            let home = dir.path().join(&name);
            std::fs::create_dir_all(&home).unwrap();
            let config = dir.path().join(format!("{name}.yml"));
            std::fs::write(
                &config,
                format!(
                    "scope: {scope}\nnamespace: /service/\nname: {name}\n\
                     restapi:\n  listen: 127.0.0.1:{api}\n  connect_address: 127.0.0.1:{api}\n\
                     etcd3:\n  hosts: {etcd}\n\
                     bootstrap:\n  dcs:\n    ttl: 10\n    loop_wait: 1\n    retry_timeout: 3\n\
                     \x20   maximum_lag_on_failover: 104857600\n    postgresql:\n      use_pg_rewind: false\n\
                     \x20 initdb:\n  - encoding: UTF8\n\
                     \x20 pg_hba:\n  - host replication replicator 127.0.0.1/32 trust\n\
                     \x20 - host all all 127.0.0.1/32 trust\n\
                     postgresql:\n  listen: 127.0.0.1:{port}\n  connect_address: 127.0.0.1:{port}\n\
                     \x20 data_dir: {data}\n  bin_dir: {bin}\n  pgpass: {home}/pgpass\n\
                     \x20 authentication:\n    replication:\n      username: replicator\n      password: rep\n\
                     \x20   superuser:\n      username: postgres\n      password: pg\n\
                     \x20 parameters:\n    unix_socket_directories: {home}\n",
                    etcd = etcd.host_port(),
                    data = home.join("data").display(),
                    bin = bin_dir(),
                    home = home.display(),
                ),
            )
            .unwrap();
            members.push(Member {
                name,
                port,
                config,
                process: None,
            });
        }
        let mut cluster = Patroni {
            scope: scope.to_owned(),
            members,
            dir,
        };
        for i in 0..n {
            cluster.start_member(i);
            if i == 0 {
                cluster.wait_until(Duration::from_secs(60), "the first member to lead", |l| {
                    l.contains(&format!("| {}1 ", scope)) && l.contains("Leader")
                });
            }
        }
        let want = n;
        cluster.wait_until(Duration::from_secs(90), "every member running", |list| {
            list.lines()
                .filter(|l| l.contains("running") || l.contains("streaming"))
                .count()
                == want
        });
        cluster
    }

    /// Starts (again) member `i`.
    pub fn start_member(&mut self, i: usize) {
        let log = self
            .dir
            .path()
            .join(format!("{}.log", self.members[i].name));
        let mut command = Command::new("patroni");
        command
            .arg(&self.members[i].config)
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            );
        super::pg::as_postgres(&mut command, self.dir.path());
        self.members[i].process = Some(KillOnDrop::new(command.spawn().expect("patroni")));
    }

    /// Kills member `i`'s Patroni and its PostgreSQL at once (a crashed host).
    pub fn kill_member(&mut self, i: usize) {
        self.members[i].process = None;
        let data = self.dir.path().join(&self.members[i].name).join("data");
        if let Ok(pid) = std::fs::read_to_string(data.join("postmaster.pid")) {
            if let Some(pid) = pid.lines().next() {
                let _ = Command::new("kill")
                    .args(["-9", pid.trim()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// Freezes every running member's Patroni (SIGSTOP): the store then stays as the test writes it.
    pub fn pause(&mut self) {
        self.signal("-STOP");
    }

    /// Lets every frozen Patroni run again (SIGCONT).
    pub fn resume(&mut self) {
        self.signal("-CONT");
    }

    /// Sends `signal` (`kill`'s form) to every running member's Patroni.
    fn signal(&self, signal: &str) {
        for p in self.members.iter().filter_map(|m| m.process.as_ref()) {
            let _ = Command::new("kill")
                .args([signal, &p.id().to_string()])
                .status();
        }
    }

    /// Whether every running member's server accepts new connections (`pg_isready`) within `limit`.
    pub fn accepting(&self, limit: Duration) -> bool {
        let ready = PathBuf::from(bin_dir()).join("pg_isready");
        let ready = if ready.exists() {
            ready
        } else {
            "pg_isready".into()
        };
        let until = std::time::Instant::now() + limit;
        loop {
            let all = self
                .members
                .iter()
                .filter(|m| m.process.is_some())
                .all(|m| {
                    Command::new(&ready)
                        .args(["-q", "-h", "127.0.0.1", "-p", &m.port.to_string()])
                        .status()
                        .is_ok_and(|s| s.success())
                });
            if all {
                return true;
            }
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `patronictl` with the first running member's configuration.
    pub fn patronictl(&self, args: &[&str]) -> String {
        let member = self
            .members
            .iter()
            .find(|m| m.process.is_some())
            .expect("a running member");
        let mut command = Command::new("patronictl");
        command.arg("-c").arg(&member.config).args(args);
        // The members' directory is theirs since they started; their servers are writing in it.
        super::pg::as_postgres_user(&mut command);
        let out = command.output().expect("patronictl");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// `patronictl list`.
    pub fn list(&self) -> String {
        self.patronictl(&["list", &self.scope])
    }

    /// The leader's name per `patronictl list`.
    pub fn leader(&self) -> Option<String> {
        self.list()
            .lines()
            .find(|l| l.contains("| Leader"))
            .and_then(|l| l.split('|').nth(1))
            .map(|m| m.trim().to_owned())
    }

    /// Waits until `patronictl list` satisfies `ok`.
    pub fn wait_until(&self, limit: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
        wait_showing(limit, what, || {
            let list = self.list();
            if ok(&list) {
                Ok(list)
            } else {
                Err(format!("{list}\n{}", self.logs()))
            }
        })
    }

    /// Switches the leadership to `candidate`, as an operator would.
    pub fn switchover(&self, candidate: &str) {
        let leader = self.leader().expect("a leader");
        let out = self.patronictl(&[
            "switchover",
            "--leader",
            &leader,
            "--candidate",
            candidate,
            "--force",
            &self.scope,
        ]);
        assert!(out.contains("Successfully switched over"), "{out}");
    }

    /// The end of every member's log.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let log = std::fs::read_to_string(self.dir.path().join(format!("{}.log", m.name)))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            out.push_str(&format!("--- {}\n", m.name));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Patroni {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }
}
