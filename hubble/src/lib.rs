#![doc = include_str!("../../README.md")]

#[doc(hidden)]
pub mod bench_api;
mod body;
pub mod cache;
pub mod collector;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod connections;
pub mod discovery;
pub mod dispatcher;
pub mod encode;
pub mod exporter;
pub mod group;
pub mod metric;
pub mod redact;
pub mod registry;
pub mod runtime;
mod scheduler;
pub mod server;
pub mod web;
pub mod yaml;

pub use cache::CollectorHealth;
pub use collector::{CollectError, Collector, CollectorOptions, Desc};
pub use encode::Format;
pub use exporter::{
    BaseExporter, BaseExporterBuilder, CollectorStatus, Exporter, ExporterError, ExporterStatus,
};
pub use group::{group_fn, FnCollector, MetricGroup, SqlCollector, SqlQuery};
/// Derives [`MetricGroup`] for a struct of columns: a declared group, which [`SqlCollector`] (a query) or
/// [`group_fn`] (code) turns into a [`Collector`]. See the crate docs.
pub use hubble_derive::MetricCollector;
pub use metric::{LabelValue, Labels, Metric, MetricKind, MetricValue, ValueError};
pub use registry::{default_registry, RegisterError, Registry};
pub use server::{metrics_response, router, serve, serve_with, shutdown_signal, ServerConfig};
pub use web::{WebConfig, WebConfigError, WebConfigHandle};

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
    pub use std::borrow::Cow;
    pub use std::clone::Clone;
    pub use std::option::Option;
    pub use std::result::Result;
    pub use std::time::Duration;
    pub use std::unreachable;
    pub use std::vec;
    pub use std::vec::Vec;
}
