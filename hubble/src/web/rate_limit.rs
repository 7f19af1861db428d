//! The toolkit's `rate_limit`: one token bucket for every request the server answers (Go's
//! `rate.NewLimiter(rate.Every(interval), burst)`): `burst` requests at once, then one per `interval`;
//! beyond that, 429 Too Many Requests.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `rate_limit` as written. `interval` is a Go duration (`1s`, `250ms`, `1m30s`) or, as Go's YAML reads a
/// `time.Duration`, an integer number of nanoseconds.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RateLimitFile {
    #[serde(default)]
    burst: i64,
    #[serde(default)]
    interval: Option<GoDuration>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GoDuration {
    Nanoseconds(i64),
    Text(String),
}

/// The bucket: full at the start, as Go's limiter is.
#[derive(Debug)]
pub(super) struct RateLimiter {
    interval: Duration,
    burst: u32,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Whether the last request was refused: refusals are logged when they start, not one by one.
    refusing: bool,
}

impl RateLimitFile {
    /// The limiter, or `None` when no limit applies (no interval, or one of zero or less, as in the toolkit).
    /// `Err` is the message for the field `rate_limit.interval`.
    pub(super) fn limiter(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<Option<RateLimiter>, String> {
        let nanos = match &self.interval {
            None => return Ok(None),
            Some(GoDuration::Nanoseconds(n)) => *n as f64,
            Some(GoDuration::Text(text)) => parse_go_duration(text).ok_or_else(|| {
                format!("expected a duration such as 1s, 250ms or 1m30s, got {text:?}")
            })?,
        };
        if nanos <= 0.0 {
            return Ok(None);
        }
        let burst = u32::try_from(self.burst.max(0)).unwrap_or(u32::MAX);
        if burst == 0 {
            warnings.push(
                "rate_limit.burst is 0: every request is refused with 429 (as the toolkit does)"
                    .into(),
            );
        }
        Ok(Some(RateLimiter {
            interval: Duration::from_nanos(nanos as u64).max(Duration::from_nanos(1)),
            burst,
            state: Mutex::new(Bucket {
                tokens: f64::from(burst),
                at: Instant::now(),
                refusing: false,
            }),
        }))
    }
}

impl RateLimiter {
    /// Takes a token if one is there.
    pub(super) fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let refill = now.duration_since(b.at).as_secs_f64() / self.interval.as_secs_f64();
        b.tokens = (b.tokens + refill).min(f64::from(self.burst));
        b.at = now;
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        } else if !b.refusing {
            tracing::warn!(
                burst = self.burst,
                interval = ?self.interval,
                "rate_limit reached: refusing requests with 429 until tokens refill"
            );
        }
        b.refusing = !allowed;
        allowed
    }
}

/// Go's `time.ParseDuration`: a sign, then numbers with units (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g.
/// `1h15m`, `1.5s`; `0` alone. In nanoseconds.
fn parse_go_duration(text: &str) -> Option<f64> {
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (text, nanos) in [
            ("1s", 1e9),
            ("250ms", 250e6),
            ("1m30s", 90e9),
            ("1.5h", 5400e9),
            ("2h45m", 9900e9),
            ("10µs", 1e4),
            ("10us", 1e4),
            ("7ns", 7.0),
            (".5s", 5e8),
            ("0", 0.0),
            ("-1s", -1e9),
            ("+3m", 180e9),
        ] {
            assert_eq!(parse_go_duration(text), Some(nanos), "{text}");
        }
        for bad in ["", "1", "1d", "s", "1.2.3s", "1 s", "-", "1sm"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_bucket_starts_full_and_refills_one_per_interval() {
        let file: RateLimitFile = yaml_serde::from_str("burst: 2\ninterval: 200ms\n").unwrap();
        let limiter = file.limiter(&mut Vec::new()).unwrap().unwrap();
        let t0 = limiter.state.lock().unwrap().at;
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(limiter.allow_at(at(0)) && limiter.allow_at(at(1)));
        assert!(!limiter.allow_at(at(2)), "burst spent");
        assert!(!limiter.allow_at(at(150)), "less than an interval");
        assert!(
            limiter.allow_at(at(210)),
            "one token back after an interval"
        );
        assert!(!limiter.allow_at(at(211)));
        assert!(limiter.allow_at(at(5000)) && limiter.allow_at(at(5000)));
        assert!(!limiter.allow_at(at(5000)), "never more than the burst");

        let mut warnings = Vec::new();
        let nanos: RateLimitFile = yaml_serde::from_str("interval: 1000000000\n").unwrap();
        assert!(!nanos.limiter(&mut warnings).unwrap().unwrap().allow());
        assert_eq!(
            warnings.len(),
            1,
            "burst 0 refuses everything: {warnings:?}"
        );
        for off in [
            "{}",
            "burst: 5\n",
            "interval: 0s\nburst: 1\n",
            "interval: -1s\n",
        ] {
            let file: RateLimitFile = yaml_serde::from_str(off).unwrap();
            assert!(file.limiter(&mut Vec::new()).unwrap().is_none(), "{off}");
        }
        let bad: RateLimitFile = yaml_serde::from_str("interval: 1d\n").unwrap();
        assert!(bad
            .limiter(&mut Vec::new())
            .unwrap_err()
            .contains("got \"1d\""));
    }
}
