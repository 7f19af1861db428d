//! Patroni's keys, wherever they are stored (etcd, Consul's KV store): under a namespace (`/service/` by
//! default), `<scope>/members/<name>` holds a member's `conn_url` and `role` as JSON, `<scope>/leader` the
//! leader's name. Each member becomes a target labelled `cluster` (the scope), `member` and `role`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{split_host_port, ServiceAtomic};
use crate::metric::Labels;

/// A Patroni cluster member as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatroniMember {
    /// The cluster (Patroni's scope).
    pub cluster: String,
    /// The member's name.
    pub member: String,
    /// `primary`, `standby_leader` or `replica`, from the leader key.
    pub role: &'static str,
    /// Host and port of its `conn_url`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database and user of its `conn_url`, when it has them.
    pub options: BTreeMap<String, String>,
}

impl PatroniMember {
    /// The member as a target labelled `cluster`, `member` and `role`.
    pub fn into_target(self) -> ServiceAtomic {
        let labels = Labels::new()
            .with("cluster", self.cluster.clone())
            .with("member", self.member.clone())
            .with("role", self.role);
        ServiceAtomic {
            name: self.cluster,
            node: self.member,
            address: self.host,
            port: self.port,
            tags: Vec::new(),
            exporter_options: self.options,
            labels,
        }
    }

    /// `host:port`, as `/primary?target=` takes it.
    pub fn host_port(&self) -> String {
        super::join_host_port(&self.host, self.port)
    }
}

#[derive(Deserialize)]
struct MemberDocument {
    conn_url: String,
    #[serde(default)]
    role: String,
}

/// `postgres://[user[:password]@]host[:port][/dbname][?...]`: host, port (5432 when absent), and the user
/// and database as exporter options (a password in it is not taken: credentials are the exporter's).
pub(crate) fn parse_conn_url(url: &str) -> Option<(String, u16, BTreeMap<String, String>)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut options = BTreeMap::new();
    let host_port = match authority.rsplit_once('@') {
        Some((user, hp)) => {
            let user = user.split(':').next().unwrap_or(user);
            if !user.is_empty() {
                options.insert("user".to_owned(), user.to_owned());
            }
            hp
        }
        None => authority,
    };
    let (host, port) = if host_port.ends_with(']') || !host_port.contains(':') {
        (
            host_port
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            5432,
        )
    } else {
        split_host_port(host_port)?
    };
    if host.is_empty() {
        return None;
    }
    if !path.is_empty() {
        options.insert("dbname".to_owned(), path.to_owned());
    }
    Some((host, port, options))
}

/// Every member of every cluster under `namespace`, in key order.
pub(crate) fn patroni_members(
    namespace: &str,
    keys: &BTreeMap<Vec<u8>, Vec<u8>>,
    bad: &mut Vec<(Vec<u8>, String)>,
) -> Vec<PatroniMember> {
    let relative = |key: &[u8]| -> Option<String> {
        let k = key.strip_prefix(namespace.as_bytes())?;
        std::str::from_utf8(k).ok().map(str::to_owned)
    };
    let mut leaders: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in keys {
        if let Some(scope) =
            relative(key).and_then(|k| k.strip_suffix("/leader").map(str::to_owned))
        {
            if !scope.contains('/') {
                leaders.insert(scope, String::from_utf8_lossy(value).trim().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for (key, value) in keys {
        let Some(rel) = relative(key) else { continue };
        let Some((scope, member)) = rel.split_once("/members/") else {
            continue;
        };
        if scope.contains('/') || member.is_empty() || member.contains('/') {
            continue;
        }
        let doc: MemberDocument = match serde_json::from_slice(value) {
            Ok(d) => d,
            Err(e) => {
                bad.push((key.clone(), format!("not a Patroni member: {e}")));
                continue;
            }
        };
        let Some((host, port, options)) = parse_conn_url(&doc.conn_url) else {
            bad.push((
                key.clone(),
                format!(
                    "conn_url {:?} is not postgres://host:port/...",
                    doc.conn_url
                ),
            ));
            continue;
        };
        let leads = leaders.get(scope).is_some_and(|l| l == member);
        let role = match (leads, doc.role.as_str()) {
            (true, "standby_leader" | "standby-leader") => "standby_leader",
            (true, _) => "primary",
            (false, _) => "replica",
        };
        out.push(PatroniMember {
            cluster: scope.to_owned(),
            member: member.to_owned(),
            role,
            host,
            port,
            options,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::discovery::test_keys as keys;

    #[test]
    fn patroni_members_take_their_role_from_the_leader_key() {
        let store = keys(&[
            ("/service/batman/config", "{}"),
            ("/service/batman/leader", "pg1"),
            (
                "/service/batman/members/pg1",
                r#"{"conn_url":"postgres://127.0.0.1:5433/postgres","role":"master","state":"running"}"#,
            ),
            (
                "/service/batman/members/pg2",
                r#"{"conn_url":"postgres://127.0.0.1:5434/postgres","role":"replica"}"#,
            ),
            ("/service/robin/leader", "r1"),
            (
                "/service/robin/members/r1",
                r#"{"conn_url":"postgresql://mon@[::1]/app","role":"standby_leader"}"#,
            ),
            ("/service/robin/members/r2", "not json"),
            ("/service/robin/members/r3", r#"{"conn_url":"mysql://x"}"#),
        ]);
        let mut bad = Vec::new();
        let members = patroni_members("/service/", &store, &mut bad);
        let seen: Vec<(&str, &str, &str, String)> = members
            .iter()
            .map(|m| (m.cluster.as_str(), m.member.as_str(), m.role, m.host_port()))
            .collect();
        assert_eq!(
            seen,
            [
                ("batman", "pg1", "primary", "127.0.0.1:5433".to_owned()),
                ("batman", "pg2", "replica", "127.0.0.1:5434".to_owned()),
                ("robin", "r1", "standby_leader", "[::1]:5432".to_owned()),
            ]
        );
        assert_eq!(members[2].options["user"], "mon");
        assert_eq!(members[2].options["dbname"], "app");
        assert_eq!(bad.len(), 2, "{bad:?}");
        let target = members[0].clone().into_target();
        assert_eq!(
            target.labels.to_string(),
            r#"{cluster="batman",member="pg1",role="primary"}"#
        );
        // No leader key (an election under way): everyone is a replica.
        let store = keys(&[(
            "/service/batman/members/pg1",
            r#"{"conn_url":"postgres://127.0.0.1:5433/postgres","role":"master"}"#,
        )]);
        assert_eq!(
            patroni_members("/service/", &store, &mut bad)[0].role,
            "replica"
        );
    }
}
