//! A Prometheus exporter for MySQL and MariaDB built on hubble: a drop-in for prometheus/mysqld_exporter's
//! default collectors (`global_status`, `global_variables`, `slave_status`, `info_schema.innodb_cmp`,
//! `info_schema.innodb_cmpmem`, `info_schema.query_response_time`), with its names and labels, `mysql_up` and
//! port 9104.
//!
//! Most of MySQL's figures come one per row (`SHOW GLOBAL STATUS`: a name and a value): each is read as text
//! over the text protocol ([`hubble::text_rows`]) and becomes its own family, named from the row
//! ([`value`] turns `ON`, `Yes`, timestamps and log file names into numbers as mysqld_exporter does).
//!
//! The data path: a query's rows ([`hubble::text_rows::TextRows`]) → [`collectors`] (what each row or column
//! becomes) → hubble's cache → `/metrics`.

pub mod app;
pub mod collectors;
pub mod mycnf;
pub mod probe;
pub mod self_metrics;
pub mod value;
