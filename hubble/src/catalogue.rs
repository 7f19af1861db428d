//! A collector catalogue: each collector an exporter offers, declared once with its name, whether it runs by
//! default, its help and what it builds.
//!
//! Exporters in the Prometheus tradition turn collectors on and off by name (postgres_exporter's
//! `--collector.<name>` / `--no-collector.<name>`, mysqld_exporter's `--collect.<name>`). A [`Catalogue`]
//! is the one list those names come from: the flags and their help (`hubble-cli` generates them), the
//! defaults, the status page's list ([`Catalogue::summary`]) and the build ([`Catalogue::build`]) all read
//! it, so a collector cannot be offered and never built, and a name cannot be misspelt in one place only.
//! Names the incumbent has and the exporter does not ([`Catalogue::upstream_only`]) are accepted, so its
//! users' command lines start, and logged as ignored.
//!
//! What a collector builds is up to the exporter: [`Entry::build`] gets a mutable `T`, the exporter's own
//! assembly of one target (its connections, options and a [`BaseExporterBuilder`]).
//!
//! ```
//! use std::time::Duration;
//! use hubble::catalogue::{Catalogue, Entry};
//! use hubble::{BaseExporter, BaseExporterBuilder};
//!
//! /// One target's exporter being put together.
//! struct Assembly {
//!     builder: BaseExporterBuilder,
//!     collectors: Vec<&'static str>,
//! }
//!
//! impl AsMut<BaseExporterBuilder> for Assembly {
//!     fn as_mut(&mut self) -> &mut BaseExporterBuilder {
//!         &mut self.builder
//!     }
//! }
//!
//! const CATALOGUE: Catalogue<Assembly> = Catalogue::new(
//!     "collector.",
//!     &[
//!         // Sizes change slowly: asked every minute unless the exporter's interval is longer.
//!         Entry::on("database", "Database sizes", |a: &mut Assembly| a.collectors.push("pg_database"))
//!             .every(Duration::from_secs(60)),
//!         Entry::off("stat_statements", "Query statistics", |a: &mut Assembly| a.collectors.push("pg_stat_statements")),
//!     ],
//! );
//!
//! let mut selection = CATALOGUE.defaults();
//! selection.set("stat_statements", true).unwrap();
//! let builder = BaseExporter::builder("db1").interval(Duration::from_secs(15));
//! let mut assembly = Assembly { builder, collectors: Vec::new() };
//! CATALOGUE.build(&selection, &mut assembly);
//! assert_eq!(assembly.collectors, ["pg_database", "pg_stat_statements"]);
//!
//! let fifteen = Duration::from_secs(15);
//! assert_eq!(selection.interval("database", fifteen), Some(Duration::from_secs(60)));
//! assert_eq!(selection.interval("database", Duration::from_secs(120)), None);
//! selection.set_interval("stat_statements", Duration::from_secs(300)).unwrap();
//! assert_eq!(selection.interval("stat_statements", fifteen), Some(Duration::from_secs(300)));
//!
//! let err = selection.set("stat_statement", true).unwrap_err();
//! assert_eq!(err.to_string(), "--collector.stat_statement: unknown collector; did you mean stat_statements?");
//! ```

use std::fmt;
use std::time::Duration;

use crate::BaseExporterBuilder;

/// One collector of a [`Catalogue`].
pub struct Entry<T: 'static> {
    /// Its name in the flags (`--collector.<name>`) and on the status page.
    pub name: &'static str,
    /// Whether it runs unless turned off.
    pub default: bool,
    /// One line for `--help`: what it exports.
    pub help: &'static str,
    /// Adds its collectors to one target's assembly.
    pub build: fn(&mut T),
    /// How often its answer can change, when that is slower than a collection interval usually is
    /// (sizes, settings, roles): its collectors run this often, or at the exporter's interval when that is
    /// longer. `None`: at the exporter's interval.
    pub interval: Option<Duration>,
}

impl<T> Entry<T> {
    /// A collector that runs unless turned off.
    pub const fn on(name: &'static str, help: &'static str, build: fn(&mut T)) -> Self {
        Entry {
            name,
            default: true,
            help,
            build,
            interval: None,
        }
    }

    /// A collector that runs only when turned on.
    pub const fn off(name: &'static str, help: &'static str, build: fn(&mut T)) -> Self {
        Entry {
            name,
            default: false,
            help,
            build,
            interval: None,
        }
    }

    /// Its collectors run every `interval` by default, or at the exporter's interval when that is longer
    /// (see [`Entry::interval`](Entry#structfield.interval)).
    pub const fn every(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }
}

