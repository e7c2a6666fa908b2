//! The outbox: what listeners `publish` goes to its sink off the issuing path, and is never
//! lost silently.
//!
//! - `publish` (on the issuing thread) checks the sink's size cap, pushes the message onto
//!   the sink's bounded in-memory queue and appends it to the sink's write-ahead journal (a
//!   memory-mapped file, see [`journal`]): a short lock, no system call, and a wake-up of the
//!   sink's task only when that task was idle. A full queue answers `queue-full`; a journal
//!   that cannot be written (no segment can be made) answers `queue-full` too, counted as
//!   `journal-error`.
//! - One task per sink, on the outbox's own tokio runtime, takes batches — first what the
//!   spool holds, then the queue — and sends them. Delivered messages are counted; messages
//!   the sink rejects for good go to the dead letters with its reason; messages that failed
//!   transiently are written to the durable spool and retried with exponential backoff and
//!   jitter. While a sink is failing, its task moves the queue into the spool as it fills, so
//!   the queue stays free for `publish`.
//!   Once a batch is settled (delivered, dead-lettered or in the spool), the task moves the
//!   journal's watermark past it and deletes the journal's segments wholly behind it.
//! - At start, what the journals hold past their watermarks (the queues of a process that
//!   was killed, and the batches it had in flight) is put into the spool, and the spool's
//!   messages are delivered first; at shutdown the queues are delivered until the deadline,
//!   the rest is spooled and the journals are removed.
//!
//! Guarantee: **at least once** for every message the outbox accepted, across sink outages,
//! restarts and the process being killed (SIGKILL, a panic, the OOM killer): what is not yet
//! in the spool is in the journal, whose writes are in the kernel's page cache as soon as
//! they are made. Not across a power loss or a kernel crash: the messages accepted in the
//! last moments before it (those the kernel had not yet written back, about 30 s with
//! Linux's defaults) may be lost, unless they were already in the spool (fsynced at every
//! commit). Each message carries an id set at enqueue, which sinks pass on so receivers can
//! drop duplicates (a batch in flight at a kill is sent again).

pub mod bench;
pub mod journal;
pub mod sinks;
pub mod spool;

use crate::config::{OutboxConfig, SinkConfig};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use journal::{Journal, Pos, Segments};
use sinks::{Sent, Sink};
use spool::{DeadLetter, Spool, SpoolError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// One published message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// Unique, set once at enqueue; sinks pass it on (SQS attribute, `Nats-Msg-Id`, ...).
    pub id: String,
    /// The listener that published it.
    pub listener: String,
    /// The kind of token whose event it was published for (`id_token`, `access_token`), or
    /// `lifecycle` for `init` and `shutdown`.
    pub kind: String,
    pub body: String,
}

/// Why `publish` did not take a message (the WIT's `publish-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    TooLarge(u32),
    QueueFull,
}

/// The live counters of one sink.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct SinkCounters {
    pub enqueued: AtomicU64,
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub spooled: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_too_large: AtomicU64,
    /// Messages lost because the spool could not be written (disk full, unwritable).
    pub dropped_spool_error: AtomicU64,
    /// Messages refused because the journal could not be written (no segment could be made).
    pub dropped_journal_error: AtomicU64,
}

/// A copy of one sink's counters and depths (`Host::sink_status`, replay's `sinks` record).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SinkStatus {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where it delivers: the file's path, `stdout`.
    pub target: String,
    pub enqueued: u64,
    pub delivered: u64,
    pub retried: u64,
    pub spooled: u64,
    pub dead_lettered: u64,
    /// Messages dropped, by reason (`queue-full`, `too-large`, `spool-error`,
    /// `journal-error`).
    pub dropped: Vec<(&'static str, u64)>,
    /// Messages in the memory queue now.
    pub queue_depth: u64,
    /// Messages in the spool now.
    pub spool_depth: u64,
}

