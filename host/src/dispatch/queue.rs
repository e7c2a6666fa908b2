//! Async dispatch: one shared queue of events, drained by a few dispatcher threads that run
//! the async listeners.
//!
//! Why this shape (../shared/PERF.md has the measurements): waking a sleeping thread costs
//! the issuing thread a system call and an interrupt, 10–15 µs per wake, so a queue and a
//! worker per listener makes the issuing side pay per listener. Here the issuing thread
//! appends the event once to one ring under a short lock — the same work for 1 or 50 async
//! listeners — and wakes a dispatcher only on its idle-to-busy transition.
//!
//! - The ring holds each event once (an `Arc`). Every async listener has a **lane**: its
//!   cursor into the ring (the sequence number of the next event it takes). A listener's
//!   queue depth is how far its cursor is behind the ring's end.
//! - Each lane belongs to one dispatcher thread, which takes up to `[dispatch] batch` events
//!   at a time for it and hands them to the listener in arrival order: in one call when it
//!   exports `batch-listener` (each event still under its own budgets), else one call each.
//!   Lanes are spread over the dispatchers at creation (the least loaded first), so a
//!   listener that spends its whole deadline on every event delays only the listeners that
//!   share its thread.
//! - The ring is bounded (`[dispatch] queue`). When it is full, the lanes at its front are
//!   the ones behind: if one of them is `on_full = "reject"`, the new event is refused
//!   (`Outcome::QueueFull`); otherwise the oldest event goes and those lanes count it as
//!   dropped (`queue-full`) when they next look. Memory is bounded whatever the load.

use super::host::Entry;
use crate::config::OnFull;
use crate::event::TokenEvent;
use crate::runtime::listener::Round;
use crate::runtime::status::Counters;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// The listener set the dispatchers read (the host swaps it on reload).
pub(crate) type Set = Arc<ArcSwap<Vec<Entry>>>;

/// One async listener's place in the queue; it outlives reloads (a new version carries on
/// where the old one stopped).
pub(crate) struct Lane {
    /// The sequence number of the next event this lane takes.
    next: AtomicU64,
    on_full: OnFull,
    dispatcher: usize,
}

impl Lane {
    pub fn on_full(&self) -> OnFull {
        self.on_full
    }
}

struct Ring {
    events: VecDeque<Arc<TokenEvent>>,
    /// The sequence number of `events[0]`.
    front: u64,
}

struct Worker {
    /// Set by the dispatcher before it parks; the issuing side wakes it only then.
    idle: AtomicBool,
    thread: std::sync::OnceLock<std::thread::Thread>,
}

/// The shared queue and its dispatchers.
pub(crate) struct Queue {
    ring: Mutex<Ring>,
    /// The sequence number the next event gets (the ring's end); written under `ring`.
    end: AtomicU64,
    capacity: usize,
    /// Events a dispatcher takes for one lane at a time (one lock, then one batch call).
    batch: usize,
    workers: Vec<Worker>,
    /// Lanes per dispatcher, to place new lanes on the least loaded one.
    load: Vec<AtomicUsize>,
    /// Set at shutdown: dispatchers work until their lanes are empty or the deadline.
    deadline: Mutex<Option<Instant>>,
    closing: AtomicBool,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

/// `push` did not take the event: the queue is full and a lane behind is `reject`.
pub(crate) struct Full;

impl Queue {
    /// Start `threads` dispatchers over `set`.
    pub fn start(capacity: usize, threads: usize, batch: usize, set: Set) -> std::io::Result<Arc<Queue>> {
        let threads = threads.max(1);
        let queue = Arc::new(Queue {
            ring: Mutex::new(Ring { events: VecDeque::new(), front: 0 }),
            end: AtomicU64::new(0),
            capacity: capacity.max(1),
            batch: batch.max(1),
            workers: (0..threads).map(|_| Worker { idle: AtomicBool::new(false), thread: Default::default() }).collect(),
            load: (0..threads).map(|_| AtomicUsize::new(0)).collect(),
            deadline: Mutex::new(None),
            closing: AtomicBool::new(false),
            handles: Mutex::new(Vec::new()),
        });
        for index in 0..threads {
            let (queue_for_thread, set) = (queue.clone(), set.clone());
            let handle = std::thread::Builder::new()
                .name(format!("tokenwatch-dispatch-{index}"))
                .spawn(move || queue_for_thread.serve(index, &set))?;
            let _ = queue.workers[index].thread.set(handle.thread().clone());
            queue.handles.lock().push(handle);
        }
        Ok(queue)
    }

