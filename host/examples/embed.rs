//! The README's embedding example: `cargo run --release --example embed` from the
//! repository root (after `make guests`). Built by `make test`, so the README stays true.

use std::sync::Arc;
use serde_json::json;
use tokenwatch::{Config, Host, Outcome, TokenEvent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_file("demo/tokenwatch.toml".as_ref())?;   // or build `Config { .. }` in code
    let host = Arc::new(Host::builder(config).build()?);           // compiles, checks, runs init

    // On any issuing thread, after a token is issued:
    let claims = json!({"iss": "https://c2id.example.com", "sub": "alice", "aud": "webapp", "iat": 1764331200});
    let event = TokenEvent::id_token(claims.as_object().unwrap().clone())
        .with_issuer("https://c2id.example.com")
        .with_client(json!({"client_id": "webapp", "client_name": "Web App"}).as_object().unwrap().clone())?;
    for d in host.dispatch(&Arc::new(event)) {                     // never fails
        if let Outcome::Trap { cause, message } = &d.outcome {
            eprintln!("{}: {cause}: {message} ({} fuel, {} µs)", d.listener, d.fuel, d.micros);
        }
    }

    for s in host.status() {
        println!("{} {:?} delivered={} traps={}", s.name, s.health, s.counters.delivered, s.counters.traps_total());
    }
    host.shutdown(); // calls every listener's shutdown once; also runs on drop
    Ok(())
}
