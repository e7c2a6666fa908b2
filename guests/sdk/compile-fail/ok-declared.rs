// expect: ok
// A control for the declaration API: claims named by a property at init, client metadata,
// accepted properties, and the borrowed accessors (`&'a str` / `Cow<'a, str>` outliving the
// `&Claims` they came from).
use std::borrow::Cow;
use tokenwatch_guest::{
    json, log, AccessTokenEvent, AccessTokenListener, Claims, Declaration, EventContext, Listener, Properties,
};

#[derive(Default)]
struct Meter {
    claims: Vec<String>,
}

impl Listener for Meter {
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        self.claims = properties.get("claims").unwrap_or("client_id,scope").split(',').map(str::to_owned).collect();
        Ok(())
    }
    fn declare(&self) -> Declaration {
        Declaration::claims(&self.claims).client_metadata().properties(&["claims"])
    }
}

fn scope<'a>(claims: &Claims<'a>) -> Cow<'a, str> {
    claims.scope().unwrap_or_default()
}

impl AccessTokenListener for Meter {
    fn access_token_issued(&mut self, event: &AccessTokenEvent, ctx: &EventContext) {
        let claims = *event.claims();
        let client: &str = claims.get("client_id").unwrap_or("-");
        let name = ctx.client_metadata().and_then(|m| json::member(m, "client_name"));
        let names: Vec<Cow<str>> = claims.names().collect();
        log::info(&format!("{client} {} {name:?} {names:?} {}", scope(&claims), claims.to_json()));
        let _ = (Declaration::no_claims().no_properties(), Declaration::all_claims(), Declaration::claims(vec![String::new()]));
    }
}

tokenwatch_guest::export_access_token_listener!(Meter);
