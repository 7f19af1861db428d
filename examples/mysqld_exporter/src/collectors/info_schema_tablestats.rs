//! mysqld_exporter's `info_schema.tablestats`: rows read and changed per table, from
//! `information_schema.table_statistics` of MariaDB and Percona Server, while `userstat` is on.

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell};
use super::statistics::{Read, Statistics};
use super::Assembly;

const LABELS: &[(&str, From)] = &[
    ("schema", Cell("TABLE_SCHEMA")),
    ("table", Cell("TABLE_NAME")),
];

const COLUMNS: &[Column] = &[
    Column::counter(
        "mysql_info_schema_table_statistics_rows_read_total",
        "Rows read from the table",
        "ROWS_READ",
        LABELS,
    ),
    Column::counter(
        "mysql_info_schema_table_statistics_rows_changed_total",
        "Rows changed in the table",
        "ROWS_CHANGED",
        LABELS,
    ),
    Column::counter(
        "mysql_info_schema_table_statistics_rows_changed_x_indexes_total",
        "Rows changed in the table times the indexes changed",
        "ROWS_CHANGED_X_INDEXES",
        LABELS,
    ),
];

/// `--collect.info_schema.tablestats`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.tablestats",
    "Rows read and changed per table (information_schema.table_statistics; needs userstat)",
    |a| {
        let server = a.server.clone();
        a.add(Statistics {
            name: "info_schema.tablestats",
            read: Read::Columns {
                sql: "SELECT TABLE_SCHEMA, TABLE_NAME, ROWS_READ, ROWS_CHANGED, ROWS_CHANGED_X_INDEXES \
                      FROM information_schema.table_statistics",
                columns: COLUMNS,
            },
            server,
        });
    },
);
