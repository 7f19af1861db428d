//! Summary samples: quantiles computed by the source, with the observations' sum and count, as Prometheus'
//! summaries have them.
//!
//! A database that keeps percentiles (MySQL 8.0.28's `QUANTILE_95` and kin in its statement digests) yields
//! them as a summary. The exporter computes nothing: unlike a histogram's buckets, a summary's quantiles
//! cannot be aggregated across series, which is why sources that have buckets should export those instead.

use crate::metric::ValueError;

/// One summary series: `(quantile, value)` pairs in increasing order of quantile, plus the observations' sum
/// and count. A summary without quantiles is valid: only its `_sum` and `_count` series are written.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    quantiles: Vec<(f64, f64)>,
    sum: f64,
    count: u64,
}

impl Summary {
    /// A summary from `(quantile, value)` pairs in any order and the observations' `sum` and `count`.
    ///
    /// Refused when a quantile is NaN or two are equal. Quantiles are written as given: Prometheus expects
    /// them between 0 and 1, but a drop-in exporter may have to keep an incumbent's (mysqld_exporter writes
    /// `quantile="95"`), so other values are not refused.
    ///
    /// ```
    /// let s = hubble::Summary::new([(0.99, 0.25), (0.5, 0.01)], 12.5, 400).unwrap();
    /// assert_eq!(s.quantiles(), &[(0.5, 0.01), (0.99, 0.25)]);
    /// assert!(hubble::Summary::new([(0.5, 1.0), (0.5, 2.0)], 3.0, 2).is_err());
    /// ```
    pub fn new(
        quantiles: impl IntoIterator<Item = (f64, f64)>,
        sum: f64,
        count: u64,
    ) -> Result<Self, ValueError> {
        let mut quantiles: Vec<(f64, f64)> = quantiles.into_iter().collect();
        if quantiles.iter().any(|(q, _)| q.is_nan()) {
            return Err(ValueError::Summary("a quantile is NaN".into()));
        }
        quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
        if quantiles.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(ValueError::Summary("two quantiles are equal".into()));
        }
        Ok(Summary {
            quantiles,
            sum,
            count,
        })
    }

    /// `(quantile, value)` pairs, quantiles increasing.
    pub fn quantiles(&self) -> &[(f64, f64)] {
        &self.quantiles
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }
}
