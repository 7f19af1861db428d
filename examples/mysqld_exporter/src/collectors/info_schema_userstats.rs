//! mysqld_exporter's `info_schema.userstats`: `information_schema.user_statistics` of MariaDB and Percona Server, one series per
//! user and counter, while `userstat` is on.

use hubble::catalogue::Entry;

use super::statistics::{Read, Statistics};
use super::Assembly;

/// `--collect.info_schema.userstats`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.userstats",
    "Per-user activity (information_schema.user_statistics; needs userstat)",
    |a| {
        let server = a.server.clone();
        a.add(Statistics {
            name: "info_schema.userstats",
            read: Read::PerKey {
                table: "user_statistics",
                prefix: "mysql_info_schema_user_statistics",
                known: 25,
                label: "user",
            },
            server,
        });
    },
);
