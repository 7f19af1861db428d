#![doc = include_str!("../../README.md")]

pub mod cache;
pub mod collector;
pub mod encode;
pub mod exporter;
pub mod metric;
pub mod registry;
mod scheduler;
pub mod server;

pub use cache::CollectorHealth;
pub use collector::{CollectError, Desc, MetricCollector};
pub use encode::Format;
pub use exporter::{
    BaseExporter, BaseExporterBuilder, CollectorOptions, CollectorStatus, Exporter, ExporterError,
    ExporterStatus,
};
pub use metric::{LabelValue, Labels, Metric, MetricKind, MetricValue, ValueError};
pub use registry::{default_registry, RegisterError, Registry};
pub use server::{router, serve, shutdown_signal, ServerConfig};

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
