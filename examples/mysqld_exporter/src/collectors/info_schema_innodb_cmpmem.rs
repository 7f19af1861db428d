//! mysqld_exporter's `info_schema.innodb_cmpmem`: the compressed pages in each buffer pool.

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{Family, MetricKind, Sample};

use super::{cell, Assembly};

/// (column, family, help, scale) of `information_schema.innodb_cmpmem`; relocation time is in milliseconds.
const CMPMEM: [(&str, &str, &str, f64); 4] = [
    (
        "pages_used",
        "mysql_info_schema_innodb_cmpmem_pages_used_total",
        "Compressed pages in use in the buffer pool",
        1.0,
    ),
    (
        "pages_free",
        "mysql_info_schema_innodb_cmpmem_pages_free_total",
        "Compressed pages free in the buffer pool",
        1.0,
    ),
    (
        "relocation_ops",
        "mysql_info_schema_innodb_cmpmem_relocation_ops_total",
        "Compressed pages relocated in the buffer pool",
        1.0,
    ),
    (
        "relocation_time",
        "mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total",
        "Seconds spent relocating compressed pages",
        1e-3,
    ),
];

fn cmpmem_descriptors() -> Vec<Family> {
    CMPMEM
        .iter()
        .map(|(_, f, h, _)| Family::new(*f, *h, MetricKind::Counter, ["page_size", "buffer_pool"]))
        .collect()
}

/// `information_schema.innodb_cmpmem`, one series per page size and buffer pool instance.
pub fn innodb_cmpmem(answer: &TextRows) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &answer.rows {
        let text = |c: &str| {
            answer
                .column(c)
                .and_then(|i| row[i].clone())
                .unwrap_or_default()
        };
        let (page, pool) = (text("page_size"), text("buffer_pool_instance"));
        for (column, family, help, scale) in CMPMEM {
            if let Some(v) = cell(answer, row, column) {
                out.push(
                    Sample::counter(family, help, v * scale)
                        .label("page_size", page.clone())
                        .label("buffer_pool", pool.clone()),
                );
            }
        }
    }
    out
}

/// `--collect.info_schema.innodb_cmpmem`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "info_schema.innodb_cmpmem",
    "Compressed pages in the InnoDB buffer pool (information_schema.innodb_cmpmem)",
    |a| {
        a.rows(
            "info_schema.innodb_cmpmem",
            &["SELECT page_size, buffer_pool_instance, pages_used, pages_free, relocation_ops, relocation_time \
               FROM information_schema.innodb_cmpmem"],
            cmpmem_descriptors,
            innodb_cmpmem,
        );
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn compression_in_seconds() {
        let answer = rows(
            &[
                "page_size",
                "buffer_pool_instance",
                "pages_used",
                "pages_free",
                "relocation_ops",
                "relocation_time",
            ],
            &[&["1024", "0", "1", "2", "3", "1500"]],
        );
        assert!(lines(&innodb_cmpmem(&answer)).contains(
            &"counter mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total{buffer_pool=\"0\",page_size=\"1024\"} 1.5".to_owned()
        ));
    }
}