impl<T> fmt::Debug for Entry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("default", &self.default)
            .field("help", &self.help)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Every collector an exporter offers, in the order they are built.
pub struct Catalogue<T: 'static> {
    flag_prefix: &'static str,
    entries: &'static [Entry<T>],
    upstream_only: &'static [&'static str],
}

impl<T> fmt::Debug for Catalogue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalogue")
            .field("flag_prefix", &self.flag_prefix)
            .field("entries", &self.entries)
            .field("upstream_only", &self.upstream_only)
            .finish()
    }
}

impl<T> Catalogue<T> {
    /// A catalogue whose flags are `--<flag_prefix><name>` and `--no-<flag_prefix><name>` (`"collector."`
    /// as postgres_exporter, `"collect."` as mysqld_exporter).
    pub const fn new(flag_prefix: &'static str, entries: &'static [Entry<T>]) -> Self {
        Catalogue {
            flag_prefix,
            entries,
            upstream_only: &[],
        }
    }

    /// The incumbent's collectors this exporter does not have: their flags are accepted and a collector
    /// turned on among them is logged as ignored ([`Catalogue::warn_upstream_only`]).
    pub const fn with_upstream_only(mut self, names: &'static [&'static str]) -> Self {
        self.upstream_only = names;
        self
    }

    /// The flags' prefix, `collector.` say.
    pub fn flag_prefix(&self) -> &'static str {
        self.flag_prefix
    }

    /// The collectors, in build order.
    pub fn entries(&self) -> &'static [Entry<T>] {
        self.entries
    }

    /// See [`Catalogue::with_upstream_only`].
    pub fn upstream_only(&self) -> &'static [&'static str] {
        self.upstream_only
    }

    /// The collectors that run when no flag says otherwise.
    pub fn defaults(&self) -> Selection {
        Selection {
            flag_prefix: self.flag_prefix,
            choices: self
                .entries
                .iter()
                .map(|e| Choice {
                    name: e.name,
                    on: e.default,
                    interval: e.interval.map(Interval::AtLeast),
                })
                .collect(),
            upstream_only: self.upstream_only,
            ignored: Vec::new(),
        }
    }

    /// Builds every collector `selection` turns on into `target`, in catalogue order, each on its interval:
    /// the collectors an entry adds to the target's builder ([`BaseExporterBuilder::add`]) run at the
    /// interval the selection gives it.
    pub fn build(&self, selection: &Selection, target: &mut T)
    where
        T: AsMut<BaseExporterBuilder>,
    {
        for entry in self.entries {
            if selection.contains(entry.name) {
                let builder = target.as_mut();
                let interval = selection.interval(entry.name, builder.collection_interval());
                builder.adding_every(interval);
                (entry.build)(target);
            }
        }
        target.as_mut().adding_every(None);
    }

    /// Logs, once each, the incumbent's collectors `selection` asked for that this exporter lacks.
    pub fn warn_upstream_only(&self, selection: &Selection) {
        for name in &selection.ignored {
            tracing::warn!(
                collector = name,
                flag = %format_args!("--{}{name}", self.flag_prefix),
                "the exporter this one replaces has this collector and this one does not yet: the flag is ignored"
            );
        }
    }

    /// What the status page lists: each collector with its state and default.
    pub fn summary(&self, selection: &Selection) -> CatalogueSummary {
        CatalogueSummary {
            flag_prefix: self.flag_prefix,
            collectors: self
                .entries
                .iter()
                .map(|e| CollectorChoice {
                    name: e.name,
                    on: selection.contains(e.name),
                    default: e.default,
                    help: e.help,
                    interval: selection.choice(e.name).and_then(|c| c.interval),
                })
                .collect(),
            upstream_only: self.upstream_only.to_vec(),
        }
    }
}

/// Which collectors of a [`Catalogue`] run: its defaults, changed by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    flag_prefix: &'static str,
    choices: Vec<Choice>,
    upstream_only: &'static [&'static str],
    ignored: Vec<&'static str>,
}

/// One collector's state in a [`Selection`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    name: &'static str,
    on: bool,
    interval: Option<Interval>,
}

/// A collector's interval in a [`Selection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Its default: this often, or at the exporter's interval when that is longer.
    AtLeast(Duration),
    /// Set by the user: this often, whatever the exporter's interval.
    Exactly(Duration),
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interval::AtLeast(d) => write!(f, "every {} (default)", crate::server::humanize(*d)),
            Interval::Exactly(d) => write!(f, "every {}", crate::server::humanize(*d)),
        }
    }
}

