//! Build Prometheus exporters by **declaring** metric groups instead of hand-writing collectors.
//!
//! A `#[derive(MetricGroup)]` turns a struct (one field per column of a query row: labels and values)
//! into a [`MetricGroup`]. [`SqlCollector`] runs its query, or [`group_fn`] fills it from code; either is a
//! [`Collector`]. A [`BaseExporter`] schedules its collectors (every 15 s unless told otherwise), caches each
//! one's encoded result, and a [`Registry`] serves them all on `/metrics` ([`router`], [`serve`]): a scrape
//! reads the cache and never waits on the monitored system. [`discovery`] and [`dispatcher`] run one exporter
//! per discovered target.
//!
//! ```
//! use std::time::Duration;
//! use hubble::{BaseExporter, MetricGroup, SqlCollector};
//!
//! /// Jobs per queue and state.
//! #[derive(sqlx::FromRow, MetricGroup)]
//! #[hubble(query = "SELECT queue, state, COUNT(*) AS jobs FROM jobs GROUP BY queue, state", prefix = "app_jobs")]
//! struct JobsByState {
//!     #[metric(label)]
//!     queue: String,
//!     #[metric(label)]
//!     state: String,
//!     /// Jobs in this queue and state.
//!     #[metric(gauge, rename = "current")]
//!     jobs: i64,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! sqlx::query("CREATE TABLE jobs (queue TEXT, state TEXT)").execute(&pool).await?;
//! let exporter = BaseExporter::builder("app")
//!     .interval(Duration::from_secs(30))
//!     .collector(SqlCollector::<JobsByState, sqlx::Sqlite>::new(pool))
//!     .build()?;
//! let exporter = hubble::register(exporter).await?; // set up, checked for collisions, collecting
//! let router = hubble::router(hubble::default_registry().clone(), hubble::ServerConfig::default());
//! // hubble::serve(listener, router, hubble::shutdown_signal()).await?;
//! # let _ = router;
//! hubble::unregister(&*exporter).await;
//! # Ok(())
//! # }
//! ```
//!
//! A mistake in a declaration (an invalid metric or label name, a reserved label, two fields exporting one
//! metric, a field type that cannot be a value) is a compile error at the offending field.
//!
//! Logs go through [`tracing`](https://docs.rs/tracing): install a subscriber (e.g. `tracing-subscriber`) to
//! see them. Instruments registered in [`Registry::prometheus`] are served as they are, without the
//! exporters' constant labels.
//!
//! # Feature flags
//!
//! - `sqlite`, `postgres`, `mysql` (MySQL and MariaDB): [`SqlCollector`] over that sqlx driver (and the
//!   `connections` module).
//! - `decimal`: `rust_decimal::Decimal` values (PostgreSQL `NUMERIC`).
//! - `chrono`: `chrono` timestamps as Unix seconds.
//! - `bench`: entry points for the repository's criterion benchmarks; not public API.
//!
//! The crate's README (`hubble/README.md` in [the repository](https://github.com/hubble-rs/hubble)) is the
//! guide: declaring groups, the API tour, discovery, self-metrics, HTTP endpoints. The exporters built on
//! hubble (an SQLite demo and drop-ins for postgres_exporter, mysqld_exporter, pgbouncer_exporter and
//! pgpool2_exporter) live under `examples/`, each with its own README; [`catalogue`] is how they name their
//! collectors.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_debug_implementations, unreachable_pub)]

/// The handshake-signature half of a rustls certificate verifier (TLS 1.2 and 1.3 signatures, the schemes
/// offered), which each verifier here either hands to an inner verifier (`inner field`) or checks against a
/// set of algorithms (`algorithms field.path`).
macro_rules! handshake_signatures {
    (inner $($field:tt).+) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls_pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.$($field).+.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls_pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.$($field).+.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.$($field).+.supported_verify_schemes()
        }
    };
    (algorithms $($field:tt).+) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls_pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.$($field).+)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls_pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.$($field).+)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.$($field).+.supported_schemes()
        }
    };
}

