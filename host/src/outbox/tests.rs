//! The outbox against scripted sinks: outages, rejections, restarts, a stalled sink.

use super::*;
use crate::config::SinkType;
use std::sync::atomic::AtomicUsize;

/// A sink that fails the first `failing` sends, rejects bodies containing `reject`, can be
/// stalled, and records what it was sent and what it delivered.
#[derive(Default)]
struct Scripted {
    failing: AtomicUsize,
    reject: Option<&'static str>,
    stalled: bool,
    /// With `stalled`: the sends that go through before it stalls.
    stall_after: usize,
    sends: AtomicUsize,
    sent: Arc<Mutex<Vec<Message>>>,
    delivered: Arc<Mutex<Vec<Message>>>,
}

impl Sink for Scripted {
    fn max_batch(&self) -> usize {
        10
    }

    fn send<'a>(&'a self, batch: &'a [Message]) -> sinks::SendFuture<'a> {
        Box::pin(async move {
            self.sent.lock().extend_from_slice(batch);
            if self.stalled && self.sends.fetch_add(1, Ordering::SeqCst) >= self.stall_after {
                std::future::pending::<()>().await;
            }
            if self.failing.load(Ordering::SeqCst) > 0 {
                self.failing.fetch_sub(1, Ordering::SeqCst);
                return vec![Sent::Retry("receiver down".into()); batch.len()];
            }
            batch
                .iter()
                .map(|m| match self.reject {
                    Some(r) if m.body.contains(r) => Sent::Reject(format!("refused: {r}")),
                    _ => {
                        self.delivered.lock().push(m.clone());
                        Sent::Delivered
                    }
                })
                .collect()
        })
    }
}

fn outbox(dir: &Path, sink: Scripted, queue: usize, shutdown_ms: u64) -> Outbox {
    let config = OutboxConfig { spool_dir: Some(dir.to_owned()), shutdown_ms: Some(shutdown_ms) };
    let sink_config = SinkConfig { queue: Some(queue), ..SinkConfig::new("q", SinkType::Stdout) };
    Outbox::with_sinks(&config, vec![(&sink_config, Box::new(sink) as Box<dyn Sink>)]).unwrap()
}

use std::path::Path;

fn publish_n(o: &Outbox, n: usize, body: impl Fn(usize) -> String) -> Vec<Result<(), Refused>> {
    let lane = o.lane("q").unwrap().clone();
    (0..n).map(|i| o.publish(&lane, "l", "id_token", &body(i))).collect()
}

fn ids(messages: &[Message]) -> std::collections::BTreeSet<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

/// The journal segment files under the spool directory `dir`.
fn journal_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(sinks) = std::fs::read_dir(dir.join(journal::DIR)) else { return Vec::new() };
    sinks.flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap()).map(|f| f.unwrap().path()).collect()
}

/// Wait (up to 10 s) for `ready`.
fn eventually(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "never happened: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn messages_that_fail_are_spooled_retried_and_all_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Scripted { failing: AtomicUsize::new(3), ..Default::default() };
    let delivered = sink.delivered.clone();
    let o = outbox(dir.path(), sink, 1000, 5_000);
    assert!(publish_n(&o, 50, |i| format!("{{\"n\":{i}}}")).iter().all(Result::is_ok));
    o.shutdown();
    let s = &o.status()[0];
    assert_eq!((s.enqueued, s.delivered, s.dead_lettered, s.spool_depth), (50, 50, 0, 0), "{s:?}");
    assert!(s.retried > 0 && s.spooled > 0, "{s:?}");
    let got = delivered.lock();
    assert_eq!(ids(&got).len(), 50, "every id arrives");
    assert_eq!(journal_files(dir.path()), Vec::<std::path::PathBuf>::new(), "an orderly end leaves no journal");
}

#[test]
fn a_permanent_rejection_is_dead_lettered_with_the_reason_and_retry_requeues_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = outbox(dir.path(), Scripted { reject: Some("bad"), ..Default::default() }, 1000, 5_000);
    publish_n(&o, 4, |i| if i == 2 { "bad".into() } else { format!("ok{i}") });
    o.shutdown();
    let s = &o.status()[0];
    assert_eq!((s.delivered, s.dead_lettered), (3, 1), "{s:?}");
    drop(o);
    let spool = Spool::open(dir.path()).unwrap();
    let letters = spool.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].message.body.as_str(), letters[0].reason.as_str()), ("bad", "refused: bad"));
    assert_eq!(spool.retry(None).unwrap(), 1);
    assert_eq!(spool.depth("q"), 1);
}

