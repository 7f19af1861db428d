//! A throwaway etcd (Debian's `etcd-server`) for tests: one member on free loopback ports, its data in a
//! temporary directory; stopped, started again on the same data, and killed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::pki::Pki;
use super::{free_addr, wait_showing, KillOnDrop};

/// A running etcd.
pub struct Etcd {
    /// Its client port.
    pub port: u16,
    peer_port: u16,
    dir: tempfile::TempDir,
    /// The CA, server and client certificates when it serves TLS.
    tls: Option<(PathBuf, PathBuf, PathBuf, PathBuf, PathBuf)>,
    process: Option<KillOnDrop>,
}

impl Etcd {
    /// Starts a plain-HTTP etcd.
    pub fn start() -> Etcd {
        Etcd::launch(None)
    }

    /// Starts an etcd serving TLS with `pki`'s server certificate and asking clients for a certificate signed
    /// by its CA (`--client-cert-auth`).
    pub fn start_tls(pki: &Pki) -> Etcd {
        Etcd::launch(Some((
            pki.path("ca.crt"),
            pki.path("server.crt"),
            pki.path("server.key"),
            pki.path("client.crt"),
            pki.path("client.key"),
        )))
    }

    fn launch(tls: Option<(PathBuf, PathBuf, PathBuf, PathBuf, PathBuf)>) -> Etcd {
        assert!(
            Command::new("etcd").arg("--version").output().is_ok(),
            "etcd not found: apt-get install etcd-server etcd-client (see .ci/run)"
        );
        let mut etcd = Etcd {
            port: free_addr().port(),
            peer_port: free_addr().port(),
            dir: tempfile::tempdir().unwrap(),
            tls,
            process: None,
        };
        etcd.start_again();
        etcd
    }

    /// The client URL.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `host:port` of the client port (as Patroni's `hosts` takes it).
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops it (a kill: clients see the connections drop).
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Starts it (again) on the same data, and waits until it answers.
    pub fn start_again(&mut self) {
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new("etcd");
        command
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--name", "test"])
            .args(["--listen-client-urls", &self.url()])
            .args(["--advertise-client-urls", &self.url()])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("test={peer}")])
            .args(["--log-level", "warn"])
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("etcd.log"))
                    .unwrap(),
            );
        if let Some((ca, cert, key, _, _)) = &self.tls {
            command
                .arg("--trusted-ca-file")
                .arg(ca)
                .arg("--cert-file")
                .arg(cert)
                .arg("--key-file")
                .arg(key)
                .arg("--client-cert-auth");
        }
        self.process = Some(KillOnDrop::new(command.spawn().expect("etcd")));
        wait_showing(Duration::from_secs(30), "etcd to answer", || {
            let out = self.etcdctl_output(&["endpoint", "health"]);
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{}\netcd's log:\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    self.log()
                ))
            }
        });
    }

    fn etcdctl_output(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new("etcdctl");
        command.env("ETCDCTL_API", "3").args([
            "--endpoints",
            &self.url(),
            "--command-timeout",
            "5s",
        ]);
        if let Some((ca, _, _, cert, key)) = &self.tls {
            command
                .arg("--cacert")
                .arg(ca)
                .arg("--cert")
                .arg(cert)
                .arg("--key")
                .arg(key);
        }
        command.args(args).output().expect("etcdctl")
    }

    /// Runs `etcdctl` against it (with its client certificate); panics on failure; the output.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let out = self.etcdctl_output(args);
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &str, value: &str) {
        self.etcdctl(&["put", key, value]);
    }

    /// Sets each key to its value, over one connection to etcd's HTTP gateway (plain-HTTP etcd only): many
    /// keys in the time `etcdctl` takes for a few.
    pub fn put_many(&self, pairs: &[(String, String)]) {
        use base64::Engine as _;
        assert!(self.tls.is_none(), "put_many speaks plain HTTP");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut connection = super::Connection::open(addr).unwrap();
        for (key, value) in pairs {
            let body = format!(r#"{{"key":"{}","value":"{}"}}"#, b64(key), b64(value));
            let response = connection
                .request(
                    "POST",
                    "/v3/kv/put",
                    &[("Content-Type", "application/json")],
                    body.as_bytes(),
                )
                .unwrap();
            assert_eq!(response.status, 200, "{}", response.text());
        }
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) {
        self.etcdctl(&["del", key]);
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}
