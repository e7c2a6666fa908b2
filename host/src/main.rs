//! The `tokenwatch` command: thin argument parsing over the library.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokenwatch::replay::{replay, BufferedLog};
use tokenwatch::{Config, Host, ListenerConfig};

#[derive(Parser)]
#[command(name = "tokenwatch", version, about = "Runs token issue event listeners compiled to WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay newline-delimited JSON token issue events through the listeners.
    Replay {
        /// The TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Add a listener component (repeatable); named after its file.
        #[arg(long = "listener", value_name = "PATH")]
        listeners: Vec<PathBuf>,
        /// Set a listener property (repeatable), overriding the config.
        #[arg(long = "property", value_name = "LISTENER.KEY=VALUE")]
        properties: Vec<String>,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// Sign SETs with this key (a JWK set with private keys, or PEM), overriding
        /// `[signing] key_file`.
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
        /// With --signing-key: which key of the JWK set signs (PEM: the kid SETs carry).
        #[arg(long, requires = "signing_key")]
        kid: Option<String>,
        /// The `iss` of signed SETs, overriding `[signing] issuer`.
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
        /// The events file; `-` or nothing reads standard input.
        events: Option<PathBuf>,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measure what a sandboxed listener costs per token against native code.
    Bench {
        /// One JSON document with the keys documented in the README.
        #[arg(long)]
        json: bool,
        /// The directory of the bundled guests.
        #[arg(long, default_value = "guests/dist")]
        guests: PathBuf,
        /// Interleaved rounds per figure (the median is reported).
        #[arg(long, default_value_t = 15)]
        rounds: usize,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print the public JWK set (no private parts) receivers verify SETs with.
    Jwks {
        /// Read the key named by `[signing]` in this config file.
        #[arg(long, conflicts_with = "signing_key", required_unless_present = "signing_key")]
        config: Option<PathBuf>,
        /// Read this key file (a JWK set with private keys, or PEM).
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
        /// With --signing-key: the key's kid (JWK set: which key; PEM: its kid).
        #[arg(long, requires = "signing_key")]
        kid: Option<String>,
        /// With --signing-key: RS256, PS256, ES256 or EdDSA (PS256 for an RSA PEM key).
        #[arg(long, requires = "signing_key")]
        alg: Option<String>,
    },
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "tokenwatch=error".into()),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokenwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Replay {
            config,
            listeners,
            properties,
            json,
            signing_key,
            kid,
            issuer,
            events,
        } => {
            let mut config = load_config(config, listeners, properties)?;
            tokenwatch::signing::apply_overrides(&mut config.signing, signing_key, kid, issuer).map_err(anyhow::Error::msg)?;
            let logs = Arc::new(BufferedLog::default());
            let host = Host::builder(config).log_sink(logs.clone()).build()?;
            let input: Box<dyn std::io::Read> = match events.as_deref() {
                None => Box::new(std::io::stdin()),
                Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin()),
                Some(p) => Box::new(
                    std::fs::File::open(p)
                        .with_context(|| format!("cannot read events {}", p.display()))?,
                ),
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = replay(&host, &logs, BufReader::new(input), json, &mut out, &mut std::io::stderr())
                .with_context(|| match events.as_deref() {
                    Some(p) if p.as_os_str() != "-" => format!("cannot read events {}", p.display()),
                    _ => "cannot read events from standard input".to_owned(),
                })?;
            out.flush()?;
            if !json {
                eprintln!(
                    "{} events, {} malformed lines skipped, {} traps",
                    summary.events, summary.malformed, summary.traps
                );
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::Jwks { config, signing_key, kid, alg } } => {
            let jwks = match (config, signing_key) {
                (_, Some(file)) => {
                    let alg = alg.map(|a| a.parse::<tokenwatch::signing::Alg>()).transpose().map_err(anyhow::Error::msg)?;
                    tokenwatch::signing::SigningKey::load(&file, kid.as_deref(), alg)?.public_jwks()
                }
                (Some(path), None) => {
                    let config = Config::from_file(&path)?;
                    let Some(signing) = &config.signing else {
                        bail!("config {}: no [signing] table", path.display());
                    };
                    tokenwatch::signing::Signer::from_config(signing)?.public_jwks()
                }
                (None, None) => bail!("give --config FILE or --signing-key FILE"),
            };
            println!("{}", serde_json::to_string_pretty(&jwks)?);
            Ok(())
        }
        Command::Bench { json, guests, rounds } => {
            let opts = tokenwatch::bench::BenchOptions { guests, rounds: rounds.max(1), ..Default::default() };
            let doc = tokenwatch::bench::run(&opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print!("{}", tokenwatch::bench::render(&doc));
            }
            Ok(())
        }
    }
}

/// The config file (if any) plus `--listener` and `--property` on top.
fn load_config(
    path: Option<PathBuf>,
    listeners: Vec<PathBuf>,
    properties: Vec<String>,
) -> anyhow::Result<Config> {
    let mut config = match &path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    config
        .listeners
        .extend(listeners.into_iter().map(ListenerConfig::new));
    if config.listeners.is_empty() {
        bail!("no listeners: give --config FILE or --listener PATH");
    }
    for p in &properties {
        config.set_property(p)?;
    }
    config.validate()?;
    Ok(config)
}
