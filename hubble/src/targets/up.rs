//! The `<prefix>_up` collector every exporter has: whether the target answered its last collection, and
//! whether the link to it is encrypted (`hubble_target_tls{mode}`), from one round trip.
//!
//! It never fails and is never absent: a target that refuses, errs or does not answer is `<prefix>_up 0`,
//! which is the point of the metric. It gives up a little before the run's timeout would cancel it, so the
//! first run that times out sets 0 instead of leaving the family out.
//!
//! ```
//! use std::time::Duration;
//! use hubble::targets::up::{Answer, Check, Up};
//!
//! struct Ping;
//!
//! impl Check for Ping {
//!     async fn check(&self) -> Result<Answer, String> {
//!         Ok(Answer { encrypted: Some(true), samples: vec![] })
//!     }
//! }
//!
//! let up = Up::new("demo_up", "Whether the demo answered (1) or not (0).", Ping, Duration::from_secs(5))
//!     .tls_mode("verify-full");
//! let exporter = hubble::BaseExporter::builder("demo").collector(up).build().unwrap();
//! ```

use std::future::Future;
use std::time::Duration;

use crate::{CollectError, Collector, Family, MetricKind, Sample};

/// The family of the link's encryption.
pub const TLS_FAMILY: &str = "hubble_target_tls";

const TLS_HELP: &str =
    "Whether the connection to the target is encrypted (1) or not (0), as the target sees it; \
     mode is how encryption was asked for (verify-full, verify-ca and verify-identity verify the target).";

/// A target's link as its `up` collector last saw it: shown on the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetTls {
    /// How encryption was asked for (`prefer`, `verify-full`...).
    pub mode: String,
    /// Whether the link is encrypted.
    pub encrypted: bool,
}

impl TargetTls {
    /// Whether the target's identity was verified as well: an encrypted link in a mode that checks the
    /// certificate's chain (`verify-ca`) or chain and name (`verify-full`, MySQL's `verify-identity`).
    pub fn verified(&self) -> bool {
        self.encrypted
            && matches!(
                self.mode.as_str(),
                "verify-ca" | "verify-full" | "verify-identity"
            )
    }

    /// The link a run's samples report, if one is a `hubble_target_tls` sample.
    pub(crate) fn find(metrics: &[Sample]) -> Option<Self> {
        let m = metrics.iter().find(|m| m.name == TLS_FAMILY)?;
        Some(TargetTls {
            mode: m.labels.get("mode").unwrap_or_default().to_owned(),
            encrypted: m.value == 1.0,
        })
    }

    /// One phrase for people: `encrypted, verified (verify-full)`, `plaintext (prefer)`.
    pub fn describe(&self) -> String {
        let state = match (self.encrypted, self.verified()) {
            (true, true) => "encrypted, verified",
            (true, false) => "encrypted, not verified",
            (false, _) => "plaintext",
        };
        format!("{state} ({})", self.mode)
    }
}

/// One round trip that shows the target answers.
pub trait Check: Send + Sync + 'static {
    /// What the target said, or why it did not answer (logged at debug level: `up 0` says it).
    fn check(&self) -> impl Future<Output = Result<Answer, String>> + Send;
}

/// A target's answer.
#[derive(Debug, Default)]
pub struct Answer {
    /// Whether the link is encrypted, where the target says so (`None`: `hubble_target_tls` is left out).
    pub encrypted: Option<bool>,
    /// More samples from the same answer (a version), described with [`Up::describes`].
    pub samples: Vec<Sample>,
}

/// The `up` collector over a [`Check`].
#[derive(Debug)]
pub struct Up<C> {
    name: &'static str,
    help: &'static str,
    check: C,
    tls_mode: Option<String>,
    /// How long the target has to answer: most of the run's timeout.
    patience: Duration,
    more: Vec<Family>,
}

