//! mysqld_exporter's own self-metrics, `mysql_exporter_collector_success{collector}` and
//! `mysql_exporter_collector_duration_seconds{collector}`, read from hubble's collector health at scrape time:
//! dashboards written for mysqld_exporter 0.20 use them. Labelled as upstream labels them, `collect.<name>`,
//! and `connection` for the `mysql_up` check; a collector that has not run yet or does not apply to the
//! server has none, as upstream skips a scraper the server's version lacks. Only the exporter's own server
//! is described (discovered and probed servers have hubble's self-metrics).

use hubble::prometheus::core::{Collector, Desc};
use hubble::prometheus::proto::MetricFamily;
use hubble::prometheus::{GaugeVec, Opts};

/// The collector, over the registry the exporter's own server is registered in.
pub struct UpstreamSelfMetrics {
    registry: hubble::Registry,
    success: GaugeVec,
    duration: GaugeVec,
}

impl UpstreamSelfMetrics {
    /// Reads the exporters of `registry` that have no constant labels (the exporter's own server).
    pub fn new(registry: hubble::Registry) -> Self {
        let gauge = |name: &str, help: &str| {
            GaugeVec::new(Opts::new(name, help), &["collector"]).expect("valid metric")
        };
        UpstreamSelfMetrics {
            registry,
            success: gauge(
                "mysql_exporter_collector_success",
                "mysqld_exporter: Whether a collector succeeded.",
            ),
            duration: gauge(
                "mysql_exporter_collector_duration_seconds",
                "Collector time duration.",
            ),
        }
    }
}

impl Collector for UpstreamSelfMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.success
            .desc()
            .into_iter()
            .chain(self.duration.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.success.reset();
        self.duration.reset();
        let own = self
            .registry
            .status()
            .into_iter()
            .filter(|e| e.const_labels.is_empty());
        for collector in own.flat_map(|e| e.collectors) {
            let h = &collector.health;
            if h.runs == 0 || h.not_applicable.is_some() {
                continue;
            }
            // The connection check has a duration but no success of its own upstream: mysql_up says it.
            let label = match collector.name.as_str() {
                "mysql_up" => "connection".to_owned(),
                name => {
                    let label = format!("collect.{name}");
                    self.success
                        .with_label_values(&[&label])
                        .set(f64::from(u8::from(h.up)));
                    label
                }
            };
            self.duration
                .with_label_values(&[&label])
                .set(h.last_duration.as_secs_f64());
        }
        // A family without series is left out (before the first run).
        let mut families = self.success.collect();
        families.extend(self.duration.collect());
        families.retain(|f| !f.get_metric().is_empty());
        families
    }
}
