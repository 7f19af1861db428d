//! mysqld_exporter's `info_schema.innodb_tablespaces`: each InnoDB tablespace's ID, file size and allocated
//! size, from `information_schema.INNODB_TABLESPACES` (MySQL 8) or `INNODB_SYS_TABLESPACES` (MySQL 5.7,
//! MariaDB).

use std::time::Duration;

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{rows, Assembly, Server};
use crate::value::number;

const INFO: (&str, &str) = (
    "mysql_info_schema_innodb_tablespace_space_info",
    "The tablespace's space ID, with its name and formats",
);
const FILE: (&str, &str) = (
    "mysql_info_schema_innodb_tablespace_file_size_bytes",
    "The tablespace file's apparent size in bytes (its largest, uncompressed)",
);
const ALLOCATED: (&str, &str) = (
    "mysql_info_schema_innodb_tablespace_allocated_size_bytes",
    "The tablespace file's size on disk in bytes",
);

/// The collector.
pub struct InnodbTablespaces {
    server: Server,
}

impl Collector for InnodbTablespaces {
    fn name(&self) -> &str {
        "info_schema.innodb_tablespaces"
    }

    fn families(&self) -> Vec<Family> {
        vec![
            Family::new(
                INFO.0,
                INFO.1,
                MetricKind::Gauge,
                ["tablespace_name", "file_format", "row_format", "space_type"],
            ),
            Family::new(FILE.0, FILE.1, MetricKind::Gauge, ["tablespace_name"]),
            Family::new(
                ALLOCATED.0,
                ALLOCATED.1,
                MetricKind::Gauge,
                ["tablespace_name"],
            ),
        ]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let found = rows(
            &self.server,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'information_schema' \
               AND table_name IN ('INNODB_SYS_TABLESPACES', 'INNODB_TABLESPACES') LIMIT 1",
        )
        .await?;
        let Some(table) = found
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
        else {
            return Err(CollectError::NotApplicable(
                "the server has neither information_schema.INNODB_TABLESPACES nor INNODB_SYS_TABLESPACES".into(),
            ));
        };
        let answer = rows(
            &self.server,
            &format!("SELECT * FROM information_schema.`{table}`"),
        )
        .await?;
        Ok(tablespaces(&answer))
    }
}

/// Three series per tablespace. Labels as upstream gives them: `file_format` is `FILE_FORMAT` where the
/// table has such a column and `NONE` where it does not (upstream selects the column's name, not its
/// value); `row_format` and `space_type` are `NONE` when NULL, and `space_type` is empty where the table
/// lacks the column (MariaDB 10.5 and later).
pub fn tablespaces(answer: &TextRows) -> Vec<Sample> {
    let index = |name: &str| {
        answer
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    };
    let file_format = if index("FILE_FORMAT").is_some() {
        "FILE_FORMAT"
    } else {
        "NONE"
    };
    let mut out = Vec::with_capacity(answer.rows.len() * 3);
    for row in &answer.rows {
        let cell = |name: &str| index(name).and_then(|i| row.get(i).cloned().flatten());
        let name = cell("NAME").unwrap_or_default();
        let space_type = match index("SPACE_TYPE") {
            Some(_) => cell("SPACE_TYPE").unwrap_or_else(|| "NONE".to_owned()),
            None => String::new(),
        };
        let value = |column: &str| cell(column).as_deref().and_then(number);
        if let Some(space) = value("SPACE") {
            out.push(
                Sample::gauge(INFO.0, INFO.1, space)
                    .label("tablespace_name", name.clone())
                    .label("file_format", file_format.to_owned())
                    .label(
                        "row_format",
                        cell("ROW_FORMAT").unwrap_or_else(|| "NONE".to_owned()),
                    )
                    .label("space_type", space_type),
            );
        }
        for ((family, help), column) in [(FILE, "FILE_SIZE"), (ALLOCATED, "ALLOCATED_SIZE")] {
            if let Some(v) = value(column) {
                out.push(Sample::gauge(family, help, v).label("tablespace_name", name.clone()));
            }
        }
    }
    out
}

/// `--collect.info_schema.innodb_tablespaces`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.innodb_tablespaces",
    "InnoDB tablespaces and their file sizes (information_schema.innodb_sys_tablespaces)",
    |a: &mut Assembly| {
        let server = a.server.clone();
        a.add(InnodbTablespaces { server });
    },
)
.every(Duration::from_secs(60));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn mysql_8_and_mariadb_columns() {
        let mysql8 = rows(
            &[
                "SPACE",
                "NAME",
                "ROW_FORMAT",
                "SPACE_TYPE",
                "FILE_SIZE",
                "ALLOCATED_SIZE",
            ],
            &[&["2", "app/orders", "Dynamic", "Single", "114688", "98304"]],
        );
        let mariadb = rows(
            &[
                "SPACE",
                "NAME",
                "FLAG",
                "ROW_FORMAT",
                "PAGE_SIZE",
                "FILENAME",
                "FS_BLOCK_SIZE",
                "FILE_SIZE",
                "ALLOCATED_SIZE",
            ],
            &[&[
                "5",
                "app/t",
                "21",
                "",
                "16384",
                "./app/t.ibd",
                "4096",
                "65536",
                "65536",
            ]],
        );
        let mut all = lines(&tablespaces(&mysql8));
        all.extend(lines(&tablespaces(&mariadb)));
        assert_eq!(
            all,
            [
                "gauge mysql_info_schema_innodb_tablespace_allocated_size_bytes{tablespace_name=\"app/orders\"} 98304",
                "gauge mysql_info_schema_innodb_tablespace_file_size_bytes{tablespace_name=\"app/orders\"} 114688",
                "gauge mysql_info_schema_innodb_tablespace_space_info{file_format=\"NONE\",row_format=\"Dynamic\",space_type=\"Single\",tablespace_name=\"app/orders\"} 2",
                "gauge mysql_info_schema_innodb_tablespace_allocated_size_bytes{tablespace_name=\"app/t\"} 65536",
                "gauge mysql_info_schema_innodb_tablespace_file_size_bytes{tablespace_name=\"app/t\"} 65536",
                "gauge mysql_info_schema_innodb_tablespace_space_info{file_format=\"NONE\",row_format=\"NONE\",space_type=\"\",tablespace_name=\"app/t\"} 5",
            ]
        );
    }
}
