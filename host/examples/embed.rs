//! The embedding example of docs/embedding.md: `cargo run --release --example embed` from the
//! repository root (after `make guests`). Built by `make test`, so docs/embedding.md stays true.

use serde_json::json;
use std::sync::Arc;
use tokenwatch::{Config, Host, ListenerConfig, Outcome, TokenEvent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Guest log lines go to `tracing` (target `tokenwatch::guest`): without a subscriber
    // they go nowhere. `RUST_LOG` overrides the filter (`tokenwatch=info`: host lines too).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "tokenwatch=warn,tokenwatch::guest=info".into()),
        )
        .init();

    let config = Config::from_file("demo/tokenwatch.toml".as_ref())?; // or build it in code:
    let config = config.with_listener(
        ListenerConfig::new("guests/dist/metering.wasm")
            .with_name("metering-every-event")
            .with_property("report_every", "1"),
    );
    let host = Arc::new(Host::builder(config).build()?); // compiles, checks, runs init

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

    // In an async server, dispatch on the blocking pool (here a tokio runtime of its own):
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let claims = json!({"iss": "https://c2id.example.com", "sub": "alice", "client_id": "webapp", "scope": "openid email"});
    let event = TokenEvent::access_token(claims.as_object().unwrap().clone());
    let shared = host.clone();
    let deliveries = runtime.block_on(async move {
        tokio::task::spawn_blocking(move || shared.dispatch_event(event)).await
    })?;
    println!("access token: {} deliveries", deliveries.len());

    for s in host.status() {
        println!("{} {:?} delivered={} traps={}", s.name, s.health, s.counters.delivered, s.counters.traps_total());
    }
    host.shutdown(); // calls every listener's shutdown once; also runs on drop
    Ok(())
}