#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench_api;
mod body;
mod cache;
pub mod catalogue;
pub mod cluster;
mod collector;
mod condition;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql")))
)]
pub mod connections;
pub mod discovery;
pub mod dispatcher;
mod encode;
mod exporter;
mod from_text;
mod group;
mod histogram;
mod metric;
pub mod process;
mod redact;
mod registry;
pub mod runtime;
mod scheduler;
mod server;
mod summary;
pub mod targets;
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "mysql"))))]
pub mod text_rows;
pub mod web;
pub mod yaml;

pub use body::Body;
pub use cache::CollectorHealth;
pub use collector::{CollectError, Collector, CollectorOptions, Family};
pub use condition::{Condition, FactsProbe, Role, TargetFacts};
pub use encode::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use exporter::{
    BaseExporter, BaseExporterBuilder, CollectorStatus, Exporter, ExporterError, ExporterStatus,
};
pub use from_text::FromText;
pub use group::{group_fn, FnCollector, MetricGroup, SqlCollector, SqlQuery, SqlSource};
pub use histogram::{Histogram, ValueList};
/// The former name of the [`MetricGroup`](derive@MetricGroup) derive, kept for declarations written
/// in 0.1; it warns (deprecated) at the struct.
#[doc(inline)]
pub use hubble_derive::MetricCollector;
/// Derives [`MetricGroup`] for a struct of columns: a declared group, which [`SqlCollector`] (a query) or
/// [`group_fn`] (code) turns into a [`Collector`]. Each row of the query (or each value the code returns)
/// becomes one sample per value field, labelled by its label fields.
///
/// ```
/// use hubble::MetricGroup;
///
/// /// Orders per shop.
/// #[derive(sqlx::FromRow, MetricGroup)]
/// #[hubble(
///     query = "SELECT shop, COUNT(*) AS open, SUM(refunds) AS refunds FROM orders GROUP BY shop",
///     prefix = "shop_orders",
///     interval = "30s",
///     const_labels(source = "sqlite"),
/// )]
/// struct Orders {
///     #[metric(label)]
///     shop: String,
///     /// Orders not shipped yet.
///     #[metric(gauge)]
///     open: i64,
///     /// Orders refunded since the shop opened.
///     #[metric(counter, rename = "refunds_total")]
///     refunds: Option<i64>,
/// }
/// # fn main() {}
/// ```
///
/// # On the struct: `#[hubble(...)]`
///
/// | key | meaning |
/// |---|---|
/// | `query = "..."` | the SQL query; each row is one value of the struct (with `sqlx::FromRow`). Without it the group is filled by code ([`group_fn`]), and using it as a [`SqlCollector`] is a compile error. |
/// | `prefix = "..."` | metric names are `<prefix>_<field or rename>`. |
/// | `name = "..."` | the collector's name (the `collector` label of the self-metrics); default: the prefix, else the struct's name in snake case. |
/// | `interval = "30s"`, `timeout = "5s"` | this group's schedule, overriding the exporter's (`ms`, `s`, `m`, `h`, combinable: `1m30s`); a timeout over the interval is a compile error. |
/// | `const_labels(name = "value", ...)` | labels on every sample of the group. |
/// | `per_database` | the query reads one database's objects: an exporter visiting every database runs it in each, with a `datname` label ([`MetricGroup::PER_DATABASE`]). |
/// | `simple_query` | send the query over the simple protocol: one round trip, never prepared ([`SqlQuery::SIMPLE_QUERY`]). |
/// | `min_version = N`, `max_version = N`, `role = "primary"` or `"replica"` | the targets the group applies to, checked against the exporter's [`FactsProbe`]; elsewhere the group is not applicable, with the reason. |
/// | `names_as_declared` | keep names promtool objects to, where an established exporter's dashboards need them. |
///
/// # On a field: `#[metric(...)]`
///
/// Exactly one role: `gauge`, `counter`, `untyped`, `histogram` (the bucket bounds; the counts, sum and count
/// come from the fields `<field>_bucket`, `<field>_sum`, `<field>_count`), `label`, `family_name` (the row's
/// value is exported as the family `<prefix>_<this column>`), `family_help` (that family's help), or `skip`.
/// Besides the role: `rename = "..."` (the metric or label name) and `help = "..."` (else the doc comment).
///
/// Value fields take integers, floats, `bool`, numeric strings, `SystemTime`, `Duration`, `Decimal` (feature
/// `decimal`), `chrono` timestamps (feature `chrono`) and `Option` of those (`None`: no sample). Label fields
/// take strings, integers, `bool`, `char` and `Option` of those (`None`: the empty value).
///
/// # Compile errors, at the offending field or key
///
/// An invalid metric or label name; a reserved label (`le`, `quantile`, `__*`); two fields making one metric or
/// label; a label that is also a constant label; a value field without help text; no value field; a field
/// without a role, or with two; an unknown or repeated key (with the nearest known one); a float label; a
/// histogram missing a part; a name promtool rejects (a counter not ending in `_total`, `_total` on a gauge,
/// `_count`, `_sum` or `_bucket` outside a histogram) unless the group says `names_as_declared`. All of a
/// declaration's mistakes are reported in one compile.
#[doc(inline)]
pub use hubble_derive::MetricGroup;
pub use summary::Summary;
/// The former name of [`Sample`].
#[deprecated(
    since = "0.2.0",
    note = "`Metric` is now `Sample` (one sample; `Family` is a family)"
)]
pub type Metric = Sample;
pub use metric::{
    is_reserved_label_name, is_valid_label_name, is_valid_metric_name, LabelValue, Labels,
    MetricKind, MetricValue, Sample, ValueError,
};
pub use registry::{default_registry, RegisterError, Registry};
pub use server::{
    metrics_response, metrics_response_with, router, serve, serve_with, shutdown_signal,
    CollectSelection, Listeners, ServerConfig,
};
pub use web::{WebConfig, WebConfigError, WebConfigHandle};

