//! Counts issued access tokens per client and per scope value and logs the running counts
//! every `report_every` events (default 100).
use std::collections::BTreeMap;
use tokenwatch_guest::{log, AccessTokenEvent, AccessTokenListener, EventContext, Listener, Properties};

const DEFAULT_REPORT_EVERY: u64 = 100;

#[derive(Default)]
struct Metering {
    report_every: u64,
    total: u64,
    // BTreeMap so that reports list keys in a stable order.
    per_client: BTreeMap<String, u64>,
    per_scope: BTreeMap<String, u64>,
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
}

impl AccessTokenListener for Metering {
    fn access_token_issued(&mut self, event: &AccessTokenEvent, ctx: &EventContext) {
        let claims = event.claims();
        // RFC 9068 tokens carry client_id; fall back to the issuing context.
        let client = claims.client_id().unwrap_or_else(|| ctx.client_id());
        let client = if client.is_empty() { "-".to_string() } else { client };
        *self.per_client.entry(client).or_default() += 1;
        for scope in claims.scope().unwrap_or_default().split_ascii_whitespace() {
            *self.per_scope.entry(scope.to_string()).or_default() += 1;
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

fn render(counts: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = counts.iter().map(|(k, n)| format!("{k}:{n}")).collect();
    format!("{{{}}}", items.join(","))
}

tokenwatch_guest::export_access_token_listener!(Metering);