    /// A lane for a new async listener, on the least loaded dispatcher; it sees the events
    /// pushed from now on.
    pub fn lane(&self, on_full: OnFull) -> Arc<Lane> {
        let dispatcher = (0..self.load.len()).min_by_key(|&i| self.load[i].load(Ordering::Relaxed)).unwrap_or(0);
        self.load[dispatcher].fetch_add(1, Ordering::Relaxed);
        let _ring = self.ring.lock(); // so `end` does not move while the lane starts at it
        Arc::new(Lane { next: AtomicU64::new(self.end.load(Ordering::SeqCst)), on_full, dispatcher })
    }

    /// A lane no longer in the set: its dispatcher has one less to serve.
    pub fn release(&self, lane: &Lane) {
        self.load[lane.dispatcher].fetch_sub(1, Ordering::Relaxed);
    }

    /// How many events `lane` has still to take (not counting a batch in progress).
    pub fn depth(&self, lane: &Lane) -> u64 {
        self.end.load(Ordering::SeqCst).saturating_sub(lane.next.load(Ordering::SeqCst))
    }

    /// Append `event` for the async listeners of `set` (the issuing thread's whole share).
    /// No system call unless a dispatcher was idle.
    pub fn push(&self, event: &Arc<TokenEvent>, set: &[Entry]) -> Result<(), Full> {
        {
            let mut ring = self.ring.lock();
            if ring.events.len() >= self.capacity {
                let front = ring.front;
                let behind = |e: &&Entry| e.lane.as_ref().is_some_and(|l| l.next.load(Ordering::SeqCst) <= front);
                let rejecting: Vec<&Entry> = set.iter().filter(behind).filter(|e| e.lane.as_ref().is_some_and(|l| l.on_full == OnFull::Reject)).collect();
                if !rejecting.is_empty() {
                    drop(ring);
                    for e in rejecting {
                        e.listener.counters().events.inc();
                        e.listener.counters().dropped_queue_full.inc();
                    }
                    return Err(Full);
                }
                // The lanes behind lose their oldest event; they count it when they look.
                ring.events.pop_front();
                ring.front += 1;
            }
            ring.events.push_back(event.clone());
            self.end.fetch_add(1, Ordering::SeqCst);
        }
        for worker in &self.workers {
            if worker.idle.load(Ordering::SeqCst) && worker.idle.swap(false, Ordering::SeqCst) {
                if let Some(thread) = worker.thread.get() {
                    thread.unpark();
                }
            }
        }
        Ok(())
    }

    /// Claim up to `batch` events for `lane` (its cursor moves past them), counting what
    /// it lost to a full ring.
    fn take(&self, lane: &Lane, counters: &Counters, into: &mut Vec<Arc<TokenEvent>>) {
        let ring = self.ring.lock();
        let mut next = lane.next.load(Ordering::SeqCst);
        if next < ring.front {
            let lost = ring.front - next;
            counters.events.add(lost);
            counters.dropped_queue_full.add(lost);
            next = ring.front;
        }
        let from = (next - ring.front) as usize;
        into.extend(ring.events.range(from..).take(self.batch).cloned());
        lane.next.store(next + into.len() as u64, Ordering::SeqCst);
    }

    /// Drop the events every lane of `set` has taken.
    fn trim(&self, set: &[Entry]) {
        let mut ring = self.ring.lock();
        let end = self.end.load(Ordering::SeqCst);
        let oldest = set.iter().filter_map(|e| e.lane.as_ref()).map(|l| l.next.load(Ordering::SeqCst)).min().unwrap_or(end);
        while ring.front < oldest && !ring.events.is_empty() {
            ring.events.pop_front();
            ring.front += 1;
        }
    }

