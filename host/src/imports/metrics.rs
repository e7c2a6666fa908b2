//! `tokenwatch:listener/metrics` (contract 0.2): counters and gauges a listener reports,
//! kept by the host with bounded memory and exposed, with the host's own per-listener and
//! per-sink series, in the Prometheus text format (`prometheus-client`).

use crate::runtime::bindings::v0_2::tokenwatch::listener::metrics::MetricsError;
use crate::outbox::SinkStatus;
use crate::runtime::state::State;
use crate::runtime::status::ListenerStatus;
use parking_lot::Mutex;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

/// Metric names per listener. A listener reports a handful; the cap keeps a buggy or hostile
/// one from growing the host's memory.
pub const MAX_NAMES_PER_LISTENER: usize = 64;
/// Label sets per metric name per listener (per client, per scope: hundreds at most).
pub const MAX_SERIES_PER_NAME: usize = 1_000;
pub const MAX_LABELS: usize = 8;
pub const MAX_NAME_BYTES: usize = 64;
pub const MAX_LABEL_VALUE_BYTES: usize = 256;
/// The host's work per call (validation, a lock, a map update), on top of a fuel per byte.
pub const FUEL_PER_CALL: u64 = 500;

type Labels = Vec<(String, String)>;

/// A counter's increment or a gauge's new value.
#[derive(Clone, Copy)]
enum Recorded {
    Add(u64),
    Set(f64),
}

impl Recorded {
    fn kind(self) -> Kind {
        match self {
            Recorded::Add(_) => Kind::Counter,
            Recorded::Set(_) => Kind::Gauge,
        }
    }

}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One guest metric name: its kind and its series (labels with `listener` first); a
/// counter's value is an exact `u64` (stored as its bits), a gauge's an `f64`.
struct Metric {
    kind: Kind,
    series: HashMap<Labels, u64>,
    /// Series per listener, for the cap.
    per_listener: HashMap<Arc<str>, usize>,
}

/// Every listener's metrics in one host.
#[derive(Default)]
pub struct GuestMetrics {
    metrics: Mutex<BTreeMap<String, Metric>>,
}

impl GuestMetrics {
    fn record(&self, listener: &Arc<str>, name: &str, labels: Labels, value: Recorded) -> Result<(), MetricsError> {
        let kind = value.kind();
        check_name("metric name", name)?;
        if labels.len() > MAX_LABELS {
            return Err(MetricsError::Invalid(format!("{} labels, over the limit of {MAX_LABELS}", labels.len())));
        }
        for (k, v) in &labels {
            check_name("label name", k)?;
            if k == "listener" {
                return Err(MetricsError::Invalid("the label `listener` is the host's: it names the listener".into()));
            }
            if v.len() > MAX_LABEL_VALUE_BYTES {
                return Err(MetricsError::Invalid(format!("a value of label `{k}` is {} bytes, over the limit of {MAX_LABEL_VALUE_BYTES}", v.len())));
            }
        }
        if let Recorded::Set(v) = value {
            if !v.is_finite() {
                return Err(MetricsError::Invalid(format!("{v} is not a finite number")));
            }
        }
        let mut metrics = self.metrics.lock();
        if !metrics.contains_key(name) {
            let names = metrics.values().filter(|m| m.per_listener.contains_key(listener)).count();
            if names >= MAX_NAMES_PER_LISTENER {
                return Err(MetricsError::TooManySeries(MAX_NAMES_PER_LISTENER as u32));
            }
        }
        let metric = metrics
            .entry(name.to_owned())
            .or_insert_with(|| Metric { kind, series: HashMap::new(), per_listener: HashMap::new() });
        if metric.kind != kind {
            return Err(MetricsError::KindMismatch(format!("`{name}` is a {}", metric.kind.as_str())));
        }
        let mut key = Vec::with_capacity(labels.len() + 1);
        key.push(("listener".to_owned(), listener.to_string()));
        key.extend(labels);
        if !metric.series.contains_key(&key) {
            let n = metric.per_listener.entry(listener.clone()).or_default();
            if *n >= MAX_SERIES_PER_NAME {
                return Err(MetricsError::TooManySeries(MAX_SERIES_PER_NAME as u32));
            }
            *n += 1;
        }
        let slot = metric.series.entry(key).or_default();
        match value {
            Recorded::Add(n) => *slot = slot.saturating_add(n),
            Recorded::Set(v) => *slot = v.to_bits(),
        }
        Ok(())
    }

    /// The series of one listener (tests, status).
    pub fn series_of(&self, listener: &str) -> usize {
        self.metrics.lock().values().map(|m| m.per_listener.get(listener).copied().unwrap_or(0)).sum()
    }
}

