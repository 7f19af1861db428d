//! postgres_exporter's self-metrics, for the alerts and dashboards its users have (the postgres mixin's
//! exporter-error alert selects `pg_exporter_last_scrape_error`).
//!
//! hubble collects on a schedule and scrapes read the cache, so there is no "scrape" of the server to time.
//! These families are defined from the cached state of the target's other collectors, as this collector
//! finds it when it runs (on the same grid as them, so it reports the round before its own):
//!
//! | family | value |
//! |---|---|
//! | `pg_exporter_last_scrape_error` | 1 if the last run of any collector failed, else 0 |
//! | `pg_exporter_scrapes_total` | runs of `pg_up` so far: one per collection round |
//! | `pg_exporter_last_scrape_duration_seconds` | the longest last run among the collectors (they run side by side) |
//! | `pg_scrape_collector_success{collector}` | 1 if that collector's last run succeeded, else 0 |
//! | `pg_scrape_collector_duration_seconds{collector}` | that collector's last run |
//!
//! `collector` is hubble's collector name without its `pg_` prefix, which gives postgres_exporter's names
//! for the collectors both have (`stat_database`, `locks`, `settings`, ...); custom queries keep their names.
//! Collectors that have not run yet, or do not apply to the server, are left out.

use std::sync::Weak;

use hubble::{CollectError, Collector, Family, Labels, MetricKind, Sample};

use super::live::Member;

/// The collector of one target's self-metrics.
pub(crate) struct ScrapeStats {
    member: Weak<Member>,
}

impl ScrapeStats {
    /// Its name (also left out of what it reports).
    pub(crate) const NAME: &'static str = "pg_exporter";

    pub(crate) fn new(member: Weak<Member>) -> Self {
        ScrapeStats { member }
    }
}

impl Collector for ScrapeStats {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn families(&self) -> Vec<Family> {
        let none: [&str; 0] = [];
        vec![
            Family::new(
                "pg_exporter_last_scrape_error",
                ERROR_HELP,
                MetricKind::Gauge,
                none,
            ),
            Family::new(
                "pg_exporter_scrapes_total",
                SCRAPES_HELP,
                MetricKind::Counter,
                none,
            ),
            Family::new(
                "pg_exporter_last_scrape_duration_seconds",
                DURATION_HELP,
                MetricKind::Gauge,
                none,
            ),
            Family::new(
                "pg_scrape_collector_success",
                SUCCESS_HELP,
                MetricKind::Gauge,
                ["collector"],
            ),
            Family::new(
                "pg_scrape_collector_duration_seconds",
                COLLECTOR_DURATION_HELP,
                MetricKind::Gauge,
                ["collector"],
            ),
        ]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let Some(member) = self.member.upgrade() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let (mut failed, mut rounds, mut longest) = (false, 0u64, 0f64);
        // Read in place: this runs every round, and copying the status showed in profiles of collection.
        member.as_base().each_collector_health(|name, h| {
            if name == Self::NAME || h.runs == 0 || h.not_applicable.is_some() {
                return;
            }
            failed |= !h.up;
            longest = longest.max(h.last_duration.as_secs_f64());
            if name == "pg_up" {
                rounds = h.runs;
                return;
            }
            // One set for the collector's two lines.
            let labels = Labels::new()
                .with("collector", name.strip_prefix("pg_").unwrap_or(name))
                .shared();
            let mut success = Sample::gauge(
                "pg_scrape_collector_success",
                SUCCESS_HELP,
                f64::from(u8::from(h.up)),
            );
            success.labels = labels.clone();
            let mut duration = Sample::gauge(
                "pg_scrape_collector_duration_seconds",
                COLLECTOR_DURATION_HELP,
                h.last_duration.as_secs_f64(),
            );
            duration.labels = labels;
            out.extend([success, duration]);
        });
        out.push(Sample::gauge(
            "pg_exporter_last_scrape_error",
            ERROR_HELP,
            f64::from(u8::from(failed)),
        ));
        out.push(Sample::counter(
            "pg_exporter_scrapes_total",
            SCRAPES_HELP,
            rounds as f64,
        ));
        out.push(Sample::gauge(
            "pg_exporter_last_scrape_duration_seconds",
            DURATION_HELP,
            longest,
        ));
        Ok(out)
    }
}

const ERROR_HELP: &str =
    "Whether the last collection of any collector of this target failed (1 for yes, 0 for no).";
const SCRAPES_HELP: &str = "Collection rounds of this target so far (runs of pg_up).";
const DURATION_HELP: &str =
    "Duration of the slowest last run among this target's collectors, in seconds.";
const SUCCESS_HELP: &str = "Whether the collector's last run succeeded (1) or failed (0).";
const COLLECTOR_DURATION_HELP: &str = "Duration of the collector's last run, in seconds.";