impl Selection {
    fn choice(&self, name: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.name == name)
    }

    /// Whether collector `name` runs.
    pub fn contains(&self, name: &str) -> bool {
        self.choice(name).is_some_and(|c| c.on)
    }

    /// The collectors that run, in catalogue order.
    pub fn enabled(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.choices.iter().filter(|c| c.on).map(|c| c.name)
    }

    /// How often collector `name` runs in an exporter whose interval is `collection`: `None` at that
    /// interval, else its own.
    pub fn interval(&self, name: &str, collection: Duration) -> Option<Duration> {
        match self.choice(name)?.interval? {
            Interval::AtLeast(d) => (d > collection).then_some(d),
            Interval::Exactly(d) => (d != collection).then_some(d),
        }
    }

    /// Runs collector `name` every `interval`, whatever the exporter's interval. An unknown name is an
    /// error naming the nearest known one (an incumbent's collector this exporter lacks is unknown here:
    /// it has no interval to set).
    pub fn set_interval(&mut self, name: &str, interval: Duration) -> Result<(), UnknownCollector> {
        if let Some(choice) = self.choices.iter_mut().find(|c| c.name == name) {
            choice.interval = Some(Interval::Exactly(interval));
            return Ok(());
        }
        Err(UnknownCollector {
            flag: format!("--collection.intervals {name}="),
            nearest: nearest(name, self.choices.iter().map(|c| c.name)),
        })
    }

    /// Turns `name` on or off. A name of the incumbent's that this exporter lacks is remembered as
    /// ignored; any other unknown name is an error naming the nearest known one.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), UnknownCollector> {
        if let Some(choice) = self.choices.iter_mut().find(|c| c.name == name) {
            choice.on = on;
            return Ok(());
        }
        if let Some(upstream) = self.upstream_only.iter().find(|n| **n == name) {
            self.ignored.retain(|n| n != upstream);
            if on {
                self.ignored.push(upstream);
            }
            return Ok(());
        }
        Err(UnknownCollector {
            flag: format!("--{}{name}", self.flag_prefix),
            nearest: nearest(name, self.choices.iter().map(|c| c.name)),
        })
    }

    /// The incumbent's collectors turned on that this exporter lacks.
    pub fn ignored(&self) -> &[&'static str] {
        &self.ignored
    }
}

/// A collector name no catalogue entry has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: unknown collector{}", match nearest { Some(n) => format!("; did you mean {n}?"), None => String::new() })]
pub struct UnknownCollector {
    /// The flag as given.
    pub flag: String,
    /// The known name nearest to it, if any is near.
    pub nearest: Option<&'static str>,
}

/// The collectors of one exporter as the status page shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogueSummary {
    /// The flags' prefix (`collector.`).
    pub flag_prefix: &'static str,
    /// Every collector offered.
    pub collectors: Vec<CollectorChoice>,
    /// The incumbent's collectors not offered.
    pub upstream_only: Vec<&'static str>,
}

/// One collector on the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorChoice {
    /// Its name.
    pub name: &'static str,
    /// Whether it runs.
    pub on: bool,
    /// Whether it runs by default.
    pub default: bool,
    /// What it exports.
    pub help: &'static str,
    /// Its own interval, if it has one.
    pub interval: Option<Interval>,
}

