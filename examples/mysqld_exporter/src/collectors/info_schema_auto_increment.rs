//! mysqld_exporter's `auto_increment.columns`: each auto-increment column's next value beside the largest
//! its type holds, from `information_schema.columns` and `.tables`.

use std::time::Duration;

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell};
use super::Assembly;

const LABELS: &[(&str, From)] = &[
    ("schema", Cell("table_schema")),
    ("table", Cell("table_name")),
    ("column", Cell("column_name")),
];

const COLUMNS: &[Column] = &[
    Column::gauge(
        "mysql_info_schema_auto_increment_column",
        "The next value of an auto_increment column, from information_schema",
        "auto_increment",
        LABELS,
    ),
    Column::gauge(
        "mysql_info_schema_auto_increment_column_max",
        "The largest value an auto_increment column's type holds",
        "max_int",
        LABELS,
    ),
];

const SQL: &str = "SELECT c.table_schema AS table_schema, c.table_name AS table_name, c.column_name AS column_name, \
                          t.auto_increment AS auto_increment, \
                          POW(2, CASE c.data_type WHEN 'tinyint' THEN 7 WHEN 'smallint' THEN 15 \
                                 WHEN 'mediumint' THEN 23 WHEN 'int' THEN 31 WHEN 'bigint' THEN 63 END \
                                 + (c.column_type LIKE '% unsigned')) - 1 AS max_int \
                   FROM information_schema.columns c \
                   STRAIGHT_JOIN information_schema.tables t \
                     ON (BINARY c.table_schema = t.table_schema AND BINARY c.table_name = t.table_name) \
                   WHERE c.extra = 'auto_increment' AND t.auto_increment IS NOT NULL";

/// `--collect.auto_increment.columns`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "auto_increment.columns",
    "Auto-increment columns' next values and their types' largest (information_schema)",
    |a: &mut Assembly| {
        a.columns(
            "auto_increment.columns",
            SQL.to_owned(),
            COLUMNS,
            "information_schema.columns",
        )
    },
)
.every(Duration::from_secs(60));
