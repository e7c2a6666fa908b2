//! The `tokenwatch` command: thin argument parsing over the library.
//!
//! Output goes through `write!` with its errors handled, never `println!` (which panics on a
//! closed pipe): when the reader of standard output goes away (`tokenwatch ... | head`), the
//! command stops quietly with status 0.

use anyhow::{bail, Context};
use clap::{ArgGroup, Parser, Subcommand};
use std::io::{self, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokenwatch::cli::replay::{load_failed_record, replay, BufferedLog, Format};
use tokenwatch::{Config, Host, HostError, ListenerConfig};

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
        /// Grant WASI to the listener of this name (repeatable), as `wasi = true` does.
        #[arg(long = "wasi", value_name = "LISTENER")]
        wasi: Vec<String>,
        /// Add a sink granted to every listener (repeatable): NAME=file:PATH or NAME=stdout:.
        #[arg(long = "sink", value_name = "NAME=URL")]
        sinks: Vec<String>,
        /// At the end, write the Prometheus text exposition (host and guest metrics) here.
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
        /// The outbox's spool directory, overriding `[outbox] spool_dir`.
        #[arg(long, value_name = "DIR")]
        spool_dir: Option<PathBuf>,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// Text, only problems: traps, busy and quarantined outcomes, guest warnings and
        /// errors, lifecycle problems, bad lines and the summary.
        #[arg(long, short, conflicts_with = "json")]
        quiet: bool,
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
    /// Serve the HTTP API: events in, listeners' status, metrics, health, the JWK set.
    /// Runs until SIGTERM or SIGINT, then drains and shuts the listeners down.
    Serve {
        /// The TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The address to listen on, IP:PORT, overriding `[http] address` (default
        /// 127.0.0.1:8720; port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Every *.wasm file in DIR becomes a listener named after its file, overriding
        /// `[serve] listeners_dir`.
        #[arg(long = "listeners", value_name = "DIR")]
        listeners_dir: Option<PathBuf>,
        /// The admin API's bearer token is in FILE, overriding `[http] admin_token_file` and
        /// `admin_token_env`.
        #[arg(long, value_name = "FILE")]
        admin_token_file: Option<PathBuf>,
    },
    /// Run one listener module through its whole lifecycle on the production engine and
    /// say whether it would work in production: imports and grants, init, fuel, time and
    /// memory against the budgets, determinism, a verdict. Exit status 1 when it would fail.
    Check {
        /// The listener component.
        module: PathBuf,
        /// NDJSON events (the replay format); default: built-in samples of both kinds.
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
        /// The production config: limits, grants, [signing], sinks (replaced by files in a
        /// scratch directory), and the module's [[listener]] table (by path, else name).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Set a property of the module (repeatable), over the config's.
        #[arg(long = "property", value_name = "KEY=VALUE")]
        properties: Vec<String>,
        /// Fail when the worst event leaves less than PCT percent of a budget.
        #[arg(long, value_name = "PCT", default_value_t = tokenwatch::cli::check::DEFAULT_MIN_HEADROOM_PCT)]
        min_headroom: f64,
        /// One JSON document with the keys documented in docs/cli.md.
        #[arg(long)]
        json: bool,
    },
    /// Run the sandbox conformance suite: hostile listeners shipped in the binary, each loaded
    /// beside a canary into a host built from your config, each checked for containment and
    /// for the canary unharmed. Exit status 1 when a case fails.
    Conformance {
        /// Your config: its [limits], [signing] key, sinks, outbox and dispatch settings
        /// (its listeners are not loaded). Default: every default, and a signing key made
        /// for the run.
        #[arg(long)]
        config: Option<PathBuf>,
        /// One JSON document: {"cases": [{"name", "attacks", "status", "expected",
        /// "observed", "time_ms"}...], "passed", "failed"}.
        #[arg(long)]
        json: bool,
        /// Run only the cases whose name contains PATTERN (plain text, not a glob).
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
    },
    /// The outbox's dead letters: messages a sink rejected for good.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measure what a sandboxed listener costs per token against native code.
    Bench {
        /// One JSON document with the keys documented in docs/cli.md.
        #[arg(long)]
        json: bool,
        /// The directory of the bundled guests.
        #[arg(long, default_value = "guests/dist")]
        guests: PathBuf,
        /// Interleaved rounds per figure (the median is reported).
        #[arg(long, default_value_t = 15)]
        rounds: usize,
        /// Also measure this listener component, against the empty guest.
        #[arg(long, value_name = "PATH")]
        listener: Option<PathBuf>,
        /// With --listener: the NDJSON events to measure it on (default: sample ID tokens).
        #[arg(long, value_name = "FILE", requires = "listener")]
        events: Option<PathBuf>,
    },
    /// Write a new listener project: the listener with its lifecycle and handlers stubbed,
    /// the SDK, the contract, a build script, sample events and a config snippet.
    New {
        /// The language: rust, c, js or python.
        #[arg(long, value_name = "LANG")]
        lang: String,
        /// The listener's name (lowercase letters, digits and `-`).
        name: String,
        /// Where to write it (default: ./NAME); must not exist or be empty.
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List the dead letters, oldest first: sink, id, listener, reason, message.
    DeadLetters {
        #[command(flatten)]
        spool: SpoolArgs,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Move the dead letters back into the spool; the next run with their sink delivers them.
    Retry {
        #[command(flatten)]
        spool: SpoolArgs,
        /// Only this sink's.
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
    },
}

/// Which spool: `--spool-dir`, else the config's `[outbox] spool_dir`, else the default.
#[derive(clap::Args)]
struct SpoolArgs {
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
}

impl SpoolArgs {
    fn open(self) -> anyhow::Result<tokenwatch::Spool> {
        let mut outbox = match &self.config {
            Some(p) => Config::from_file(p)?.outbox,
            None => tokenwatch::OutboxConfig::default(),
        };
        if self.spool_dir.is_some() {
            outbox.spool_dir = self.spool_dir;
        }
        Ok(tokenwatch::Spool::open(&outbox.spool_dir())?)
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print the public JWK set (no private parts) receivers verify SETs with.
    #[command(group(ArgGroup::new("key").required(true).args(["config", "signing_key"])))]
    Jwks {
        /// Read the key named by `[signing]` in this config file.
        #[arg(long)]
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
    let cli = Cli::parse();
    // `serve` reports only through its log: listeners loaded, guest log lines, traps, the
    // drain. The other commands print what happens themselves (see below).
    let default_filter = match cli.command {
        Command::Serve { .. } => "tokenwatch=info",
        _ => "tokenwatch=error,tokenwatch::runtime::listener=off",
    };
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(colour(io::stderr().is_terminal(), std::env::var_os("NO_COLOR")))
        // By default only host errors that no output of the command reports: `replay`
        // prints listeners' lifecycle (failed init, quarantine) itself, in place, so the
        // listener module's own lines are off. `RUST_LOG` adds detail.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .init();
    let result = match cli.command {
        Command::Check { module, events, config, properties, min_headroom, json } => {
            let opts = tokenwatch::cli::check::CheckOptions { module, events, config, properties, min_headroom_pct: min_headroom };
            check(&opts, json)
        }
        Command::Conformance { config, json, filter } => conformance(config, filter, json),
        command => run(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Not `eprintln!`: it panics when standard error is gone too.
            let _ = writeln!(io::stderr(), "tokenwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Colour codes in log lines only for a terminal (a log file or pipe gets plain text), and
/// never when `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Whether an error means the reader of standard output went away (`| head`).
fn closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Write `text` to standard output. A closed pipe is not an error: the reader has what it
/// wanted.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if closed_pipe(&e) => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

/// `tokenwatch check`: the report on standard output; exit status 1 when the verdict fails.
fn check(opts: &tokenwatch::cli::check::CheckOptions, json: bool) -> anyhow::Result<ExitCode> {
    use tokenwatch::cli::check;
    if !(0.0..=100.0).contains(&opts.min_headroom_pct) {
        bail!("--min-headroom {}: give a percentage from 0 to 100", opts.min_headroom_pct);
    }
    let report = check::run(opts)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report.to_json())?))?;
    } else {
        emit(&check::render(&report))?;
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `tokenwatch conformance`: the table (or JSON) on standard output; exit status 1 when a
/// case fails.
fn conformance(config: Option<PathBuf>, filter: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    use tokenwatch::conformance;
    let report = conformance::run(&conformance::Options { config, filter })?;
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report.to_json())?))?;
    } else {
        emit(&conformance::render(&report))?;
    }
    Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        // Their exit status is their verdict: run by `main`.
        Command::Check { .. } | Command::Conformance { .. } => bail!("`check` and `conformance` are run by main"),
        Command::Replay {
            config,
            listeners,
            properties,
            wasi,
            sinks,
            metrics,
            spool_dir,
            json,
            quiet,
            signing_key,
            kid,
            issuer,
            events,
        } => {
            let format = match (json, quiet) {
                (true, _) => Format::Json,
                (false, true) => Format::Quiet,
                (false, false) => Format::Text,
            };
            let mut config = load_config(config, listeners, properties, wasi, sinks)?;
            if spool_dir.is_some() {
                config.outbox.spool_dir = spool_dir;
            }
            tokenwatch::signing::apply_overrides(&mut config.signing, signing_key, kid, issuer).map_err(anyhow::Error::msg)?;
            let logs = Arc::new(BufferedLog::default());
            let host = match Host::builder(config).log_sink(logs.clone()).build() {
                Ok(host) => host,
                Err(HostError::Load(e)) if format == Format::Json => {
                    emit(&format!("{}\n", load_failed_record(&e)))?;
                    return Err(HostError::Load(e).into());
                }
                Err(e) => return Err(e.into()),
            };
            let input: Box<dyn io::Read> = match events.as_deref() {
                None => Box::new(io::stdin()),
                Some(p) if p.as_os_str() == "-" => Box::new(io::stdin()),
                Some(p) => Box::new(
                    std::fs::File::open(p)
                        .with_context(|| format!("cannot read events {}", p.display()))?,
                ),
            };
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            let result = replay(&host, &logs, BufReader::new(input), format, &mut out, &mut io::stderr())
                .map_err(anyhow::Error::from)
                .and_then(|_| out.flush().map_err(|e| tokenwatch::cli::replay::ReplayError::Output(e).into()));
            if let (Ok(()), Some(path)) = (&result, &metrics) {
                std::fs::write(path, host.metrics_text()).with_context(|| format!("cannot write metrics {}", path.display()))?;
            }
            match result {
                Ok(()) => Ok(()),
                Err(e) => match e.downcast_ref::<tokenwatch::cli::replay::ReplayError>() {
                    Some(r) if r.is_closed_output() => Ok(()),
                    Some(tokenwatch::cli::replay::ReplayError::Input(_)) => Err(e.context(match events.as_deref() {
                        Some(p) if p.as_os_str() != "-" => format!("cannot read events {}", p.display()),
                        _ => "cannot read events from standard input".to_owned(),
                    })),
                    _ => Err(e),
                },
            }
        }
        Command::Serve { config, listen, listeners_dir, admin_token_file } => serve(config, listen, listeners_dir, admin_token_file),
        Command::Outbox { command: OutboxCommand::DeadLetters { spool, json } } => {
            let letters = spool.open()?.dead_letters()?;
            let mut text = String::new();
            for l in &letters {
                if json {
                    text.push_str(&serde_json::to_string(l)?);
                } else {
                    text.push_str(&l.line());
                }
                text.push('\n');
            }
            if !json && letters.is_empty() {
                text.push_str("no dead letters\n");
            }
            emit(&text)
        }
        Command::Outbox { command: OutboxCommand::Retry { spool, sink } } => {
            let n = spool.open()?.retry(sink.as_deref())?;
            emit(&format!("{n} dead letter{} moved back to the spool\n", if n == 1 { "" } else { "s" }))
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
            emit(&format!("{}\n", serde_json::to_string_pretty(&jwks)?))
        }
        Command::Bench { json, guests, rounds, listener, events } => {
            let opts = tokenwatch::cli::bench::BenchOptions { guests, rounds: rounds.max(1), listener, events, ..Default::default() };
            let doc = tokenwatch::cli::bench::run(&opts)?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&doc)?))
            } else {
                emit(&tokenwatch::cli::bench::render(&doc))
            }
        }
        Command::New { lang, name, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let done = tokenwatch::cli::new::scaffold(&lang, &name, &dir).map_err(anyhow::Error::msg)?;
            let shown = done.dir.display();
            emit(&format!(
                "wrote {} files into {shown}\nnext:\n  cd {shown} && ./build.sh\n  tokenwatch check dist/{name}.wasm --events events.ndjson\n  tokenwatch replay --config tokenwatch.toml events.ndjson\n",
                done.files.len()
            ))
        }
    }
}

