//! Counts issued access tokens per client and per scope value: as metrics the host exposes
//! in the Prometheus text format (`guest_access_tokens_total{client_id}`,
//! `guest_access_token_scopes_total{scope}`), and in a log line of the running counts every
//! `report_every` events (default 100).
use std::collections::BTreeMap;
use tokenwatch_guest::{log, metrics, AccessTokenEvent, AccessTokenListener, Declaration, EventContext, Listener, Properties};

const DEFAULT_REPORT_EVERY: u64 = 100;

#[derive(Default)]
struct Metering {
    report_every: u64,
    total: u64,
    // BTreeMap so that reports list keys in a stable order.
    per_client: BTreeMap<String, u64>,
    per_scope: BTreeMap<String, u64>,
    /// Whether a refused metric was already logged (once per instance, not per event).
    metrics_refused: bool,
}

impl Listener for Metering {
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        self.report_every = match properties.get("report_every") {
            None => DEFAULT_REPORT_EVERY,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("report_every must be a positive integer, got {v:?}")),
            },
        };
        log::info(&format!("init report_every={}", self.report_every));
        Ok(())
    }

    fn declare(&self) -> Declaration {
        Declaration::claims(&["client_id", "scope"]).properties(&["report_every"])
    }
}

impl AccessTokenListener for Metering {
    fn access_token_issued(&mut self, event: &AccessTokenEvent, ctx: &EventContext) {
        let claims = event.claims();
        // RFC 9068 tokens carry client_id; fall back to the issuing context.
        let client = claims.client_id().unwrap_or(ctx.client_id().into());
        let client = if client.is_empty() { "-" } else { &client };
        count(&mut self.per_client, client);
        let mut reported = metrics::counter_add("access_tokens_total", &[("client_id", client)], 1);
        for scope in claims.scope().unwrap_or_default().split_ascii_whitespace() {
            count(&mut self.per_scope, scope);
            reported = reported.and(metrics::counter_add("access_token_scopes_total", &[("scope", scope)], 1));
        }
        if let Err(e) = reported {
            if !self.metrics_refused {
                self.metrics_refused = true;
                log::warn(&format!("a metric was refused (the counts in the log lines stay complete): {e:?}"));
            }
        }
        self.total += 1;
        if self.total.is_multiple_of(self.report_every) {
            log::info(&format!(
                "access-tokens total={} clients={} scopes={}",
                self.total,
                render(&self.per_client),
                render(&self.per_scope)
            ));
        }
    }
}

/// One more of `key` (a new key is the only allocation).
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

fn render(counts: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = counts.iter().map(|(k, n)| format!("{k}:{n}")).collect();
    format!("{{{}}}", items.join(","))
}

tokenwatch_guest::export_access_token_listener!(Metering);
