//! Histogram samples: cumulative buckets, a sum and a count, as Prometheus' classic histograms have them.
//!
//! A query yields a histogram as four columns, the way postgres_exporter's `HISTOGRAM` usage reads them:
//! the buckets' upper bounds (an array), the cumulative count of observations at or below each bound (an
//! array of the same length), the sum of the observations and their count. [`Histogram::from_columns`] checks
//! and combines them; the `+Inf` bucket is the count.

use crate::metric::{MetricValue, ValueError};

/// One histogram series: buckets in increasing order of their bounds, each counting the observations at or
/// below its bound (cumulative), plus the observations' sum and count. The `+Inf` bucket is implied by
/// [`count`](Self::count) and is not stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// A histogram from `(upper bound, cumulative count)` pairs in any order, and the observations' `sum` and
    /// `count`. Refused unless the bounds are distinct numbers, the counts grow with the bounds and none
    /// exceeds `count`. A `+Inf` bound may be given; its count must then be `count`.
    pub fn new(
        buckets: impl IntoIterator<Item = (f64, u64)>,
        sum: f64,
        count: u64,
    ) -> Result<Self, ValueError> {
        Self::build(buckets.into_iter().collect(), sum, count, true)
    }

    /// As [`new`](Self::new), but counts are taken as given even when they are not cumulative or exceed
    /// `count`, as Prometheus' Go client takes them: for query files written for postgres_exporter, whose
    /// shipped `pg_process_idle` counts every process in its buckets and only idle ones in its count.
    /// Bounds must still be distinct numbers.
    pub fn as_given(
        buckets: impl IntoIterator<Item = (f64, u64)>,
        sum: f64,
        count: u64,
    ) -> Result<Self, ValueError> {
        Self::build(buckets.into_iter().collect(), sum, count, false)
    }

    fn build(
        mut buckets: Vec<(f64, u64)>,
        sum: f64,
        count: u64,
        strict: bool,
    ) -> Result<Self, ValueError> {
        if buckets.iter().any(|(le, _)| le.is_nan()) {
            return Err(histogram_error("a bucket bound is NaN"));
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if buckets.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(histogram_error("two buckets have the same bound"));
        }
        if !strict {
            if buckets.last().is_some_and(|b| b.0 == f64::INFINITY) {
                buckets.pop();
            }
            return Ok(Histogram {
                buckets,
                sum,
                count,
            });
        }
        if buckets.windows(2).any(|w| w[0].1 > w[1].1) {
            return Err(histogram_error(
                "bucket counts must be cumulative (never smaller for a larger bound)",
            ));
        }
        if let Some(&(le, n)) = buckets.last() {
            if n > count {
                return Err(histogram_error(&format!(
                    "bucket le={le} counts {n}, more than the count {count}"
                )));
            }
            if le == f64::INFINITY {
                if n != count {
                    return Err(histogram_error(&format!(
                        "the +Inf bucket counts {n}, not the count {count}"
                    )));
                }
                buckets.pop();
            }
        }
        Ok(Histogram {
            buckets,
            sum,
            count,
        })
    }

    /// A histogram from a row's four columns: `bounds` and `cumulative` counts (lists of equal length),
    /// `sum` and `count`. `Ok(None)` (no sample) when any of them is NULL.
    pub fn from_columns(
        bounds: &(impl ValueList + ?Sized),
        cumulative: &(impl ValueList + ?Sized),
        sum: &(impl MetricValue + ?Sized),
        count: &(impl MetricValue + ?Sized),
    ) -> Result<Option<Self>, ValueError> {
        Self::columns(bounds, cumulative, sum, count, true)
    }

    /// [`from_columns`](Self::from_columns) taking the counts [as given](Self::as_given).
    pub fn from_columns_as_given(
        bounds: &(impl ValueList + ?Sized),
        cumulative: &(impl ValueList + ?Sized),
        sum: &(impl MetricValue + ?Sized),
        count: &(impl MetricValue + ?Sized),
    ) -> Result<Option<Self>, ValueError> {
        Self::columns(bounds, cumulative, sum, count, false)
    }

    fn columns(
        bounds: &(impl ValueList + ?Sized),
        cumulative: &(impl ValueList + ?Sized),
        sum: &(impl MetricValue + ?Sized),
        count: &(impl MetricValue + ?Sized),
        strict: bool,
    ) -> Result<Option<Self>, ValueError> {
        let (Some(bounds), Some(counts), Some(sum), Some(count)) = (
            bounds.to_values()?,
            cumulative.to_values()?,
            sum.to_metric_value()?,
            count.to_metric_value()?,
        ) else {
            return Ok(None);
        };
        if bounds.len() != counts.len() {
            return Err(histogram_error(&format!(
                "{} bucket bounds but {} bucket counts",
                bounds.len(),
                counts.len()
            )));
        }
        let count = whole(count, "the count")?;
        let buckets = bounds
            .iter()
            .zip(&counts)
            .map(|(&le, &n)| Ok((le, whole(n, "a bucket count")?)))
            .collect::<Result<Vec<_>, ValueError>>()?;
        Histogram::build(buckets, sum, count, strict).map(Some)
    }

    /// `(upper bound, cumulative count)` of each bucket, bounds increasing, without the `+Inf` bucket.
    pub fn buckets(&self) -> &[(f64, u64)] {
        &self.buckets
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The number of observations (the `+Inf` bucket's count).
    pub fn count(&self) -> u64 {
        self.count
    }
}

fn histogram_error(why: &str) -> ValueError {
    ValueError::Histogram(why.to_owned())
}

/// A non-negative whole number of observations.
fn whole(v: f64, what: &str) -> Result<u64, ValueError> {
    if v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 {
        // Checked just above: whole, non-negative and in range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(v as u64)
    } else {
        Err(histogram_error(&format!(
            "{what} is {v}, not a whole number of observations"
        )))
    }
}

/// A list of values in one column (an SQL array): a histogram's bounds or counts.
pub trait ValueList {
    /// The values; `Ok(None)` for SQL NULL. A NULL element is an error: a bucket cannot be missing.
    fn to_values(&self) -> Result<Option<Vec<f64>>, ValueError>;
}

impl<T: MetricValue> ValueList for [T] {
    fn to_values(&self) -> Result<Option<Vec<f64>>, ValueError> {
        self.iter()
            .map(|v| {
                v.to_metric_value()?
                    .ok_or_else(|| histogram_error("a bucket bound or count is NULL"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

impl<T: MetricValue> ValueList for Vec<T> {
    fn to_values(&self) -> Result<Option<Vec<f64>>, ValueError> {
        self.as_slice().to_values()
    }
}

impl<L: ValueList> ValueList for Option<L> {
    fn to_values(&self) -> Result<Option<Vec<f64>>, ValueError> {
        match self {
            Some(l) => l.to_values(),
            None => Ok(None),
        }
    }
}

impl<L: ValueList + ?Sized> ValueList for &L {
    fn to_values(&self) -> Result<Option<Vec<f64>>, ValueError> {
        (**self).to_values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_sorted_and_the_inf_bucket_is_the_count() {
        let h = Histogram::new([(5.0, 3), (1.0, 1), (f64::INFINITY, 4)], 12.5, 4).unwrap();
        assert_eq!(h.buckets(), [(1.0, 1), (5.0, 3)]);
        assert_eq!((h.sum(), h.count()), (12.5, 4));
        for (buckets, count, why) in [
            (vec![(1.0, 3), (2.0, 2)], 3, "cumulative"),
            (vec![(1.0, 1), (1.0, 1)], 1, "same bound"),
            (vec![(1.0, 5)], 4, "more than the count"),
            (vec![(f64::INFINITY, 3)], 4, "+Inf bucket"),
            (vec![(f64::NAN, 0)], 0, "NaN"),
        ] {
            let e = Histogram::new(buckets, 0.0, count).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn as_given_keeps_counts_the_go_client_would_keep() {
        let h = Histogram::as_given([(2.0, 1), (1.0, 5), (f64::INFINITY, 9)], 1.0, 3).unwrap();
        assert_eq!(h.buckets(), [(1.0, 5), (2.0, 1)]);
        assert!(Histogram::as_given([(1.0, 1), (1.0, 2)], 1.0, 3).is_err());
    }

    #[test]
    fn columns_combine_and_null_is_no_sample() {
        let h = Histogram::from_columns(&vec![1i32, 2, 5], &vec![0i64, 2, 2], &7.5f64, &3i64)
            .unwrap()
            .unwrap();
        assert_eq!(h.buckets(), [(1.0, 0), (2.0, 2), (5.0, 2)]);
        let none: Option<Vec<i32>> = None;
        assert_eq!(
            Histogram::from_columns(&none, &vec![1i64], &1.0f64, &1i64),
            Ok(None)
        );
        let e = Histogram::from_columns(&vec![1.0f64], &vec![1i64, 2], &1.0f64, &2i64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 bucket bounds but 2 bucket counts"), "{e}");
        let e = Histogram::from_columns(&vec![1.0f64], &vec![1.5f64], &1.0f64, &2i64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a whole number"), "{e}");
    }
}