#[test]
fn what_a_down_sink_could_not_take_survives_a_restart_and_is_delivered_then() {
    let dir = tempfile::tempdir().unwrap();
    let first = outbox(dir.path(), Scripted { failing: AtomicUsize::new(usize::MAX), ..Default::default() }, 10_000, 200);
    publish_n(&first, 300, |i| format!("m{i}"));
    first.shutdown();
    let s = &first.status()[0];
    assert_eq!((s.delivered, s.spool_depth), (0, 300), "all spooled at shutdown: {s:?}");
    assert!(journal_files(dir.path()).is_empty(), "in the spool, out of the journal");
    let published: Vec<Message> = first.spool.peek("q", 1000).unwrap().into_iter().map(|(_, m)| m).collect();
    drop(first);

    let sink = Scripted::default();
    let delivered = sink.delivered.clone();
    let second = outbox(dir.path(), sink, 10_000, 5_000);
    second.shutdown();
    assert_eq!(ids(&delivered.lock()), ids(&published), "the same ids, each delivered");
    assert_eq!(second.status()[0].spool_depth, 0);
}

#[test]
fn a_stalled_sink_never_makes_publish_wait_and_a_full_queue_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let o = outbox(dir.path(), Scripted { stalled: true, ..Default::default() }, 20, 300);
    let answers = publish_n(&o, 100, |i| format!("m{i}"));
    let full = answers.iter().filter(|a| **a == Err(Refused::QueueFull)).count();
    // The task holds one batch of up to 10 in its stalled send; the queue holds 20.
    assert!(full >= 70, "{full} of 100 refused");
    let started = std::time::Instant::now();
    o.shutdown();
    // Shutdown does not wait on the stalled sink past its deadline (300 ms): what was in
    // flight and queued is spooled.
    assert!(started.elapsed() < Duration::from_secs(20));
    let s = &o.status()[0];
    assert_eq!(s.dropped[0], ("queue-full", full as u64));
    assert_eq!(s.enqueued, 100 - full as u64);
    assert_eq!(s.spool_depth, s.enqueued, "{s:?}");
}

#[test]
fn a_message_over_the_cap_is_refused_as_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let config = OutboxConfig { spool_dir: Some(dir.path().to_owned()), shutdown_ms: None };
    let sink_config = SinkConfig { max_message_bytes: Some(8), ..SinkConfig::new("q", SinkType::Stdout) };
    let o = Outbox::with_sinks(&config, vec![(&sink_config, Box::new(Scripted::default()) as Box<dyn Sink>)]).unwrap();
    let lane = o.lane("q").unwrap().clone();
    assert_eq!(o.publish(&lane, "l", "id_token", "123456789"), Err(Refused::TooLarge(8)));
    assert_eq!(o.publish(&lane, "l", "id_token", "12345678"), Ok(()));
}

#[test]
fn an_outbox_can_be_shut_down_and_dropped_inside_an_async_runtime() {
    // An embedder's tokio server: entering or dropping a runtime from inside one panics.
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(async {
        let o = outbox(dir.path(), Scripted::default(), 10, 1_000);
        publish_n(&o, 3, |i| format!("m{i}"));
        o.shutdown();
        assert_eq!(o.status()[0].delivered, 3);
        drop(o);
    });
}