/// One sink's queue and the state its task and `publish` share.
pub struct Lane {
    name: String,
    kind: &'static str,
    target: String,
    queue: Mutex<Queue>,
    journal: Journal,
    capacity: usize,
    max_message_bytes: u32,
    /// Set by the task just before it sleeps; `publish` wakes it only then.
    idle: AtomicBool,
    wake: Notify,
    pub counters: SinkCounters,
}

impl Lane {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The oldest `max` messages, and where the last of them ends in the journal.
    fn take(&self, max: usize) -> (Vec<Message>, Option<Pos>) {
        let mut queue = self.queue.lock();
        let n = max.min(queue.messages.len());
        let last = n.checked_sub(1).map(|i| queue.messages[i].1);
        (queue.messages.drain(..n).map(|(m, _)| m).collect(), last)
    }

    fn depth(&self) -> usize {
        self.queue.lock().messages.len()
    }

    /// Everything taken up to `pos` is settled: move the journal's watermark there and
    /// remove the segments wholly behind it.
    fn settled(&self, pos: Option<Pos>) {
        let Some(pos) = pos else { return };
        let done = self.queue.lock().segments.settle(pos);
        self.remove_segments(done);
    }

    /// Prepare the next segment when the current one is past half full, so `publish` does
    /// not create files in the steady state.
    fn prepare_spare(&self) {
        if !self.queue.lock().segments.wants_spare() {
            return;
        }
        match self.journal.prepare() {
            Ok(segment) => {
                let refused = self.queue.lock().segments.offer_spare(segment);
                if let Err(segment) = refused {
                    self.remove_segments(vec![segment]);
                }
            }
            // `publish` tries again itself, and counts what it cannot journal.
            Err(e) => tracing::warn!(sink = %self.name, "cannot prepare a journal segment in {}: {e}", self.journal.dir().display()),
        }
    }

    /// At the end of the task: with the queue empty, nothing in the journal is unsettled.
    fn close_journal(&self) {
        let done = {
            let mut queue = self.queue.lock();
            if !queue.messages.is_empty() {
                // Published after the task's last look: kept for the next start.
                return;
            }
            queue.segments.take_all()
        };
        self.remove_segments(done);
        // Empty directories too, when they are (the root holds the other sinks' journals).
        let _ = std::fs::remove_dir(self.journal.dir());
        if let Some(root) = self.journal.dir().parent() {
            let _ = std::fs::remove_dir(root);
        }
    }

    fn remove_segments(&self, segments: Vec<journal::Segment>) {
        for s in segments {
            if let Err(e) = s.remove() {
                tracing::warn!(sink = %self.name, "cannot remove a settled journal segment: {e}");
            }
        }
    }
}

/// A lane's memory queue and journal segments, under one lock: the journal's order is the
/// queue's.
struct Queue {
    /// Each message with where its record ends in the journal.
    messages: VecDeque<(Message, Pos)>,
    segments: Segments,
    /// The journal failed at the last append (logged once per failure run).
    journal_failing: bool,
}

/// The sinks, their tasks and the spool.
pub struct Outbox {
    lanes: Vec<Arc<Lane>>,
    spool: Arc<Spool>,
    /// `None` once dropped (in the background: dropping a runtime may not block).
    runtime: Option<tokio::runtime::Runtime>,
    /// Closed when every sink task has ended (each holds a sender); taken by `shutdown`.
    tasks_done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    /// The shutdown deadline, once shutdown has begun.
    stopping: Arc<Mutex<Option<Instant>>>,
    shutdown_after: Duration,
    ids: Ids,
}

/// Why the outbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("sink {name:?}: {message}")]
    Sink { name: String, message: String },
    #[error("cannot start the outbox runtime: {0}")]
    Runtime(std::io::Error),
    #[error("outbox journal {path}: {message}")]
    Journal { path: std::path::PathBuf, message: String },
}

