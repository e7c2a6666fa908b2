//! The outbox against scripted sinks: outages, rejections, restarts, a stalled sink.

use super::*;
use crate::config::SinkType;
use std::sync::atomic::AtomicUsize;

/// A sink that fails the first `failing` sends, rejects bodies containing `reject`, can be
/// stalled, and records what it delivered.
#[derive(Default)]
struct Scripted {
    failing: AtomicUsize,
    reject: Option<&'static str>,
    stalled: bool,
    delivered: Arc<Mutex<Vec<Message>>>,
}

impl Sink for Scripted {
    fn max_batch(&self) -> usize {
        10
    }

    fn send<'a>(&'a self, batch: &'a [Message]) -> sinks::SendFuture<'a> {
        Box::pin(async move {
            if self.stalled {
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