fn check_name(what: &str, name: &str) -> Result<(), MetricsError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(MetricsError::Invalid(format!(
            "{what} {:?} is not valid: [a-zA-Z_][a-zA-Z0-9_]*, at most {MAX_NAME_BYTES} bytes",
            crate::text::truncate(name, MAX_NAME_BYTES)
        )))
    }
}

/// The metrics capability of one listener's store.
#[derive(Clone)]
pub struct MetricsCtx {
    pub(crate) metrics: Arc<GuestMetrics>,
    pub(crate) listener: Arc<str>,
}

/// Link `metrics` (contract 0.2 only).
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    let mut metrics = super::instance(linker, "metrics", "0.2.0")?;
    metrics.func_wrap(
        "counter-add",
        |mut store: StoreContextMut<'_, State>, (name, labels, value): (WasmStr, Labels, u64)| {
            Ok((record(&mut store, &name, labels, Recorded::Add(value))?,))
        },
    )?;
    metrics.func_wrap(
        "gauge-set",
        |mut store: StoreContextMut<'_, State>, (name, labels, value): (WasmStr, Labels, f64)| {
            Ok((record(&mut store, &name, labels, Recorded::Set(value))?,))
        },
    )?;
    Ok(())
}

fn record(store: &mut StoreContextMut<'_, State>, name: &WasmStr, labels: Labels, value: Recorded) -> wasmtime::Result<Result<(), MetricsError>> {
    let label_bytes: usize = labels.iter().map(|(k, v)| k.len() + v.len()).sum();
    super::charge_fuel(store, FUEL_PER_CALL + label_bytes as u64)?;
    super::read_charged(store, name, |state, name| Ok(state.metrics.metrics.record(&state.metrics.listener, name, labels, value)))
}