impl Outbox {
    /// Open the spool, build every sink and start its task (delivering what the spool holds).
    pub fn start(config: &OutboxConfig, sinks: &[SinkConfig]) -> Result<Outbox, OutboxError> {
        let built = sinks
            .iter()
            .map(|c| sinks::build(c).map(|s| (c, s)).map_err(|message| OutboxError::Sink { name: c.name.clone(), message }))
            .collect::<Result<Vec<_>, _>>()?;
        Outbox::with_sinks(config, built)
    }

    /// [`Outbox::start`] with the sinks already built.
    fn with_sinks(config: &OutboxConfig, sinks: Vec<(&SinkConfig, Box<dyn Sink>)>) -> Result<Outbox, OutboxError> {
        let spool_dir = config.spool_dir();
        let spool = Arc::new(Spool::open(&spool_dir)?);
        // Before any task starts: what a killed process left in its journals goes to the spool.
        let journals = spool_dir.join(journal::DIR);
        let recovered = recover_journals(&journals, &spool)?;
        // Every lane, with its journal and first segment, before the runtime: a start that
        // fails drops no runtime (which may not be dropped in an async context).
        let mut lanes = Vec::new();
        for (c, sink) in sinks {
            let dir = journals.join(journal::dir_name(&c.name));
            let fail = |what: &str, e: std::io::Error| OutboxError::Journal { path: dir.clone(), message: format!("{what}: {e}") };
            let journal = Journal::open(dir.clone(), c.max_message_bytes()).map_err(|e| fail("cannot open", e))?;
            // The first segment now, faulted in: `publish` finds it ready from the first
            // message, and a journal that cannot be written fails the start.
            let first = journal.prepare().map_err(|e| fail("cannot create a segment", e))?;
            let lane = Arc::new(Lane {
                name: c.name.clone(),
                kind: c.kind.as_str(),
                target: c.target(),
                queue: Mutex::new(Queue { messages: VecDeque::new(), segments: Segments::starting_with(first), journal_failing: false }),
                journal,
                capacity: c.queue(),
                max_message_bytes: c.max_message_bytes(),
                idle: AtomicBool::new(false),
                wake: Notify::new(),
                counters: SinkCounters::default(),
            });
            let from_journal = recovered.iter().filter(|(name, _)| *name == c.name).map(|(_, n)| n).sum();
            lane.counters.spooled.store(from_journal, Ordering::Relaxed);
            lanes.push((lane, sink));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tokenwatch-outbox")
            // Timers for backoff; I/O for the network sinks (http-push).
            .enable_time()
            .enable_io()
            .build()
            .map_err(OutboxError::Runtime)?;
        let stopping = Arc::new(Mutex::new(None));
        let (task_alive, tasks_done) = std::sync::mpsc::channel();
        let lanes = lanes
            .into_iter()
            .map(|(lane, sink)| {
                let task = Task { lane: lane.clone(), sink, spool: spool.clone(), stopping: stopping.clone() };
                let alive = task_alive.clone();
                runtime.spawn(async move {
                    task.run().await;
                    drop(alive);
                });
                lane
            })
            .collect();
        Ok(Outbox {
            lanes,
            spool,
            runtime: Some(runtime),
            tasks_done: Mutex::new(Some(tasks_done)),
            stopping,
            shutdown_after: config.shutdown_deadline(),
            ids: Ids::new(),
        })
    }

    /// The lane of the sink named `name`.
    pub fn lane(&self, name: &str) -> Option<&Arc<Lane>> {
        self.lanes.iter().find(|l| l.name == name)
    }

    /// Enqueue `body` for `lane`: never waits on the sink or the disk.
    pub fn publish(&self, lane: &Lane, listener: &str, kind: &str, body: &str) -> Result<(), Refused> {
        if body.len() > lane.max_message_bytes as usize {
            lane.counters.dropped_too_large.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::TooLarge(lane.max_message_bytes));
        }
        let message = Message { id: self.ids.next(), listener: listener.to_owned(), kind: kind.to_owned(), body: body.to_owned() };
        {
            let mut queue = lane.queue.lock();
            if queue.messages.len() >= lane.capacity {
                drop(queue);
                lane.counters.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
                return Err(Refused::QueueFull);
            }
            // A write into a mapped segment; a file is made here only when the task has not
            // prepared the next one in time.
            let queue = &mut *queue;
            match lane.journal.append(&mut queue.segments, &message) {
                Ok(pos) => {
                    queue.messages.push_back((message, pos));
                    queue.journal_failing = false;
                }
                Err(e) => {
                    let first = !std::mem::replace(&mut queue.journal_failing, true);
                    drop(message);
                    lane.counters.dropped_journal_error.fetch_add(1, Ordering::Relaxed);
                    if first {
                        tracing::error!(sink = %lane.name, "messages refused (queue-full), the journal cannot be written in {}: {e}", lane.journal.dir().display());
                    }
                    return Err(Refused::QueueFull);
                }
            }
        }
        lane.counters.enqueued.fetch_add(1, Ordering::Relaxed);
        // A wake-up is a system call: only when the task sleeps (it re-checks the queue
        // after setting `idle`, so no message is left behind).
        if lane.idle.swap(false, Ordering::AcqRel) {
            lane.wake.notify_one();
        }
        Ok(())
    }

