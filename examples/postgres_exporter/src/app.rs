//! The Postgres exporter program: single target or discovery-driven, served over HTTP.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hubble::cluster::Membership;
use hubble::discovery::etcd::{EtcdClient, EtcdDiscovery, EtcdForm};
use hubble::discovery::{
    ConsulBackend, ConsulConfig, ConsulPatroni, Discovery, DiscoveryError, FileSd, ServiceAtomic,
};
use hubble::dispatcher::{Dispatcher, Shard};
use hubble::{Labels, Registry, ServerConfig, WebConfigHandle};
use tokio_util::sync::CancellationToken;

use super::auth_modules::{self, AuthModules};
use super::connection::Dsn;
pub use super::live::PgExporter;
use super::live::{Holds, Live};
use super::probe::{Access, PgProber, Probes};
use super::reload::Reloader;
use super::{lifecycle, Collection};
use hubble::targets::allowlist::{Allowlist, KnownTargets, Pattern};

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
    /// The members of Patroni clusters kept in Consul's KV store under `namespace`.
    ConsulPatroni {
        /// Consul connection.
        config: ConsulConfig,
        /// Patroni's namespace (`/service/` by default).
        namespace: String,
    },
    /// Targets under an etcd prefix, or the members of Patroni clusters, followed by a watch.
    Etcd {
        /// The etcd client.
        client: EtcdClient,
        /// Which keys, read how.
        form: EtcdForm,
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
    /// Replicas sharing the discovered targets through etcd (replaces `shard`).
    pub cluster: Option<Arc<Membership>>,
    /// How long Patroni's store and a server may disagree on its role before it counts.
    pub patroni_grace: Duration,
    /// Metrics path.
    pub telemetry_path: String,
    /// How long a `/probe` target lives without being probed.
    pub probe_idle_timeout: Duration,
    /// TLS, basic auth and headers (`--web.config.file`); plain HTTP by default.
    pub web: Arc<WebConfigHandle>,
    /// Serve `POST /-/reload` and `POST /-/quit` (`--web.enable-lifecycle`).
    pub enable_lifecycle: bool,
    /// The custom queries file, re-read on reload.
    pub query_path: Option<PathBuf>,
    /// The Consul token file, re-read on reload.
    pub consul_token_file: Option<PathBuf>,
    /// Who `/probe` may reach and with which credentials.
    pub probe: ProbeConfig,
    /// Answer in OpenMetrics when the scraper asks for it: `--web.enable-openmetrics`, or the prometheus
    /// naming, where every counter is already named `..._total`.
    pub enable_openmetrics: bool,
}

