//! `--log.level` and `--log.format`: the promslog flags every Prometheus exporter takes. Each event is one line
//! on stderr with the same fields in either format: `time`, `level`, `source`, `msg`, then the event's own
//! fields (`collector`, `target`, `error`, ...).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Log levels accepted by `--log.level`.
pub const LOG_LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];

/// Line formats accepted by `--log.format`.
pub const LOG_FORMATS: [&str; 2] = ["logfmt", "json"];

/// Sets up `tracing` output on stderr at `level` (`RUST_LOG` refines it), one line per event in `format`
/// (`logfmt` or `json`).
pub fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let format = if format == "json" {
        LineFormat::Json
    } else {
        LineFormat::Logfmt
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(format)
        .init();
}

/// How one event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// `time=... level=info source=app.rs:12 msg="..." key=value`, promslog's default.
    Logfmt,
    /// `{"time":"...","level":"info","source":"app.rs:12","msg":"...","key":"value"}`.
    Json,
}

/// A field's value as recorded: numbers and booleans stay numbers in JSON.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
}

#[derive(Default)]
struct Fields {
    msg: String,
    fields: Vec<(&'static str, Value)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Int(value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Int(value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::Float(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::Str(value.to_string()));
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::Str(s)) => self.msg = s,
            // `log` records routed through tracing carry their origin as fields; source says it already.
            (name, _) if name.starts_with("log.") => {}
            (name, value) => self.fields.push((name, value)),
        }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let level = meta.level().as_str().to_ascii_lowercase();
        let source = match (meta.file(), meta.line()) {
            (Some(file), Some(line)) => {
                let file = file.rsplit('/').next().unwrap_or(file);
                format!("{file}:{line}")
            }
            _ => meta.target().to_owned(),
        };
        let line = render(*self, &time, &level, &source, &fields);
        writeln!(writer, "{line}")
    }
}

fn render(format: LineFormat, time: &str, level: &str, source: &str, f: &Fields) -> String {
    let head = [
        ("time", Value::Str(time.to_owned())),
        ("level", Value::Str(level.to_owned())),
        ("source", Value::Str(source.to_owned())),
        ("msg", Value::Str(f.msg.clone())),
    ];
    let all = head
        .iter()
        .map(|(k, v)| (*k, v))
        .chain(f.fields.iter().map(|(k, v)| (*k, v)));
    let mut out = String::new();
    match format {
        LineFormat::Logfmt => {
            for (i, (key, value)) in all.enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{key}=");
                match value {
                    Value::Str(s) => logfmt_string(&mut out, s),
                    Value::Int(n) => {
                        let _ = write!(out, "{n}");
                    }
                    Value::Float(x) => {
                        let _ = write!(out, "{x}");
                    }
                    Value::Bool(b) => {
                        let _ = write!(out, "{b}");
                    }
                }
            }
        }
        LineFormat::Json => {
            out.push('{');
            for (i, (key, value)) in all.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(&mut out, key);
                out.push(':');
                match value {
                    Value::Str(s) => json_string(&mut out, s),
                    Value::Int(n) => {
                        let _ = write!(out, "{n}");
                    }
                    // JSON has no NaN or infinity.
                    Value::Float(x) if x.is_finite() => {
                        let _ = write!(out, "{x}");
                    }
                    Value::Float(x) => json_string(&mut out, &x.to_string()),
                    Value::Bool(b) => {
                        let _ = write!(out, "{b}");
                    }
                }
            }
            out.push('}');
        }
    }
    out
}

/// A bare word when it can be one, else a quoted string with `"`, `\` and control characters escaped.
fn logfmt_string(out: &mut String, s: &str) {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c > ' ' && c != '"' && c != '=' && c != '\\' && !c.is_control());
    if bare {
        out.push_str(s);
    } else {
        json_string(out, s);
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            msg: "collector failed".into(),
            fields: vec![
                ("collector", Value::Str("pg_settings".into())),
                ("error", Value::Str("timed out \"x\"\n".into())),
                ("series", Value::Int(3)),
                ("up", Value::Bool(false)),
                ("ratio", Value::Float(f64::NAN)),
            ],
        }
    }

    #[test]
    fn logfmt_lines() {
        let line = render(LineFormat::Logfmt, "T", "warn", "a.rs:1", &fields());
        assert_eq!(
            line,
            "time=T level=warn source=a.rs:1 msg=\"collector failed\" collector=pg_settings \
             error=\"timed out \\\"x\\\"\\n\" series=3 up=false ratio=NaN"
        );
    }

    #[test]
    fn json_lines_have_the_same_fields() {
        let line = render(LineFormat::Json, "T", "warn", "a.rs:1", &fields());
        assert_eq!(
            line,
            "{\"time\":\"T\",\"level\":\"warn\",\"source\":\"a.rs:1\",\"msg\":\"collector failed\",\
             \"collector\":\"pg_settings\",\"error\":\"timed out \\\"x\\\"\\n\",\"series\":3,\"up\":false,\
             \"ratio\":\"NaN\"}"
        );
    }

    #[test]
    fn empty_strings_are_quoted() {
        let mut out = String::new();
        logfmt_string(&mut out, "");
        assert_eq!(out, "\"\"");
    }
}
