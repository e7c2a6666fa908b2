//! Probe exporting only `id-token-listener`: shows the host skips it for access tokens.
use tokenwatch_guest::{log, Declaration, EventContext, IdTokenEvent, IdTokenListener, Listener, Properties};

#[derive(Default)]
struct IdProbe;

impl Listener for IdProbe {
    fn init(&mut self, _: &Properties) -> Result<(), String> {
        log::info("init");
        Ok(())
    }
    fn declare(&self) -> Declaration {
        Declaration::claims(&["sub"])
    }
    fn shutdown(&mut self) {
        log::info("shutdown");
    }
}

impl IdTokenListener for IdProbe {
    fn id_token_issued(&mut self, event: &IdTokenEvent, _: &EventContext) {
        let sub = event.claims().subject().unwrap_or_default();
        log::info(&format!("id-token {sub}"));
    }
}

tokenwatch_guest::export_id_token_listener!(IdProbe);
