//! mysqld_exporter's `info_schema.schemastats`: rows read and changed per schema, summed from
//! `information_schema.table_statistics` of MariaDB and Percona Server, while `userstat` is on.

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell};
use super::statistics::{Read, Statistics};
use super::Assembly;

const LABELS: &[(&str, From)] = &[("schema", Cell("TABLE_SCHEMA"))];

const COLUMNS: &[Column] = &[
    Column::counter(
        "mysql_info_schema_schema_statistics_rows_read_total",
        "Rows read from the schema's tables",
        "ROWS_READ",
        LABELS,
    ),
    Column::counter(
        "mysql_info_schema_schema_statistics_rows_changed_total",
        "Rows changed in the schema's tables",
        "ROWS_CHANGED",
        LABELS,
    ),
    Column::counter(
        "mysql_info_schema_schema_statistics_rows_changed_x_indexes_total",
        "Rows changed in the schema's tables times the indexes changed",
        "ROWS_CHANGED_X_INDEXES",
        LABELS,
    ),
];

/// `--collect.info_schema.schemastats`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.schemastats",
    "Rows read and changed per schema (information_schema.table_statistics; needs userstat)",
    |a| {
        let server = a.server.clone();
        a.add(Statistics {
            name: "info_schema.schemastats",
            read: Read::Columns {
                sql: "SELECT TABLE_SCHEMA, SUM(ROWS_READ) AS ROWS_READ, SUM(ROWS_CHANGED) AS ROWS_CHANGED, \
                             SUM(ROWS_CHANGED_X_INDEXES) AS ROWS_CHANGED_X_INDEXES \
                      FROM information_schema.TABLE_STATISTICS GROUP BY TABLE_SCHEMA",
                columns: COLUMNS,
            },
            server,
        });
    },
);