    /// One dispatcher: serve the lanes placed on it until shutdown.
    fn serve(&self, me: usize, set: &Set) {
        let mut batch = Vec::with_capacity(self.batch);
        let mut buffers = Vec::new();
        let mut round = Round::new(Default::default());
        loop {
            let entries = set.load();
            let mut worked = false;
            for entry in entries.iter() {
                let Some(lane) = entry.lane.as_ref().filter(|l| l.dispatcher == me) else { continue };
                let counters = entry.listener.counters();
                self.take(lane, counters, &mut batch);
                if batch.is_empty() {
                    continue;
                }
                worked = true;
                if entry.listener.batches() && batch.len() > 1 && self.batch_fits(entry.listener.spec().limits.deadline, batch.len()) {
                    entry.listener.call_batch(&mut batch, &mut buffers);
                } else {
                    let mut claimed = batch.drain(..);
                    for event in &mut claimed {
                        if self.past_deadline() {
                            let left = 1 + claimed.len() as u64;
                            counters.events.add(left);
                            counters.dropped_shutdown.add(left);
                            break;
                        }
                        // A round per event: its encodings are of one event.
                        round = Round::new(round.into_encodings());
                        entry.listener.call(&event, &mut round);
                    }
                }
                batch.clear();
            }
            self.trim(&entries);
            if self.past_deadline() || (self.closing.load(Ordering::SeqCst) && !worked) {
                self.drop_rest(me, &entries);
                return;
            }
            if !worked {
                self.sleep(me, &entries);
            }
        }
    }

    /// Whether a batch of `n` events, each allowed `deadline`, ends before the drain deadline
    /// (always, until shutdown); otherwise the events go one per call, the deadline checked
    /// between them.
    fn batch_fits(&self, deadline: std::time::Duration, n: usize) -> bool {
        self.deadline.lock().is_none_or(|d| Instant::now() + deadline * n as u32 <= d)
    }

    fn past_deadline(&self) -> bool {
        self.deadline.lock().is_some_and(|d| Instant::now() >= d)
    }

    /// At shutdown: what is left in this dispatcher's lanes is dropped, counted and logged.
    fn drop_rest(&self, me: usize, set: &[Entry]) {
        for entry in set {
            let Some(lane) = entry.lane.as_ref().filter(|l| l.dispatcher == me) else { continue };
            let left = self.depth(lane);
            if left > 0 {
                let c = entry.listener.counters();
                c.events.add(left);
                c.dropped_shutdown.add(left);
                lane.next.fetch_add(left, Ordering::SeqCst);
                tracing::warn!(listener = %entry.listener.name(), events = left, "shutdown deadline passed: queued events dropped");
            }
        }
    }

    /// Park until an event arrives or shutdown begins.
    fn sleep(&self, me: usize, set: &[Entry]) {
        let worker = &self.workers[me];
        worker.idle.store(true, Ordering::SeqCst);
        // Re-check after announcing: an event pushed before `idle` was set woke no one.
        let pending = set.iter().filter_map(|e| e.lane.as_ref()).any(|l| l.dispatcher == me && self.depth(l) > 0);
        if pending || self.closing.load(Ordering::SeqCst) {
            worker.idle.store(false, Ordering::SeqCst);
            return;
        }
        // A timeout too: the set may have changed (a new lane) without an event.
        std::thread::park_timeout(std::time::Duration::from_millis(100));
        worker.idle.store(false, Ordering::SeqCst);
    }

    /// Let the dispatchers work through their lanes until `deadline`, drop the rest, and
    /// return when they have stopped. A second call returns at once.
    pub fn shutdown(&self, deadline: Instant) {
        let handles = std::mem::take(&mut *self.handles.lock());
        if handles.is_empty() {
            return;
        }
        *self.deadline.lock() = Some(deadline);
        self.closing.store(true, Ordering::SeqCst);
        for worker in &self.workers {
            if let Some(thread) = worker.thread.get() {
                thread.unpark();
            }
        }
        for handle in handles {
            let _ = handle.join();
        }
    }
}