impl<C: Check> Up<C> {
    /// `name` (`pg_up`, `mysql_up`) with `help`, from `check`, in runs of at most `timeout`. The collector is
    /// called `name` too.
    pub fn new(name: &'static str, help: &'static str, check: C, timeout: Duration) -> Self {
        Up {
            name,
            help,
            check,
            tls_mode: None,
            patience: timeout.mul_f64(0.9),
            more: Vec::new(),
        }
    }

    /// Exports `hubble_target_tls{mode}` where the answer says whether the link is encrypted; `mode` is how
    /// the connection asked for encryption (`disable`, `prefer`, `require`, `verify-full`...).
    pub fn tls_mode(mut self, mode: impl Into<String>) -> Self {
        self.tls_mode = Some(mode.into());
        self
    }

    /// A family the check's [`Answer::samples`] hold.
    pub fn describes(mut self, desc: Family) -> Self {
        self.more.push(desc);
        self
    }

    /// The check within the patience: its answer, or why not.
    async fn ask(&self) -> Result<Answer, String> {
        match tokio::time::timeout(self.patience, self.check.check()).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {:?}", self.patience)),
        }
    }
}

// Not suggested when some other type is not a collector: it would point every such error here.
#[diagnostic::do_not_recommend]
impl<C: Check> Collector for Up<C> {
    fn name(&self) -> &str {
        self.name
    }

    fn families(&self) -> Vec<Family> {
        let mut descs = vec![Family::new(
            self.name,
            self.help,
            MetricKind::Gauge,
            Vec::<&str>::new(),
        )];
        if self.tls_mode.is_some() {
            descs.push(Family::new(
                TLS_FAMILY,
                TLS_HELP,
                MetricKind::Gauge,
                ["mode"],
            ));
        }
        descs.extend(self.more.iter().cloned());
        descs
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        Ok(match self.ask().await {
            Ok(answer) => {
                let mut out = vec![Sample::gauge(self.name, self.help, 1.0)];
                if let (Some(mode), Some(encrypted)) = (&self.tls_mode, answer.encrypted) {
                    out.push(
                        Sample::gauge(TLS_FAMILY, TLS_HELP, f64::from(u8::from(encrypted)))
                            .label("mode", mode.clone()),
                    );
                }
                out.extend(answer.samples);
                out
            }
            Err(error) => {
                tracing::debug!(collector = self.name, %error, "up check failed");
                vec![Sample::gauge(self.name, self.help, 0.0)]
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow(Duration, bool);

    impl Check for Slow {
        async fn check(&self) -> Result<Answer, String> {
            tokio::time::sleep(self.0).await;
            if self.1 {
                Ok(Answer {
                    encrypted: Some(false),
                    samples: vec![Sample::gauge("x_version", "v", 1.0).label("version", "1")],
                })
            } else {
                Err("refused".into())
            }
        }
    }

    fn value(metrics: &[Sample], name: &str) -> Option<f64> {
        metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }

    #[tokio::test(start_paused = true)]
    async fn answers_refusals_and_silence() {
        let timeout = Duration::from_secs(10);
        let up =
            Up::new("x_up", "Up.", Slow(Duration::from_secs(1), true), timeout).tls_mode("require");
        let got = up.collect().await.unwrap();
        assert_eq!(value(&got, "x_up"), Some(1.0));
        assert_eq!(value(&got, TLS_FAMILY), Some(0.0));
        assert_eq!(value(&got, "x_version"), Some(1.0));

        let refused = Up::new("x_up", "Up.", Slow(Duration::ZERO, false), timeout);
        assert_eq!(value(&refused.collect().await.unwrap(), "x_up"), Some(0.0));

        // Silent past 90% of the timeout: 0, before the run's own timeout would drop the family.
        let silent = Up::new("x_up", "Up.", Slow(Duration::from_secs(60), true), timeout);
        let started = tokio::time::Instant::now();
        let got = silent.collect().await.unwrap();
        assert_eq!(value(&got, "x_up"), Some(0.0));
        assert_eq!(started.elapsed(), Duration::from_secs(9));
        assert_eq!(up.families().len(), 2, "x_version is not described");
        assert_eq!(silent.families().len(), 1, "no TLS family without a mode");
    }
}
