//! mysqld_exporter's `info_schema.clientstats`: `information_schema.client_statistics` of MariaDB and Percona Server, one series per
//! client and counter, while `userstat` is on.

use hubble::catalogue::Entry;

use super::statistics::{Read, Statistics};
use super::Assembly;

/// `--collect.info_schema.clientstats`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.clientstats",
    "Per-client-host activity (information_schema.client_statistics; needs userstat)",
    |a| {
        let server = a.server.clone();
        a.add(Statistics {
            name: "info_schema.clientstats",
            read: Read::PerKey {
                table: "client_statistics",
                prefix: "mysql_info_schema_client_statistics",
                known: 26,
                label: "client",
            },
            server,
        });
    },
);
