//! Metric naming: postgres_exporter's names (the default, so dashboards keep working) or names that follow
//! Prometheus' conventions and pass `promtool check metrics` (counters end in `_total`, no gauge ends in
//! `_count`).

use std::borrow::Cow;
use std::str::FromStr;

use hubble::{CollectError, Collector, CollectorOptions, Family, MetricKind, Sample};

/// Which names to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Naming {
    /// postgres_exporter's names, as they are (promtool's naming lints flag some of them, as they flag
    /// postgres_exporter's own output).
    #[default]
    PostgresExporter,
    /// Conventional names: `_total` appended to counters that lack it, `_count` dropped from gauges.
    Prometheus,
}

impl FromStr for Naming {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "postgres_exporter" => Ok(Naming::PostgresExporter),
            "prometheus" => Ok(Naming::Prometheus),
            _ => Err(format!(
                "expected postgres_exporter or prometheus, got {s:?}"
            )),
        }
    }
}

impl Naming {
    /// The exported name of a family.
    pub fn rename(self, name: Cow<'static, str>, kind: MetricKind) -> Cow<'static, str> {
        let name = match self {
            Naming::Prometheus => without_type_words(name),
            Naming::PostgresExporter => name,
        };
        match (self, kind) {
            (Naming::PostgresExporter, _) => name,
            (Naming::Prometheus, MetricKind::Counter) if !name.ends_with("_total") => {
                format!("{name}_total").into()
            }
            (Naming::Prometheus, MetricKind::Gauge | MetricKind::Untyped)
                if name.ends_with("_count") =>
            {
                name.trim_end_matches("_count").to_owned().into()
            }
            _ => name,
        }
    }

    /// `collector` with its families renamed.
    pub fn apply<C: Collector>(self, collector: C) -> Named<C> {
        Named {
            naming: self,
            inner: collector,
        }
    }
}

/// A metric type's name as a word of a family name (`wal_summary_keep_time`, a setting of PostgreSQL 17)
/// reads to promtool as a mistyped family: the word goes to its plural.
fn without_type_words(name: Cow<'static, str>) -> Cow<'static, str> {
    const WORDS: [&str; 4] = ["counter", "gauge", "histogram", "summary"];
    let parts: Vec<&str> = name.split('_').collect();
    if !parts.iter().skip(1).any(|p| WORDS.contains(p)) {
        return name;
    }
    let renamed: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| match *p {
            "summary" if i > 0 => "summaries".to_owned(),
            w if i > 0 && WORDS.contains(&w) => format!("{w}s"),
            w => w.to_owned(),
        })
        .collect();
    renamed.join("_").into()
}

/// A collector whose families are renamed by a [`Naming`].
pub struct Named<C> {
    naming: Naming,
    inner: C,
}

impl<C: Collector> Collector for Named<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn families(&self) -> Vec<Family> {
        let mut d = self.inner.families();
        for desc in &mut d {
            desc.name = self
                .naming
                .rename(std::mem::take(&mut desc.name), desc.kind);
        }
        d
    }

    fn options(&self) -> CollectorOptions {
        self.inner.options()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let mut metrics = self.inner.collect().await?;
        if self.naming != Naming::PostgresExporter {
            for m in &mut metrics {
                m.name = self.naming.rename(std::mem::take(&mut m.name), m.kind);
            }
        }
        Ok(metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames() {
        let p = Naming::Prometheus;
        assert_eq!(
            p.rename("pg_stat_database_xact_commit".into(), MetricKind::Counter),
            "pg_stat_database_xact_commit_total"
        );
        assert_eq!(
            p.rename(
                "pg_stat_bgwriter_buffers_alloc_total".into(),
                MetricKind::Counter
            ),
            "pg_stat_bgwriter_buffers_alloc_total"
        );
        assert_eq!(
            p.rename("pg_locks_count".into(), MetricKind::Gauge),
            "pg_locks"
        );
        assert_eq!(p.rename("pg_up".into(), MetricKind::Gauge), "pg_up");
        assert_eq!(
            Naming::PostgresExporter.rename("pg_locks_count".into(), MetricKind::Gauge),
            "pg_locks_count"
        );
        assert_eq!(
            p.rename(
                "pg_settings_wal_summary_keep_time_seconds".into(),
                MetricKind::Gauge
            ),
            "pg_settings_wal_summaries_keep_time_seconds"
        );
        assert_eq!(
            Naming::PostgresExporter.rename(
                "pg_settings_wal_summary_keep_time_seconds".into(),
                MetricKind::Gauge
            ),
            "pg_settings_wal_summary_keep_time_seconds"
        );
        assert!("other".parse::<Naming>().is_err());
    }
}
