//! mysqld_exporter's `info_schema.tables`: each table's version, estimated rows and sizes, from
//! `information_schema.tables`, in the databases `--collect.info_schema.tables.databases` names (`*`: every
//! one but the server's own schemas).

use std::time::Duration;

use hubble::catalogue::Entry;

use super::columns::{quote, Column, From::Cell, From::Fixed};
use super::Assembly;

const LABELS: &[(&str, super::columns::From)] = &[
    ("schema", Cell("TABLE_SCHEMA")),
    ("table", Cell("TABLE_NAME")),
];
const SIZE: &str = "mysql_info_schema_table_size";
const SIZE_HELP: &str = "Size of each part of the table (data, indexes, free space) in bytes, from information_schema.tables";

const COLUMNS: &[Column] = &[
    Column::gauge(
        "mysql_info_schema_table_version",
        "The version number of the table's .frm file",
        "VERSION",
        &[
            ("schema", Cell("TABLE_SCHEMA")),
            ("table", Cell("TABLE_NAME")),
            ("type", Cell("TABLE_TYPE")),
            ("engine", Cell("ENGINE")),
            ("row_format", Cell("ROW_FORMAT")),
            ("create_options", Cell("CREATE_OPTIONS")),
        ],
    ),
    Column::gauge(
        "mysql_info_schema_table_rows",
        "Estimated rows in the table, from information_schema.tables",
        "TABLE_ROWS",
        LABELS,
    ),
    Column::gauge(
        SIZE,
        SIZE_HELP,
        "DATA_LENGTH",
        &[
            ("schema", Cell("TABLE_SCHEMA")),
            ("table", Cell("TABLE_NAME")),
            ("component", Fixed("data_length")),
        ],
    ),
    Column::gauge(
        SIZE,
        SIZE_HELP,
        "INDEX_LENGTH",
        &[
            ("schema", Cell("TABLE_SCHEMA")),
            ("table", Cell("TABLE_NAME")),
            ("component", Fixed("index_length")),
        ],
    ),
    Column::gauge(
        SIZE,
        SIZE_HELP,
        "DATA_FREE",
        &[
            ("schema", Cell("TABLE_SCHEMA")),
            ("table", Cell("TABLE_NAME")),
            ("component", Fixed("data_free")),
        ],
    ),
];

/// The query for `databases`: `*` (every database but `mysql`, `performance_schema`, `information_schema`
/// and `sys`), or a comma-separated list.
pub(crate) fn query(databases: &str) -> String {
    let filter = if databases.trim() == "*" {
        "NOT IN ('mysql', 'performance_schema', 'information_schema', 'sys')".to_owned()
    } else {
        let names: Vec<String> = databases
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(quote)
            .collect();
        format!("IN ({})", names.join(", "))
    };
    format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, IFNULL(ENGINE, 'NONE') AS ENGINE, \
                IFNULL(VERSION, '0') AS VERSION, IFNULL(ROW_FORMAT, 'NONE') AS ROW_FORMAT, \
                IFNULL(TABLE_ROWS, '0') AS TABLE_ROWS, IFNULL(DATA_LENGTH, '0') AS DATA_LENGTH, \
                IFNULL(INDEX_LENGTH, '0') AS INDEX_LENGTH, IFNULL(DATA_FREE, '0') AS DATA_FREE, \
                IFNULL(CREATE_OPTIONS, 'NONE') AS CREATE_OPTIONS \
         FROM information_schema.tables WHERE TABLE_SCHEMA {filter}"
    )
}

/// `--collect.info_schema.tables`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.tables",
    "Each table's rows and sizes (information_schema.tables)",
    |a: &mut Assembly| {
        let sql = query(&a.options.tables_databases);
        a.columns(
            "info_schema.tables",
            sql,
            COLUMNS,
            "information_schema.tables",
        );
    },
)
.every(Duration::from_secs(60));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_are_quoted() {
        assert!(query("*")
            .ends_with("NOT IN ('mysql', 'performance_schema', 'information_schema', 'sys')"));
        assert!(query("app, o'hara").ends_with("IN ('app', 'o''hara')"));
    }
}
