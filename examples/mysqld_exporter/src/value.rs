//! MySQL's text values as numbers, and names as metric names, the way mysqld_exporter reads them.

/// A status or variable value as a number: numbers as they are; `ON`/`YES`/`Primary` as 1 and
/// `OFF`/`NO`/`DISABLED`/`Connecting`/`non-Primary`/`Disconnected` as 0; a date as Unix seconds; a binary
/// log file name (`mysql-bin.000042`) as its number. Anything else is not a number (`None`): the row is
/// skipped.
pub fn number(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "on" | "primary" => return Some(1.0),
        "no" | "off" | "disabled" | "connecting" | "non-primary" | "disconnected" => {
            return Some(0.0)
        }
        _ => {}
    }
    if let Some(seconds) = datetime(text) {
        return Some(seconds);
    }
    if let Some((base, n)) = text.rsplit_once('.') {
        // A log file name: `<base>.<digits>` with a base that is a name, not a version (`10.11.6`).
        let named = base.bytes().any(|b| !b.is_ascii_digit() && b != b'.');
        if named && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return n.parse().ok();
        }
    }
    text.parse().ok()
}

/// `2024-05-01 12:30:00` (UTC; microseconds after a `.` kept, as the performance schema's timestamps have
/// them), or `May  1 12:30:00 2024 GMT` (certificate dates, `Ssl_server_not_after`), as Unix seconds.
fn datetime(text: &str) -> Option<f64> {
    if let Some(iso) = certificate_date(text) {
        return datetime(&iso);
    }
    // MySQL's zero date ("no such time"): 0, as upstream gives it.
    if text.starts_with("0000-00-00 00:00:00") {
        return datetime(&text.replacen("0000-00-00", "1970-01-01", 1));
    }
    if let Some((whole, fraction)) = text.split_once('.').filter(|(w, _)| w.len() == 19) {
        if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let fraction: f64 = format!("0.{fraction}").parse().ok()?;
        return Some(datetime(whole)? + fraction);
    }
    let b = text.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + s) as f64)
}

/// `May  1 12:30:00 2024 GMT` as `2024-05-01 12:30:00`.
fn certificate_date(text: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.split_whitespace();
    let month = MONTHS.iter().position(|m| Some(*m) == parts.next())? + 1;
    let day: u32 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    let year: u32 = parts.next()?.parse().ok()?;
    parts.next()?;
    if parts.next().is_some() || time.len() != 8 {
        return None;
    }
    Some(format!("{year:04}-{month:02}-{day:02} {time}"))
}

/// A variable name as a metric name part: lower case, every character outside `[a-z0-9_]` an underscore.
pub fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_mysqld_exporter_reads_them() {
        assert_eq!(number("42"), Some(42.0));
        assert_eq!(number("0.25"), Some(0.25));
        assert_eq!(number("ON"), Some(1.0));
        assert_eq!(number("Yes"), Some(1.0));
        assert_eq!(number("OFF"), Some(0.0));
        assert_eq!(number("Connecting"), Some(0.0));
        assert_eq!(number("non-Primary"), Some(0.0));
        assert_eq!(number("mysql-bin.000042"), Some(42.0));
        assert_eq!(number("10.11.6"), None);
        assert_eq!(number("1970-01-02 00:00:01"), Some(86_401.0));
        assert_eq!(number("1970-01-02 00:00:01.500000"), Some(86_401.5));
        // MySQL's zero date, as upstream reads it.
        assert_eq!(number("0000-00-00 00:00:00.000000"), Some(0.0));
        assert_eq!(number("0000-00-00 00:00:00"), Some(0.0));
        assert_eq!(number("2024-02-29 12:00:00"), Some(1_709_208_000.0));
        assert_eq!(number("Jan  2 00:00:01 1970 GMT"), Some(86_401.0));
        assert_eq!(number("utf8mb4"), None);
        assert_eq!(number(""), None);
        assert_eq!(number("/var/lib/mysql/"), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            metric_name("Innodb_buffer_pool_pages_free"),
            "innodb_buffer_pool_pages_free"
        );
        assert_eq!(metric_name("Ssl_cipher-list"), "ssl_cipher_list");
    }
}
