//! Logs in the one shape Terraform re-logs properly: a JSON object per stderr line.
//!
//! go-plugin reads the plugin's stderr line by line. A line that parses as JSON with `@level`
//! (`trace|debug|info|warn|error`), `@message` and an `@timestamp` in Go's
//! `2006-01-02T15:04:05.000000Z07:00` layout (exactly six fractional digits) is re-logged at that
//! level, other keys shown as `key=value`; anything else lands at DEBUG, and a malformed
//! timestamp makes go-plugin discard the structure altogether. So this module owns the line
//! format ([`format_line`], pure and unit-tested), and a small `tracing` layer feeds it.
//!
//! The level follows Terraform's own rules for providers: `TF_LOG_PROVIDER`, else `TF_LOG`;
//! unset or empty means off (nothing is installed, `tracing` macros cost a branch); `JSON` and
//! unknown values mean TRACE.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use crate::civil_time::UtcDateTime;

/// Prefix of `@module`, matching what Terraform's own provider logs use.
const MODULE_PREFIX: &str = "provider";

/// Crates whose DEBUG/TRACE output is HTTP/2 frame-level noise: capped at INFO whatever the level.
const NOISY_TARGETS: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tower",
    "tokio_util",
    "mio",
    "want",
];

/// Keys this format reserves; event or span fields with these names get a `_` prefix.
const RESERVED_KEYS: &[&str] = &["@level", "@message", "@module", "@timestamp"];

/// The provider's log level from the environment, `None` meaning logging is off.
pub(crate) fn level_from_env(lookup: impl Fn(&str) -> Option<String>) -> Option<Level> {
    let value = lookup("TF_LOG_PROVIDER")
        .filter(|v| !v.is_empty())
        .or_else(|| lookup("TF_LOG"))
        .unwrap_or_default();
    parse_level(&value)
}

/// Terraform's `parseLogLevel`: empty → off, a level name (any case) → that level, `OFF` → off,
/// anything else (`JSON`, `1`, `yes`) → TRACE.
pub(crate) fn parse_level(value: &str) -> Option<Level> {
    match value.trim().to_ascii_uppercase().as_str() {
        "" | "OFF" => None,
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" => Some(Level::WARN),
        "ERROR" => Some(Level::ERROR),
        _ => Some(Level::TRACE),
    }
}

/// Installs the JSON stderr logger as the global `tracing` subscriber when the environment asks
/// for logs. Does nothing when logging is off or a subscriber is already installed.
pub(crate) fn init_from_env() {
    if let Some(level) = level_from_env(|k| std::env::var(k).ok()) {
        let subscriber = tracing_subscriber::registry().with(JsonLogLayer::stderr(level));
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

/// Terraform's level name; `warn`, never `warning`.
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// A field value, kept typed so numbers and booleans stay JSON numbers and booleans.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

/// Everything one log line carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogRecord<'a> {
    pub level: Level,
    pub message: &'a str,
    /// The `tracing` target (module path); becomes `@module: provider.<target>`.
    pub target: &'a str,
    pub timestamp: SystemTime,
    /// Extra keys in order; a later duplicate key replaces the earlier value.
    pub fields: &'a [(String, FieldValue)],
}

/// The exact stderr line (with its trailing newline) for one record:
/// `{"@level":…,"@message":…,"@module":…,"@timestamp":…,<fields>…}`.
pub(crate) fn format_line(record: &LogRecord<'_>) -> String {
    let mut out = String::with_capacity(128 + record.message.len());
    out.push_str("{\"@level\":\"");
    out.push_str(level_name(record.level));
    out.push_str("\",\"@message\":");
    push_json_string(&mut out, record.message);
    if !record.target.is_empty() {
        out.push_str(",\"@module\":");
        push_json_string(&mut out, &format!("{MODULE_PREFIX}.{}", record.target));
    }
    out.push_str(",\"@timestamp\":\"");
    out.push_str(&UtcDateTime::from_system_time(record.timestamp).to_rfc3339_micros());
    out.push('"');

    for (i, (key, value)) in record.fields.iter().enumerate() {
        // Last one wins: skip a key that appears again later.
        if record.fields[i + 1..].iter().any(|(k, _)| k == key) {
            continue;
        }
        out.push(',');
        if RESERVED_KEYS.contains(&key.as_str()) {
            push_json_string(&mut out, &format!("_{key}"));
        } else {
            push_json_string(&mut out, key);
        }
        out.push(':');
        push_json_value(&mut out, value);
    }
    out.push_str("}\n");
    out
}

fn push_json_string(out: &mut String, s: &str) {
    // serde_json's string escaping: quotes, backslashes and control characters.
    out.push_str(&serde_json::Value::from(s).to_string());
}

fn push_json_value(out: &mut String, value: &FieldValue) {
    match value {
        FieldValue::Str(s) => push_json_string(out, s),
        FieldValue::I64(n) => out.push_str(&n.to_string()),
        FieldValue::U64(n) => out.push_str(&n.to_string()),
        // JSON has no NaN or infinity: keep them readable as strings.
        FieldValue::F64(n) => match serde_json::Number::from_f64(*n) {
            Some(num) => out.push_str(&num.to_string()),
            None => push_json_string(out, &n.to_string()),
        },
        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// Which events are written: at most `max`, and at most INFO for [`NOISY_TARGETS`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogFilter {
    max: Level,
}

impl LogFilter {
    pub(crate) fn new(max: Level) -> Self {
        Self { max }
    }

    /// `tracing` orders levels by verbosity: TRACE is the "greatest".
    pub(crate) fn enabled(&self, target: &str, level: Level) -> bool {
        let crate_name = target.split("::").next().unwrap_or(target);
        let max = if NOISY_TARGETS.contains(&crate_name) {
            self.max.min(Level::INFO)
        } else {
            self.max
        };
        level <= max
    }
}

type Sink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// A `tracing` layer writing [`format_line`] lines; span fields (outermost first) are included,
/// the event's own fields override them.
pub(crate) struct JsonLogLayer {
    filter: LogFilter,
    sink: Sink,
}

impl fmt::Debug for JsonLogLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLogLayer")
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl JsonLogLayer {
    /// Writes to the process's stderr, one `write_all` per line under the stderr lock.
    pub(crate) fn stderr(max: Level) -> Self {
        Self::with_sink(
            max,
            Arc::new(|line: &[u8]| {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(line);
                let _ = err.flush();
            }),
        )
    }

    /// Writes to `sink` (tests capture lines this way).
    pub(crate) fn with_sink(max: Level, sink: Sink) -> Self {
        Self {
            filter: LogFilter::new(max),
            sink,
        }
    }
}

/// Fields recorded on a span, stored in its extensions.
struct SpanFields(Vec<(String, FieldValue)>);

/// Collects `tracing` fields; the event's `message` goes apart.
struct FieldCollector<'a> {
    fields: &'a mut Vec<(String, FieldValue)>,
    message: Option<&'a mut String>,
}

impl FieldCollector<'_> {
    fn push(&mut self, field: &Field, value: FieldValue) {
        if field.name() == "message" {
            if let Some(message) = self.message.as_deref_mut() {
                if let FieldValue::Str(s) = value {
                    *message = s;
                }
                return;
            }
        }
        let name = field.name();
        // `r#type` style raw identifiers arrive with their prefix.
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.fields.push((name.to_owned(), value));
    }
}