    /// Every sink's counters and depths, in configuration order.
    pub fn status(&self) -> Vec<SinkStatus> {
        self.lanes
            .iter()
            .map(|l| {
                let c = &l.counters;
                let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
                SinkStatus {
                    name: l.name.clone(),
                    kind: l.kind,
                    target: l.target.clone(),
                    enqueued: get(&c.enqueued),
                    delivered: get(&c.delivered),
                    retried: get(&c.retried),
                    spooled: get(&c.spooled),
                    dead_lettered: get(&c.dead_lettered),
                    dropped: vec![
                        ("queue-full", get(&c.dropped_queue_full)),
                        ("too-large", get(&c.dropped_too_large)),
                        ("spool-error", get(&c.dropped_spool_error)),
                        ("journal-error", get(&c.dropped_journal_error)),
                    ],
                    queue_depth: l.depth() as u64,
                    spool_depth: self.spool.depth(&l.name),
                }
            })
            .collect()
    }

    /// Deliver what is queued within the shutdown deadline, spool the rest, stop the tasks.
    /// Returns when they have stopped; a second call returns at once.
    ///
    /// It blocks the calling thread (no runtime is entered, so it may be called from an
    /// async context, where it should run on the blocking pool).
    pub fn shutdown(&self) {
        let Some(done) = self.tasks_done.lock().take() else {
            return;
        };
        *self.stopping.lock() = Some(Instant::now() + self.shutdown_after);
        for lane in &self.lanes {
            lane.wake.notify_one();
        }
        // Every task drops its sender when it ends: then `recv` fails.
        while done.recv().is_ok() {}
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Message ids: a random 64-bit prefix per process and a counter, 32 hex digits; unique
/// across processes and restarts without a lookup.
struct Ids {
    prefix: u64,
    next: AtomicU64,
}

impl Ids {
    fn new() -> Ids {
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
        Ids { prefix: u64::from_le_bytes(bytes), next: AtomicU64::new(0) }
    }

    fn next(&self) -> String {
        format!("{:016x}{:016x}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

/// Put what every sink's journal under `root` holds past its watermark into the spool (one
/// commit per sink, ids and order kept), then delete the segments read. Returns how many
/// messages each sink got. Journals of sinks no longer configured are recovered too: their
/// messages wait in the spool like any other.
fn recover_journals(root: &std::path::Path, spool: &Spool) -> Result<Vec<(String, u64)>, OutboxError> {
    let fail = |path: &std::path::Path, message: String| OutboxError::Journal { path: path.to_owned(), message };
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(root, format!("cannot read the directory: {e}"))),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| fail(root, format!("cannot read the directory: {e}")))?.path();
        if !path.is_dir() {
            continue;
        }
        match path.file_name().and_then(|n| n.to_str()).and_then(journal::sink_name) {
            Some(sink) => dirs.push((sink, path)),
            None => tracing::warn!("{}: not a sink's journal, left alone", path.display()),
        }
    }
    dirs.sort();
    let mut counts = Vec::new();
    for (sink, dir) in dirs {
        let found = journal::recover(&dir).map_err(|e| fail(&dir, format!("cannot read: {e}")))?;
        for (file, why) in &found.unreadable {
            tracing::error!(sink = %sink, "journal file {} left in place: {why}", file.display());
        }
        let n = found.messages.len() as u64;
        if n > 0 {
            // Kept in the journal if this fails: the start fails, nothing is lost.
            spool.put(&sink, &found.messages)?;
            tracing::info!(sink = %sink, torn = found.torn, "recovered {n} messages from the journal of sink {sink}");
        }
        for file in &found.files {
            std::fs::remove_file(file).map_err(|e| fail(file, format!("recovered into the spool, but cannot be removed: {e}")))?;
        }
        // Emptied (unless it keeps files it could not read); a configured sink makes it again.
        let _ = std::fs::remove_dir(&dir);
        counts.push((sink, n));
    }
    Ok(counts)
}

/// First retry after this; doubled up to `MAX_BACKOFF`, with up to half of it added at random.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest a sink may take to answer a batch; past it the batch is retried.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a failing sink's task moves its memory queue into the spool while it waits.
const SPOOL_EVERY: Duration = Duration::from_millis(50);

/// One sink's delivery loop.
struct Task {
    lane: Arc<Lane>,
    sink: Box<dyn Sink>,
    spool: Arc<Spool>,
    stopping: Arc<Mutex<Option<Instant>>>,
}

impl Task {
    async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            self.lane.prepare_spare();
            let deadline = *self.stopping.lock();
            let spooled = match self.spool.peek(&self.lane.name, self.sink.max_batch()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(sink = %self.lane.name, "cannot read the spool: {e}");
                    Vec::new()
                }
            };
            let from_spool = !spooled.is_empty();
            // Messages from the spool have no place in the journal.
            let (keys, batch, pos): (Vec<u64>, Vec<Message>, Option<Pos>) = if from_spool {
                let (keys, batch) = spooled.into_iter().unzip();
                (keys, batch, None)
            } else {
                let (batch, pos) = self.lane.take(self.sink.max_batch());
                (Vec::new(), batch, pos)
            };
            if batch.is_empty() {
                if deadline.is_some() {
                    self.lane.close_journal();
                    return;
                }
                self.sleep_until_woken().await;
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // Out of time: what is in memory goes to the spool for the next start.
                if !from_spool {
                    self.to_spool(&batch);
                    self.lane.settled(pos);
                }
                self.spool_queue();
                self.lane.close_journal();
                return;
            }
            let sent = tokio::select! {
                sent = tokio::time::timeout(SEND_TIMEOUT, self.sink.send(&batch)) => {
                    sent.unwrap_or_else(|_| vec![Sent::Retry(format!("no answer within {} s", SEND_TIMEOUT.as_secs())); batch.len()])
                }
                () = self.shutdown_deadline() => vec![Sent::Retry("the shutdown deadline passed during delivery".into()); batch.len()],
            };
            let failed = self.settle(&batch, &keys, sent);
            // Batches are taken and settled in order: everything up to this one's last
            // message is delivered, dead-lettered or spooled (or dropped, counted).
            self.lane.settled(pos);
            if failed == 0 {
                backoff = FIRST_BACKOFF;
                continue;
            }
            self.lane.counters.retried.fetch_add(failed, Ordering::Relaxed);
            self.wait_out(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Count what the sink answered; spool what failed (when it came from memory) and
    /// settle what came from the spool. Returns how many failed.
    fn settle(&self, batch: &[Message], keys: &[u64], sent: Vec<Sent>) -> u64 {
        let c = &self.lane.counters;
        let (mut delivered, mut dead, mut failed) = (Vec::new(), Vec::new(), Vec::new());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        for (i, (message, sent)) in batch.iter().zip(sent.into_iter().chain(std::iter::repeat(Sent::Retry("the sink answered for fewer messages than it was sent".into())))).enumerate() {
            match sent {
                Sent::Delivered => delivered.push(i),
                Sent::Reject(reason) => {
                    tracing::warn!(sink = %self.lane.name, id = %message.id, "rejected for good, dead-lettered: {reason}");
                    dead.push((i, DeadLetter { sink: self.lane.name.clone(), message: message.clone(), reason, at: now }));
                }
                Sent::Retry(reason) => {
                    if failed.is_empty() {
                        tracing::warn!(sink = %self.lane.name, "delivery failed, will retry: {reason}");
                    }
                    failed.push(i);
                }
            }
        }
        c.delivered.fetch_add(delivered.len() as u64, Ordering::Relaxed);
        c.dead_lettered.fetch_add(dead.len() as u64, Ordering::Relaxed);
        let result = if keys.is_empty() {
            let retry: Vec<Message> = failed.iter().map(|&i| batch[i].clone()).collect();
            self.to_spool(&retry);
            self.spool.bury(&dead.into_iter().map(|(_, l)| l).collect::<Vec<_>>())
        } else {
            let delivered: Vec<u64> = delivered.iter().map(|&i| keys[i]).collect();
            let dead: Vec<(u64, DeadLetter)> = dead.into_iter().map(|(i, l)| (keys[i], l)).collect();
            self.spool.settle(&self.lane.name, &delivered, &dead)
        };
        if let Err(e) = result {
            tracing::error!(sink = %self.lane.name, "cannot update the spool: {e}");
        }
        failed.len() as u64
    }

    /// Write `messages` to the spool, counting them; a spool that cannot be written drops
    /// them, counted and logged (the disk is full or gone: nothing else can keep them).
    fn to_spool(&self, messages: &[Message]) {
        if messages.is_empty() {
            return;
        }
        let n = messages.len() as u64;
        match self.spool.put(&self.lane.name, messages) {
            Ok(_) => self.lane.counters.spooled.fetch_add(n, Ordering::Relaxed),
            Err(e) => {
                tracing::error!(sink = %self.lane.name, messages = n, "messages dropped, the spool cannot be written: {e}");
                self.lane.counters.dropped_spool_error.fetch_add(n, Ordering::Relaxed)
            }
        };
    }

    /// Move everything in the memory queue into the spool.
    fn spool_queue(&self) {
        loop {
            let (batch, pos) = self.lane.take(1024);
            if batch.is_empty() {
                return;
            }
            self.to_spool(&batch);
            self.lane.settled(pos);
        }
    }

    /// Wait `backoff` plus up to half of it at random, keeping the queue in the spool
    /// meanwhile; never past the shutdown deadline (shutdown keeps retrying until then).
    async fn wait_out(&self, backoff: Duration) {
        let jitter = backoff.mul_f64(fastrand::f64() / 2.0);
        let mut until = tokio::time::Instant::now() + backoff + jitter;
        loop {
            if let Some(deadline) = *self.stopping.lock() {
                until = until.min(deadline.into());
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until.min(now + SPOOL_EVERY)) => {}
                _ = self.lane.wake.notified() => {}
            }
            self.spool_queue();
            self.lane.prepare_spare();
        }
    }

    /// Resolves when shutdown has begun and its deadline has passed.
    async fn shutdown_deadline(&self) {
        loop {
            let deadline = *self.stopping.lock();
            match deadline {
                Some(d) => return tokio::time::sleep_until(d.into()).await,
                None => tokio::time::sleep(SPOOL_EVERY).await,
            }
        }
    }

    async fn sleep_until_woken(&self) {
        self.lane.idle.store(true, Ordering::Release);
        // Re-check after announcing: a message pushed before `idle` was set did not wake us.
        if self.lane.depth() > 0 || self.stopping.lock().is_some() {
            self.lane.idle.store(false, Ordering::Release);
            return;
        }
        self.lane.wake.notified().await;
    }
}

#[cfg(test)]
mod tests;