/// What `/probe` may reach and with which credentials. The default allows nothing but the targets the
/// exporter exports anyway.
#[derive(Debug, Clone, Default)]
pub struct ProbeConfig {
    /// `--probe.allowed-targets`.
    pub allowed_targets: Vec<Pattern>,
    /// `--probe.allowed-targets-file`, re-read on reload.
    pub allowed_targets_file: Option<PathBuf>,
    /// `--config.file` (postgres_exporter's `auth_modules`), re-read on reload.
    pub auth_config_file: Option<PathBuf>,
    /// `--probe.allow-insecure-auth`: no authentication guard.
    pub allow_insecure_auth: bool,
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
    listener: impl Into<hubble::Listeners>,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let live = Arc::new(Live::new(config.collection.clone()));
    let known = Arc::new(KnownTargets::default());
    let allowlist = Arc::new(Allowlist::new(
        config.probe.allowed_targets.clone(),
        match &config.probe.allowed_targets_file {
            Some(path) => {
                hubble::targets::allowlist::load_file(path).map_err(anyhow::Error::msg)?
            }
            None => Vec::new(),
        },
        known.clone(),
    ));
    if allowlist.allows_any() {
        tracing::warn!(
            "/probe may reach any server (--probe.allowed-targets *): anyone who can reach this port can \
             make the exporter connect anywhere"
        );
    }
    let auth_modules = Arc::new(AuthModules::new(match &config.probe.auth_config_file {
        Some(path) => auth_modules::load(path).map_err(anyhow::Error::msg)?,
        None => Default::default(),
    }));
    if let Some(members) = &config.cluster {
        members.export_metrics(&registry);
        let (members, cancel) = (members.clone(), cancel.clone());
        // Leaves the cluster (revokes its lease) when cancelled.
        tasks.spawn(async move { members.run(cancel).await });
    }
    let mut consul_backend = None;
    let dispatch = Dispatch {
        config: &config,
        registry: &registry,
        live: &live,
        known: &known,
        cancel: &cancel,
    };
    match &config.targets {
        Targets::ProbeOnly => {
            tracing::info!("no target configured: serving /probe?target=... only")
        }
        Targets::Single(dsn) => {
            let holds = Holds {
                known: Some(known.hold(&dsn.host, dsn.port)),
                ..Holds::default()
            };
            registry
                .register(live.exporter_holding(dsn, Labels::new(), holds)?)
                .await
                .context("registering the exporter")?;
            tracing::info!(target = %dsn.redacted(), "exporting one server");
        }
        Targets::File(path) => {
            let discovery = Arc::new(Discovery::new(FileSd::new(path), "postgres"));
            spawn_dispatcher(
                &mut tasks,
                dispatch,
                "file_sd",
                listed(discovery, None),
                None,
            );
        }
        Targets::ConsulPatroni {
            config: consul,
            namespace,
        } => {
            let backend = ConsulBackend::new(consul.clone());
            consul_backend = Some(backend.clone());
            let patroni = Arc::new(ConsulPatroni::new(backend, namespace));
            let p = patroni.clone();
            spawn_role_check(
                &mut tasks,
                dispatch.reborrow(),
                Arc::new(move || p.members()),
            );
            let source = move || {
                let patroni = patroni.clone();
                async move { patroni.targets().await }
            };
            spawn_dispatcher(&mut tasks, dispatch, "consul", source, None);
        }
        Targets::Etcd { client, form } => {
            let discovery = Arc::new(EtcdDiscovery::new(client.clone(), form.clone()));
            tasks.spawn({
                let (discovery, cancel) = (discovery.clone(), cancel.clone());
                async move { discovery.run(cancel).await }
            });
            if matches!(form, EtcdForm::Patroni(_)) {
                let d = discovery.clone();
                spawn_role_check(
                    &mut tasks,
                    dispatch.reborrow(),
                    Arc::new(move || d.patroni_members()),
                );
            }
            let wake = discovery.changed();
            let source = move || {
                let discovery = discovery.clone();
                async move {
                    discovery.ready().await;
                    discovery.targets(&BTreeMap::new())
                }
            };
            spawn_dispatcher(&mut tasks, dispatch, "etcd", source, Some(wake));
        }
        Targets::Consul {
            config: consul,
            tag,
        } => {
            let mut consul = consul.clone();
            consul.tag = Some(tag.clone());
            let backend = ConsulBackend::new(consul);
            consul_backend = Some(backend.clone());
            let discovery = Arc::new(Discovery::with_params(
                backend.clone(),
                backend,
                tag.clone(),
            ));
            let source = listed(discovery, Some(tag.clone()));
            spawn_dispatcher(&mut tasks, dispatch, "consul", source, None);
        }
    }
    let reloader = Reloader::new(
        config.web.clone(),
        live.clone(),
        config.query_path.clone(),
        consul_backend.zip(config.consul_token_file.clone()),
        &registry,
    );
    let reloader = Arc::new(
        reloader.probes(
            config
                .probe
                .allowed_targets_file
                .clone()
                .map(|p| (allowlist.clone(), p)),
            config
                .probe
                .auth_config_file
                .clone()
                .map(|p| (auth_modules.clone(), p)),
        ),
    );
    let quit = cancel.child_token();
    tasks.spawn(lifecycle::on_sighup(reloader.clone(), cancel.clone()));
    let probes = Arc::new(
        Probes::new(
            PgProber::new(
                config.defaults.clone(),
                live.clone(),
                Access {
                    allowlist,
                    auth_modules,
                    allow_insecure_auth: config.probe.allow_insecure_auth,
                },
            ),
            &registry,
        )
        .idle_timeout(config.probe_idle_timeout)
        .collect_on(registry.collection_runtime())
        .enable_openmetrics(config.enable_openmetrics),
    );
    tasks.spawn({
        let (probes, cancel) = (probes.clone(), cancel.clone());
        // Closes every probed target as it ends.
        async move { probes.run_evictions(cancel).await }
    });
    let router = hubble::router(
        registry.clone(),
        ServerConfig {
            telemetry_path: config.telemetry_path.clone(),
            title: "hubble Postgres exporter".into(),
            enable_openmetrics: config.enable_openmetrics,
            catalogue: crate::collectors::CATALOGUE.summary(&config.collection.collectors),
            collect_param: None,
            cluster: config.cluster.clone(),
        },
    )
    .merge(
        axum::Router::new()
            .route(
                "/probe",
                axum::routing::get(hubble::targets::probe::handler::<PgProber>),
            )
            .with_state(probes),
    )
    .merge(super::role::router(super::role::Roles::new(
        live.clone(),
        config.collection.schedule.timeout,
    )))
    .merge(lifecycle::router(
        config.enable_lifecycle.then_some(reloader),
        quit.clone(),
    ));
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            () = quit.cancelled() => tracing::info!("quit requested over HTTP: shutting down"),
        }
    };
    let served = hubble::serve_with(listener, router, config.web.clone(), shutdown).await;
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
    registry.close_all().await;
    served.context("serving HTTP")
}