impl Visit for FieldCollector<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Str(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Str(format!("{value:?}")));
    }
}

impl<S> Layer<S> for JsonLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.filter.enabled(metadata.target(), *metadata.level()) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.filter.enabled(metadata.target(), *metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.filter.max))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        attrs.record(&mut FieldCollector {
            fields: &mut fields,
            message: None,
        });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
                values.record(&mut FieldCollector {
                    fields,
                    message: None,
                });
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let timestamp = SystemTime::now();
        let mut fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.iter().cloned());
                }
            }
        }
        let mut message = String::new();
        event.record(&mut FieldCollector {
            fields: &mut fields,
            message: Some(&mut message),
        });
        let metadata = event.metadata();
        let line = format_line(&LogRecord {
            level: *metadata.level(),
            message: &message,
            target: metadata.target(),
            timestamp,
            fields: &fields,
        });
        (self.sink)(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    #[test]
    fn exact_line_with_extra_fields() {
        let fields = vec![
            (
                "resource".to_owned(),
                FieldValue::Str("immutable_image.app".into()),
            ),
            ("attempt".to_owned(), FieldValue::I64(-3)),
            (
                "bytes".to_owned(),
                FieldValue::U64(18_446_744_073_709_551_615),
            ),
            ("ratio".to_owned(), FieldValue::F64(0.5)),
            ("nan".to_owned(), FieldValue::F64(f64::NAN)),
            ("done".to_owned(), FieldValue::Bool(true)),
        ];
        let line = format_line(&LogRecord {
            level: Level::INFO,
            message: "baking image",
            target: "terraform_provider_immutable::bake",
            timestamp: at(1_136_214_245, 7),
            fields: &fields,
        });
        assert_eq!(
            line,
            "{\"@level\":\"info\",\"@message\":\"baking image\",\
             \"@module\":\"provider.terraform_provider_immutable::bake\",\
             \"@timestamp\":\"2006-01-02T15:04:05.000007Z\",\
             \"resource\":\"immutable_image.app\",\"attempt\":-3,\
             \"bytes\":18446744073709551615,\"ratio\":0.5,\"nan\":\"NaN\",\"done\":true}\n"
        );
        // And it is valid JSON.
        let parsed: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(parsed["@level"], "info");
    }

    #[test]
    fn level_names_are_terraforms() {
        let names: Vec<_> = [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .into_iter()
        .map(level_name)
        .collect();
        assert_eq!(names, ["trace", "debug", "info", "warn", "error"]);
    }

    #[test]
    fn timestamp_always_has_six_fraction_digits() {
        for (secs, micros) in [(0, 0), (1_700_000_000, 999_999), (1_700_000_000, 100_000)] {
            let line = format_line(&LogRecord {
                level: Level::WARN,
                message: "",
                target: "",
                timestamp: at(secs, micros),
                fields: &[],
            });
            let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
            let ts = v["@timestamp"].as_str().unwrap();
            let frac = ts.split('.').nth(1).unwrap();
            assert_eq!(frac.len(), 7, "{ts}"); // six digits and the Z
            assert!(frac.ends_with('Z'));
            // No @module without a target.
            assert!(v.get("@module").is_none());
        }
    }

    #[test]
    fn quotes_newlines_and_control_characters_are_escaped() {
        let fields = vec![("path".to_owned(), FieldValue::Str("C:\\x\t\u{1}".into()))];
        let line = format_line(&LogRecord {
            level: Level::ERROR,
            message: "say \"hi\"\nthen leave",
            target: "t",
            timestamp: at(0, 0),
            fields: &fields,
        });
        assert_eq!(
            line,
            "{\"@level\":\"error\",\"@message\":\"say \\\"hi\\\"\\nthen leave\",\"@module\":\"provider.t\",\
             \"@timestamp\":\"1970-01-01T00:00:00.000000Z\",\"path\":\"C:\\\\x\\t\\u0001\"}\n"
        );
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_reserved_keys_are_renamed() {
        let fields = vec![
            ("id".to_owned(), FieldValue::Str("span".into())),
            ("@level".to_owned(), FieldValue::Str("x".into())),
            ("id".to_owned(), FieldValue::Str("event".into())),
        ];
        let line = format_line(&LogRecord {
            level: Level::DEBUG,
            message: "m",
            target: "t",
            timestamp: at(0, 0),
            fields: &fields,
        });
        assert!(
            line.ends_with(",\"_@level\":\"x\",\"id\":\"event\"}\n"),
            "{line}"
        );
    }

    #[test]
    fn level_from_environment_follows_terraform() {
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            level_from_env(move |k| map.get(k).cloned())
        };
        assert_eq!(env(&[]), None);
        assert_eq!(env(&[("TF_LOG", "")]), None);
        assert_eq!(env(&[("TF_LOG", "debug")]), Some(Level::DEBUG));
        assert_eq!(env(&[("TF_LOG", "Warn")]), Some(Level::WARN));
        assert_eq!(env(&[("TF_LOG", "JSON")]), Some(Level::TRACE));
        assert_eq!(env(&[("TF_LOG", "1")]), Some(Level::TRACE));
        assert_eq!(env(&[("TF_LOG", "off")]), None);
        assert_eq!(
            env(&[("TF_LOG", "trace"), ("TF_LOG_PROVIDER", "error")]),
            Some(Level::ERROR)
        );
        assert_eq!(env(&[("TF_LOG_PROVIDER", "info")]), Some(Level::INFO));
        assert_eq!(
            env(&[("TF_LOG", "info"), ("TF_LOG_PROVIDER", "")]),
            Some(Level::INFO)
        );
        assert_eq!(
            env(&[("TF_LOG", "trace"), ("TF_LOG_PROVIDER", "off")]),
            None
        );
    }

    #[test]
    fn filter_caps_http2_noise() {
        let f = LogFilter::new(Level::TRACE);
        assert!(f.enabled("terraform_provider_immutable::plugin", Level::TRACE));
        assert!(f.enabled("aws_smithy_runtime::client", Level::DEBUG));
        assert!(!f.enabled("h2::codec", Level::DEBUG));
        assert!(f.enabled("h2::codec", Level::INFO));
        assert!(!f.enabled("hyper_util", Level::TRACE));
        let f = LogFilter::new(Level::WARN);
        assert!(!f.enabled("terraform_provider_immutable", Level::INFO));
        assert!(f.enabled("terraform_provider_immutable", Level::ERROR));
    }

    #[test]
    fn layer_writes_event_and_span_fields() {
        let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink_lines = lines.clone();
        let layer = JsonLogLayer::with_sink(
            Level::DEBUG,
            Arc::new(move |l: &[u8]| sink_lines.lock().unwrap().extend_from_slice(l)),
        );
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("apply", resource = "immutable_image.app", step = 1u64);
            let _guard = span.enter();
            tracing::info!(step = 2u64, ok = true, "created {}", "ami-123");
            tracing::trace!("filtered out");
        });
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        let mut it = text.lines();
        let v: serde_json::Value = serde_json::from_str(it.next().unwrap()).unwrap();
        assert!(it.next().is_none(), "{text}");
        assert_eq!(v["@level"], "info");
        assert_eq!(v["@message"], "created ami-123");
        assert_eq!(
            v["@module"],
            format!("provider.{}", module_path!()).as_str()
        );
        assert_eq!(v["resource"], "immutable_image.app");
        assert_eq!(v["step"], 2);
        assert_eq!(v["ok"], true);
    }
}