/// The `prometheus` crate hubble uses, for instruments registered in [`Registry::prometheus`].
pub use prometheus;
/// The `sqlx` crate hubble uses, with the drivers of the enabled features.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql")))
)]
pub use sqlx;

/// Runs the README's examples as doc tests, so the repository's front page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

use std::sync::Arc;

/// Sets the exporter up, adds it to the [default registry](default_registry) and starts its collectors.
///
/// See [`Registry::register`].
pub async fn register<E: Exporter>(exporter: E) -> Result<Arc<E>, RegisterError> {
    default_registry().register(exporter).await
}

/// Removes the exporter from the [default registry](default_registry) (its series vanish at once) and
/// closes it. See [`Registry::unregister`].
pub async fn unregister<E: Exporter>(exporter: &E) -> bool {
    default_registry().unregister(exporter).await
}

/// Paths used by generated code. Not public API.
#[doc(hidden)]
pub mod __private {
    /// Used by `#[derive(MetricCollector)]`, so that the old name warns where it is written.
    #[deprecated(
        since = "0.2.0",
        note = "`#[derive(MetricCollector)]` is now `#[derive(MetricGroup)]`"
    )]
    pub const fn derive_metric_collector_is_renamed_metric_group() {}

    pub use crate::from_text::{column_error, FromText};
    pub use std::borrow::Cow;
    pub use std::clone::Clone;
    pub use std::option::Option;
    pub use std::result::Result;
    pub use std::time::Duration;
    pub use std::unreachable;
    pub use std::vec;
    pub use std::vec::Vec;

    /// The family a `#[metric(family_name)]` row names: `<prefix>_<name>`, each character a metric name
    /// cannot hold replaced by `_` (the name comes from data: `Innodb-buffer.pool` becomes
    /// `Innodb_buffer_pool`).
    pub fn family_name(prefix: &str, name: &str) -> String {
        let mut out = String::with_capacity(prefix.len() + 1 + name.len());
        if !prefix.is_empty() {
            out.push_str(prefix);
            out.push('_');
        } else if name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('_');
        }
        out.extend(name.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        }));
        out
    }
}