/// `tokenwatch serve`: the config with the flags over it, the socket bound, the host
/// built, then the HTTP API until SIGTERM or SIGINT; the totals line at the end.
fn serve(
    path: Option<PathBuf>,
    listen: Option<String>,
    listeners_dir: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    use tokenwatch::serve;
    let overrides = serve::Overrides { listen, listeners_dir, admin_token_file };
    let mut config = match &path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    overrides.apply(&mut config);
    let running = config.clone();
    let config = serve::expand_listeners(config, &overrides.place())?;
    let mut settings = serve::Settings::from_config(&config)?;
    // The file is watched and reloaded while serving, with the same options over it.
    settings.config_file = path.map(|path| serve::ConfigFile { path, overrides, running });
    let socket = serve::bind(config.http.address().map_err(anyhow::Error::msg)?)?;
    let address = socket.local_addr()?;
    let host = Arc::new(Host::builder(config).build()?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let totals = runtime.block_on(async move {
        let signal = serve::signals().context("cannot install the SIGTERM, SIGINT and SIGHUP handlers")?;
        emit(&format!("listening on http://{address}\n"))?;
        tracing::info!(%address, "listening");
        let shutdown = async move {
            let name = signal.await;
            tracing::info!("{name}: shutting down");
        };
        anyhow::Ok(serve::run(host, socket, settings, shutdown).await?)
    });
    // A dispatch still running past the drain deadline ends within its listener's deadline;
    // the process need not wait longer for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    emit(&format!("{}\n", totals?.line()))
}

/// The config file (if any) plus `--listener`, `--property`, `--wasi` and `--sink` on top.
fn load_config(
    path: Option<PathBuf>,
    listeners: Vec<PathBuf>,
    properties: Vec<String>,
    wasi: Vec<String>,
    sinks: Vec<String>,
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
    for name in &wasi {
        config.grant_wasi(name)?;
    }
    for spec in &sinks {
        config.add_sink(spec)?;
    }
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())), "an empty NO_COLOR does not count");
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
