//! mysqld_exporter's `info_schema.innodb_cmp`: InnoDB page compression per page size.

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{Family, MetricKind, Sample};

use super::{cell, Assembly};

/// (column, family, help, scale) of `information_schema.innodb_cmp`.
const CMP: [(&str, &str, &str, f64); 5] = [
    (
        "compress_ops",
        "mysql_info_schema_innodb_cmp_compress_ops_total",
        "Pages compressed",
        1.0,
    ),
    (
        "compress_ops_ok",
        "mysql_info_schema_innodb_cmp_compress_ops_ok_total",
        "Pages compressed successfully",
        1.0,
    ),
    (
        "compress_time",
        "mysql_info_schema_innodb_cmp_compress_time_seconds_total",
        "Seconds spent compressing pages",
        1.0,
    ),
    (
        "uncompress_ops",
        "mysql_info_schema_innodb_cmp_uncompress_ops_total",
        "Pages uncompressed",
        1.0,
    ),
    (
        "uncompress_time",
        "mysql_info_schema_innodb_cmp_uncompress_time_seconds_total",
        "Seconds spent uncompressing pages",
        1.0,
    ),
];

fn cmp_descriptors() -> Vec<Family> {
    CMP.iter()
        .map(|(_, f, h, _)| Family::new(*f, *h, MetricKind::Counter, ["page_size"]))
        .collect()
}

/// `information_schema.innodb_cmp`, one series per page size.
pub fn innodb_cmp(answer: &TextRows) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &answer.rows {
        let page = answer
            .column("page_size")
            .and_then(|i| row[i].clone())
            .unwrap_or_default();
        for (column, family, help, scale) in CMP {
            if let Some(v) = cell(answer, row, column) {
                out.push(Sample::counter(family, help, v * scale).label("page_size", page.clone()));
            }
        }
    }
    out
}

/// `--collect.info_schema.innodb_cmp`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "info_schema.innodb_cmp",
    "InnoDB page compression per page size (information_schema.innodb_cmp)",
    |a| {
        a.rows(
            "info_schema.innodb_cmp",
            &["SELECT page_size, compress_ops, compress_ops_ok, compress_time, uncompress_ops, uncompress_time \
               FROM information_schema.innodb_cmp"],
            cmp_descriptors,
            innodb_cmp,
        );
    },
);
