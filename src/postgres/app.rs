//! The Postgres exporter program: single target or discovery-driven, served over HTTP.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hubble::discovery::{ConsulBackend, ConsulConfig, FileSd, Hubble, ServiceAtomic};
use hubble::dispatcher::{Dispatcher, Shard};
use hubble::{BaseExporter, Exporter, ExporterError, Labels, Registry, ServerConfig};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::connection::Dsn;
use super::custom::CustomCollector;
use super::probe::{self, Probes};
use super::up::PgUp;
use super::{exporter, Collection};

/// Where targets come from.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Only what `/probe` asks for.
    ProbeOnly,
    /// One server.
    Single(Dsn),
    /// A Prometheus file_sd file.
    File(PathBuf),
    /// Consul services carrying `tag`; the tag is also the exporter name of the params key.
    Consul {
        /// Consul connection.
        config: ConsulConfig,
        /// Service tag.
        tag: String,
    },
}

/// Everything the program runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Targets.
    pub targets: Targets,
    /// Defaults for discovered targets (user, password, dbname, sslmode), overridden by exporter options.
    pub defaults: Dsn,
    /// What is collected, how often, under which names.
    pub collection: Collection,
    /// Discovery interval.
    pub discovery_interval: Duration,
    /// This replica's share of discovered targets.
    pub shard: Option<Shard>,
    /// Metrics path.
    pub telemetry_path: String,
    /// How long a `/probe` target lives without being probed.
    pub probe_idle_timeout: Duration,
}

/// One target's exporter: the base exporter plus its pool, closed together.
pub struct PgExporter {
    base: BaseExporter,
    pool: PgPool,
}

impl PgExporter {
    /// The exporter of `dsn`, with `labels` (plus `server`) on every series.
    pub fn new(
        dsn: &Dsn,
        mut labels: Labels,
        collection: &Collection,
    ) -> Result<Self, ExporterError> {
        let pool = dsn
            .pool(collection.pool_size.max(1), collection.schedule.timeout)
            .map_err(|e| ExporterError::Setup {
                exporter: "postgres".into(),
                source: e.into(),
            })?;
        labels.insert("server", dsn.server());
        let base = if collection.disable_default_metrics {
            BaseExporter::builder("postgres")
                .const_labels(labels)
                .interval(collection.schedule.interval)
                .timeout(collection.schedule.timeout)
                .max_series(collection.schedule.max_series)
                .collector(collection.naming.apply(PgUp::new(pool.clone())))
                .build()?
        } else {
            exporter(&pool, labels, collection.schedule, collection.naming)?
        };
        for q in &collection.custom_queries {
            base.add_collector(
                collection
                    .naming
                    .apply(CustomCollector::new(q.clone(), pool.clone())),
            )?;
        }
        Ok(PgExporter { base, pool })
    }
}

impl Exporter for PgExporter {
    fn base(&self) -> &BaseExporter {
        &self.base
    }

    async fn close(&self) {
        self.base.close().await;
        // Its connections leave pg_stat_activity now, not when the last handle happens to drop.
        self.pool.close().await;
    }
}

/// The DSN of a discovered target: its address, then its exporter options, then the defaults.
pub fn target_dsn(svc: &ServiceAtomic, defaults: &Dsn) -> Dsn {
    Dsn {
        host: svc.address.clone(),
        port: svc.port,
        ..Dsn::default()
    }
    .with_options(&svc.exporter_options)
    .or_defaults(defaults)
}

/// Runs the exporter until `shutdown`, then closes every target's exporter and pool.
pub async fn run(
    config: Config,
    listener: TcpListener,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    match &config.targets {
        Targets::ProbeOnly => {
            tracing::info!("no target configured: serving /probe?target=... only")
        }
        Targets::Single(dsn) => {
            registry
                .register(PgExporter::new(dsn, Labels::new(), &config.collection)?)
                .await
                .context("registering the exporter")?;
            tracing::info!(target = %dsn.redacted(), "exporting one server");
        }
        Targets::File(path) => {
            let hubble = Arc::new(Hubble::new(FileSd::new(path), "postgres"));
            spawn_dispatcher(
                &mut tasks, &config, &registry, &cancel, "file_sd", hubble, None,
            );
        }
        Targets::Consul {
            config: consul,
            tag,
        } => {
            let mut consul = consul.clone();
            consul.tag = Some(tag.clone());
            let backend = ConsulBackend::new(consul);
            let hubble = Arc::new(Hubble::with_params(backend.clone(), backend, tag.clone()));
            spawn_dispatcher(
                &mut tasks,
                &config,
                &registry,
                &cancel,
                "consul",
                hubble,
                Some(tag.clone()),
            );
        }
    }
    let probes = Arc::new(Probes::new(
        config.defaults.clone(),
        config.collection.clone(),
        config.probe_idle_timeout,
    ));
    tasks.spawn({
        let (probes, cancel) = (probes.clone(), cancel.clone());
        let every = (config.probe_idle_timeout / 4).max(Duration::from_millis(100));
        async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(every) => { probes.evict_idle().await; }
                }
            }
            probes.close().await;
        }
    });
    let router = hubble::router(
        registry.clone(),
        ServerConfig {
            telemetry_path: config.telemetry_path.clone(),
            title: "hubble Postgres exporter".into(),
        },
    )
    .merge(
        axum::Router::new()
            .route("/probe", axum::routing::get(probe::handler))
            .with_state(probes),
    );
    tracing::info!(address = %listener.local_addr()?, path = %config.telemetry_path, "serving metrics");
    let served = hubble::serve(listener, router, shutdown).await;
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
    registry.close_all().await;
    served.context("serving HTTP")
}

fn spawn_dispatcher<L, P>(
    tasks: &mut tokio::task::JoinSet<()>,
    config: &Config,
    registry: &Registry,
    cancel: &CancellationToken,
    backend: &'static str,
    hubble: Arc<Hubble<L, P>>,
    tag: Option<String>,
) where
    L: hubble::discovery::ServiceLister,
    P: hubble::discovery::ParamsSource,
{
    let mut dispatcher =
        Dispatcher::<PgExporter>::new(config.discovery_interval, backend, registry.clone());
    if let Some(shard) = config.shard {
        dispatcher = dispatcher.shard(shard);
    }
    let (defaults, cancel) = (config.defaults.clone(), cancel.clone());
    let collection = Arc::new(config.collection.clone());
    tasks.spawn(async move {
        let source = move || {
            let (hubble, tag) = (hubble.clone(), tag.clone());
            async move {
                let filter = |s: &hubble::discovery::Service| {
                    tag.as_ref().is_none_or(|t| s.tags.contains(t))
                };
                hubble.targets(filter, &BTreeMap::new()).await
            }
        };
        let factory = |svc: ServiceAtomic| {
            let dsn = target_dsn(&svc, &defaults);
            let collection = collection.clone();
            async move { PgExporter::new(&dsn, svc.labels, &collection) }
        };
        dispatcher.manage(source, factory, cancel).await;
    });
}