/// What the dispatcher task needs besides its discovery.
struct Dispatch<'a> {
    config: &'a Config,
    registry: &'a Registry,
    live: &'a Arc<Live>,
    known: &'a Arc<KnownTargets>,
    cancel: &'a CancellationToken,
}

impl Dispatch<'_> {
    fn reborrow(&self) -> Dispatch<'_> {
        Dispatch { ..*self }
    }
}

/// Compares Patroni's `members` with their servers' own view (`hubble_patroni_role_disagreements`).
fn spawn_role_check(
    tasks: &mut tokio::task::JoinSet<()>,
    dispatch: Dispatch<'_>,
    members: super::patroni::Members,
) {
    let check = super::patroni::RoleCheck::new(
        members,
        dispatch.live.clone(),
        dispatch.config.patroni_grace,
        dispatch.registry,
    );
    let schedule = &dispatch.config.collection.schedule;
    let (interval, timeout, cancel) =
        (schedule.interval, schedule.timeout, dispatch.cancel.clone());
    tasks.spawn(async move { check.run(interval, timeout, cancel).await });
}

/// One discovery's answer, boxed: the listing backends' sources share one type.
type Listing =
    std::pin::Pin<Box<dyn Future<Output = Result<Vec<ServiceAtomic>, DiscoveryError>> + Send>>;

/// The targets of a listing discovery, those carrying `tag` when given.
fn listed<L, P>(
    discovery: Arc<Discovery<L, P>>,
    tag: Option<String>,
) -> impl Fn() -> Listing + Send + Sync + 'static
where
    L: hubble::discovery::ServiceLister,
    P: hubble::discovery::ParamsSource,
{
    move || {
        let (discovery, tag) = (discovery.clone(), tag.clone());
        Box::pin(async move {
            let filter =
                |s: &hubble::discovery::Service| tag.as_ref().is_none_or(|t| s.tags.contains(t));
            discovery.targets(filter, &BTreeMap::new()).await
        })
    }
}

fn spawn_dispatcher<F, Fut>(
    tasks: &mut tokio::task::JoinSet<()>,
    Dispatch {
        config,
        registry,
        live,
        known,
        cancel,
    }: Dispatch<'_>,
    backend: &'static str,
    source: F,
    wake: Option<Arc<tokio::sync::Notify>>,
) where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<ServiceAtomic>, DiscoveryError>> + Send,
{
    let mut dispatcher =
        Dispatcher::<PgExporter>::new(config.discovery_interval, backend, registry.clone());
    if let Some(members) = &config.cluster {
        dispatcher = dispatcher.members(members.clone());
    } else if let Some(shard) = config.shard {
        dispatcher = dispatcher.shard(shard);
    }
    if let Some(wake) = wake {
        dispatcher = dispatcher.wake_on(wake);
    }
    let (defaults, cancel, live, known) = (
        config.defaults.clone(),
        cancel.clone(),
        live.clone(),
        known.clone(),
    );
    tasks.spawn(async move {
        let factory = |svc: ServiceAtomic| {
            let dsn = target_dsn(&svc, &defaults);
            // A discovered server may be probed too (e.g. with another auth module) while it is discovered.
            let holds = Holds {
                known: Some(known.hold(&dsn.host, dsn.port)),
                ..Holds::default()
            };
            let exporter = live.exporter_holding(&dsn, svc.labels, holds);
            async move { exporter }
        };
        dispatcher.manage(source, factory, cancel).await;
    });
}