/// The candidate nearest to `name` by edit distance, if it is near enough to be a typo (at most a third of
/// the name's length, and at least 2 edits allowed), or the one candidate `name` is a prefix of.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = (name.chars().count() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    let mut prefixed = Vec::new();
    for candidate in candidates {
        if candidate.starts_with(name) && !name.is_empty() {
            prefixed.push(candidate);
        }
        let d = edit_distance(name, candidate);
        if d <= allowed && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c).or(match prefixed.as_slice() {
        [only] => Some(*only),
        _ => None,
    })
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names built, the builder, and the interval the builder was adding at for each.
    struct Built(
        Vec<&'static str>,
        BaseExporterBuilder,
        Vec<Option<Duration>>,
    );

    impl AsMut<BaseExporterBuilder> for Built {
        fn as_mut(&mut self) -> &mut BaseExporterBuilder {
            &mut self.1
        }
    }

    fn built() -> Built {
        Built(Vec::new(), crate::BaseExporter::builder("t"), Vec::new())
    }

    const CATALOGUE: Catalogue<Built> = Catalogue::new(
        "collect.",
        &[
            Entry::on("global_status", "SHOW GLOBAL STATUS", |b: &mut Built| {
                b.0.push("global_status");
                b.2.push(b.1.adding_every);
            }),
            Entry::off("binlog_size", "SHOW BINARY LOGS", |b: &mut Built| {
                b.0.push("binlog_size");
                b.2.push(b.1.adding_every);
            })
            .every(Duration::from_secs(60)),
            Entry::on("slave_status", "SHOW REPLICA STATUS", |b: &mut Built| {
                b.0.push("slave_status");
                b.2.push(b.1.adding_every);
            }),
        ],
    )
    .with_upstream_only(&["mysql.user"]);

    #[test]
    fn defaults_changes_and_build_order() {
        let mut s = CATALOGUE.defaults();
        assert_eq!(
            s.enabled().collect::<Vec<_>>(),
            ["global_status", "slave_status"]
        );
        s.set("binlog_size", true).unwrap();
        s.set("global_status", false).unwrap();
        let mut built = built();
        CATALOGUE.build(&s, &mut built);
        assert_eq!(built.0, ["binlog_size", "slave_status"]);
        let summary = CATALOGUE.summary(&s);
        assert_eq!(summary.collectors.len(), 3);
        assert!(!summary.collectors[0].on && summary.collectors[0].default);
        assert_eq!(summary.upstream_only, ["mysql.user"]);
    }

    #[test]
    fn upstream_names_are_ignored_and_others_refused_with_the_nearest() {
        let mut s = CATALOGUE.defaults();
        s.set("mysql.user", true).unwrap();
        assert_eq!(s.ignored(), ["mysql.user"]);
        s.set("mysql.user", false).unwrap();
        assert!(s.ignored().is_empty());
        let e = s.set("slave_staus", true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--collect.slave_staus: unknown collector; did you mean slave_status?"
        );
        let e = s.set("nothing_like_it", true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--collect.nothing_like_it: unknown collector"
        );
    }

    #[test]
    fn intervals_default_at_least_and_set_exactly() {
        let mut s = CATALOGUE.defaults();
        let secs = Duration::from_secs;
        assert_eq!(s.interval("global_status", secs(15)), None);
        assert_eq!(s.interval("binlog_size", secs(15)), Some(secs(60)));
        // A default is a floor: a longer exporter interval wins.
        assert_eq!(s.interval("binlog_size", secs(60)), None);
        assert_eq!(s.interval("binlog_size", secs(120)), None);
        // A set interval is taken as it is, shorter or longer than the exporter's.
        s.set_interval("binlog_size", secs(5)).unwrap();
        assert_eq!(s.interval("binlog_size", secs(15)), Some(secs(5)));
        s.set_interval("global_status", secs(600)).unwrap();
        assert_eq!(s.interval("global_status", secs(15)), Some(secs(600)));
        assert_eq!(s.interval("global_status", secs(600)), None);
        let e = s.set_interval("slave_staus", secs(5)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--collection.intervals slave_staus=: unknown collector; did you mean slave_status?"
        );
        assert!(s.set_interval("mysql.user", secs(5)).is_err());
        let summary = CATALOGUE.summary(&s);
        assert_eq!(
            summary.collectors[1].interval,
            Some(Interval::Exactly(secs(5)))
        );
        assert_eq!(
            summary.collectors[1].interval.unwrap().to_string(),
            "every 5s"
        );
        assert_eq!(
            CATALOGUE.summary(&CATALOGUE.defaults()).collectors[1]
                .interval
                .unwrap()
                .to_string(),
            "every 1m (default)"
        );
    }

    #[test]
    fn build_gives_each_entry_its_interval() {
        let mut s = CATALOGUE.defaults();
        s.set("binlog_size", true).unwrap();
        let mut b = built();
        b.1 = crate::BaseExporter::builder("t").interval(Duration::from_secs(15));
        CATALOGUE.build(&s, &mut b);
        assert_eq!(b.0, ["global_status", "binlog_size", "slave_status"]);
        assert_eq!(b.2, [None, Some(Duration::from_secs(60)), None]);
        // The builder is left adding at the exporter's interval.
        assert_eq!(b.1.adding_every, None);
    }

    #[test]
    fn nearest_names() {
        let names = ["locks", "stat_database", "stat_bgwriter", "database"];
        assert_eq!(nearest("lcoks", names), Some("locks"));
        assert_eq!(nearest("stat_databse", names), Some("stat_database"));
        assert_eq!(nearest("stat_bg", names), Some("stat_bgwriter"));
        assert_eq!(nearest("stat_", names), None);
        assert_eq!(nearest("xyz", names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