/// The Prometheus text exposition: the host's series per listener and per sink, then every
/// guest metric as `guest_<name>`.
pub fn exposition(listeners: &[ListenerStatus], sinks: &[SinkStatus], guest: &GuestMetrics) -> String {
    let mut registry = Registry::default();
    let listener_counter = |registry: &mut Registry, name: &str, help: &str, value: &dyn Fn(&ListenerStatus) -> Vec<(Labels, u64)>| {
        let family = Family::<Labels, Counter>::default();
        for s in listeners {
            for (labels, v) in value(s) {
                let mut key = vec![("listener".to_owned(), s.name.clone())];
                key.extend(labels);
                family.get_or_create(&key).inc_by(v);
            }
        }
        registry.register(name, help, family);
    };
    let plain = |v: u64| vec![(Vec::new(), v)];
    listener_counter(&mut registry, "tokenwatch_listener_events", "Events offered to a listener", &|s| plain(s.counters.events));
    listener_counter(&mut registry, "tokenwatch_listener_delivered", "Events whose handler returned", &|s| plain(s.counters.delivered));
    listener_counter(&mut registry, "tokenwatch_listener_skipped", "Events of a kind the listener does not handle", &|s| plain(s.counters.skipped));
    listener_counter(&mut registry, "tokenwatch_listener_dropped", "Events not delivered, by reason", &|s| {
        let c = &s.counters;
        [("disabled", c.dropped_disabled), ("quarantined", c.dropped_quarantined), ("busy", c.dropped_busy)]
            .into_iter()
            .map(|(r, v)| (vec![("reason".to_owned(), r.to_owned())], v))
            .collect()
    });
    listener_counter(&mut registry, "tokenwatch_listener_traps", "Traps, by cause", &|s| {
        s.counters.traps.iter().map(|(cause, v)| (vec![("cause".to_owned(), (*cause).to_owned())], *v)).collect()
    });
    listener_counter(&mut registry, "tokenwatch_listener_fuel", "Fuel consumed by handler calls", &|s| plain(s.counters.fuel));
    listener_counter(&mut registry, "tokenwatch_listener_handler_microseconds", "Time in handler calls", &|s| plain(s.counters.micros));
    listener_counter(&mut registry, "tokenwatch_listener_published", "Messages the outbox took from the listener", &|s| plain(s.counters.published));
    let listener_gauge = |registry: &mut Registry, name: &str, help: &str, value: &dyn Fn(&ListenerStatus) -> i64| {
        let family = Family::<Labels, Gauge>::default();
        for s in listeners {
            family.get_or_create(&vec![("listener".to_owned(), s.name.clone())]).set(value(s));
        }
        registry.register(name, help, family);
    };
    listener_gauge(&mut registry, "tokenwatch_listener_version", "The version serving: 1, then one more per reload", &|s| s.version.into());
    listener_gauge(&mut registry, "tokenwatch_listener_queue_depth", "Events waiting in an async listener's queue", &|s| s.queue_depth as i64);
    if !sinks.is_empty() {
        let messages = Family::<Labels, Counter>::default();
        let dropped = Family::<Labels, Counter>::default();
        let depth = Family::<Labels, Gauge>::default();
        for s in sinks {
            let sink = ("sink".to_owned(), s.name.clone());
            for (outcome, v) in [("enqueued", s.enqueued), ("delivered", s.delivered), ("retried", s.retried), ("spooled", s.spooled), ("dead_lettered", s.dead_lettered)] {
                messages.get_or_create(&vec![sink.clone(), ("outcome".to_owned(), outcome.to_owned())]).inc_by(v);
            }
            for (reason, v) in &s.dropped {
                dropped.get_or_create(&vec![sink.clone(), ("reason".to_owned(), (*reason).to_owned())]).inc_by(*v);
            }
            for (place, v) in [("queue", s.queue_depth), ("spool", s.spool_depth)] {
                depth.get_or_create(&vec![sink.clone(), ("in".to_owned(), place.to_owned())]).set(v as i64);
            }
        }
        registry.register("tokenwatch_sink_messages", "Messages per sink, by outcome", messages);
        registry.register("tokenwatch_sink_dropped", "Messages a sink dropped, by reason", dropped);
        registry.register("tokenwatch_sink_depth", "Messages waiting, in the memory queue or the spool", depth);
    }
    for (name, metric) in guest.metrics.lock().iter() {
        let help = "Reported by listeners through the metrics import";
        match metric.kind {
            Kind::Counter => {
                let family = Family::<Labels, Counter>::default();
                for (labels, v) in &metric.series {
                    family.get_or_create(labels).inc_by(*v);
                }
                // The text format adds `_total` to counters.
                registry.register(format!("guest_{}", name.strip_suffix("_total").unwrap_or(name)), help, family);
            }
            Kind::Gauge => {
                let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                for (labels, v) in &metric.series {
                    family.get_or_create(labels).set(f64::from_bits(*v));
                }
                registry.register(format!("guest_{name}"), help, family);
            }
        }
    }
    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String does not fail");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn counters_add_gauges_set_and_the_exposition_names_the_listener() {
        let m = GuestMetrics::default();
        let l: Arc<str> = "metering".into();
        m.record(&l, "tokens_total", labels(&[("client_id", "app")]), Recorded::Add(2)).unwrap();
        m.record(&l, "tokens_total", labels(&[("client_id", "app")]), Recorded::Add(3)).unwrap();
        m.record(&l, "clients", vec![], Recorded::Set(7.0)).unwrap();
        m.record(&l, "clients", vec![], Recorded::Set(4.0)).unwrap();
        let text = exposition(&[], &[], &m);
        assert!(text.contains("# TYPE guest_tokens counter"), "{text}");
        assert!(text.contains(r#"guest_tokens_total{listener="metering",client_id="app"} 5"#), "{text}");
        assert!(text.contains(r#"guest_clients{listener="metering"} 4"#), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn bad_names_kinds_and_too_many_series_are_refused_and_never_stored() {
        let m = GuestMetrics::default();
        let l: Arc<str> = "l".into();
        let invalid = |r: Result<(), MetricsError>| matches!(r, Err(MetricsError::Invalid(_)));
        assert!(invalid(m.record(&l, "9lives", vec![], Recorded::Add(1))));
        assert!(invalid(m.record(&l, "a-b", vec![], Recorded::Add(1))));
        assert!(invalid(m.record(&l, "ok", labels(&[("listener", "forged")]), Recorded::Add(1))));
        assert!(invalid(m.record(&l, "ok", vec![], Recorded::Set(f64::NAN))));
        m.record(&l, "c", vec![], Recorded::Add(1)).unwrap();
        assert!(matches!(m.record(&l, "c", vec![], Recorded::Set(1.0)), Err(MetricsError::KindMismatch(_))));
        for i in 0..MAX_SERIES_PER_NAME - 1 {
            m.record(&l, "c", labels(&[("i", &i.to_string())]), Recorded::Add(1)).unwrap();
        }
        assert!(matches!(m.record(&l, "c", labels(&[("i", "one-more")]), Recorded::Add(1)), Err(MetricsError::TooManySeries(n)) if n as usize == MAX_SERIES_PER_NAME));
        assert_eq!(m.series_of("l"), MAX_SERIES_PER_NAME, "the refused series was not stored");
        // Another listener has its own allowance.
        m.record(&"other".into(), "c", labels(&[("i", "one-more")]), Recorded::Add(1)).unwrap();
        for i in 1..MAX_NAMES_PER_LISTENER {
            m.record(&l, &format!("n{i}"), vec![], Recorded::Set(1.0)).unwrap();
        }
        assert!(matches!(m.record(&l, "one_name_too_many", vec![], Recorded::Set(1.0)), Err(MetricsError::TooManySeries(n)) if n as usize == MAX_NAMES_PER_LISTENER));
    }
}