#[test]
fn what_the_queue_and_the_batch_in_flight_hold_when_the_process_dies_is_recovered_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    // A sink that takes three batches of 10 and then stalls: the fourth batch is in flight
    // for good, the rest waits in the memory queue, nothing reaches the spool.
    let stalled = Scripted { stalled: true, stall_after: 3, ..Default::default() };
    let (sent, taken) = (stalled.sent.clone(), stalled.delivered.clone());
    let first = outbox(&dir.path().join("first"), stalled, 1_000, 100);
    let bodies = |i: usize| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 300));
    assert!(publish_n(&first, 500, bodies).iter().all(Result::is_ok));
    eventually("the fourth batch is in flight", || sent.lock().len() == 40);
    let lane = first.lane("q").unwrap().clone();
    assert_eq!(taken.lock().len(), 30);
    let mut published: Vec<Message> = sent.lock()[30..].to_vec();
    published.extend(lane.queue.lock().messages.iter().map(|(m, _)| m.clone()));
    assert_eq!(published.len(), 470);
    assert_eq!(first.spool.depth("q"), 0);

    // What a kill leaves on disk: the journal's files as they are now, the process alive.
    let second_dir = dir.path().join("second");
    let from = dir.path().join("first").join(journal::DIR).join("q");
    let to = second_dir.join(journal::DIR).join("q");
    std::fs::create_dir_all(&to).unwrap();
    for f in std::fs::read_dir(&from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }

    let sink = Scripted::default();
    let delivered = sink.delivered.clone();
    let second = outbox(&second_dir, sink, 1_000, 5_000);
    assert_eq!(second.status()[0].spooled, 470, "counted as spooled at start");
    second.shutdown();
    let got = delivered.lock().clone();
    assert_eq!(got, published, "every unsettled message, with its id and fields, in order; not the delivered ones");
    let s = &second.status()[0];
    assert_eq!((s.delivered, s.dead_lettered, s.spool_depth), (470, 0, 0), "{s:?}");
    assert!(journal_files(&second_dir).is_empty());
    drop(first);
}

#[test]
fn the_task_prepares_the_next_segment_before_the_current_one_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Scripted::default();
    let delivered = sink.delivered.clone();
    let o = outbox(dir.path(), sink, 1_000, 5_000);
    let lane = o.lane("q").unwrap().clone();
    // At start: the first segment is ready before anything is published.
    assert!(lane.queue.lock().segments.has_spare());
    // 100 KiB bodies: past half of a 16 MiB segment after 84 of them.
    let body = |i: usize| format!("{i:04}").repeat(25 << 10);
    assert!(publish_n(&o, 90, body).iter().all(Result::is_ok));
    eventually("all delivered", || delivered.lock().len() == 90);
    eventually("a spare", || lane.queue.lock().segments.has_spare());
    assert!(publish_n(&o, 90, body).iter().all(Result::is_ok));
    o.shutdown();
    assert_eq!(o.status()[0].delivered, 180);
    assert!(journal_files(dir.path()).is_empty());
}

#[test]
fn a_journal_that_cannot_be_written_refuses_the_message_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = outbox(dir.path(), Scripted::default(), 1_000, 1_000);
    let lane = o.lane("q").unwrap().clone();
    // The first segment removed, and no segment can be made: the directory is a file now.
    for s in lane.queue.lock().segments.take_all() {
        s.remove().unwrap();
    }
    let journal_dir = dir.path().join(journal::DIR).join("q");
    std::fs::remove_dir(&journal_dir).unwrap();
    std::fs::write(&journal_dir, b"in the way").unwrap();
    assert_eq!(publish_n(&o, 3, |i| format!("m{i}")), vec![Err(Refused::QueueFull); 3]);
    let s = &o.status()[0];
    assert_eq!(s.dropped.iter().find(|(r, _)| *r == "journal-error"), Some(&("journal-error", 3)), "{s:?}");
    assert_eq!((s.enqueued, s.queue_depth), (0, 0), "a refused message is not queued");
    // The way clear again: publishing works again.
    std::fs::remove_file(&journal_dir).unwrap();
    std::fs::create_dir(&journal_dir).unwrap();
    assert_eq!(publish_n(&o, 1, |_| "ok".into()), vec![Ok(())]);
    o.shutdown();
    assert_eq!(o.status()[0].delivered, 1);
}

#[test]
fn a_journal_directory_that_cannot_be_written_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(journal::DIR)).unwrap();
    std::fs::write(dir.path().join(journal::DIR).join("q"), b"in the way").unwrap();
    let config = OutboxConfig { spool_dir: Some(dir.path().to_owned()), shutdown_ms: None };
    let sink_config = SinkConfig::new("q", SinkType::Stdout);
    let e = Outbox::with_sinks(&config, vec![(&sink_config, Box::new(Scripted::default()) as Box<dyn Sink>)]).err().expect("refused");
    assert!(e.to_string().starts_with(&format!("outbox journal {}", dir.path().join(journal::DIR).join("q").display())), "{e}");
}
