//! The durable spool and the dead letters: one redb database in the spool directory.
//!
//! redb commits copy-on-write B-trees with a checksummed root and fsyncs on every commit
//! (`Durability::Immediate`, its default): after a crash or a torn write the database opens at
//! the last commit, so a message is either wholly in the spool or not there at all. The
//! outbox removes a spooled message only after its sink confirmed it (or rejected it for good,
//! when it moves to the dead letters in the same commit): at-least-once across restarts.

use super::Message;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Messages waiting for their sink: (sink, sequence) → message.
const SPOOL: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("spool");
/// Messages a sink rejected for good: (sink, sequence) → dead letter.
const DEAD: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("dead-letters");

/// The database file inside the spool directory.
pub const FILE_NAME: &str = "outbox.redb";

/// A message a sink rejected for good, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeadLetter {
    pub sink: String,
    pub message: Message,
    /// The sink's reason, as it gave it.
    pub reason: String,
    /// When it was rejected, in seconds since the epoch.
    pub at: u64,
}

impl DeadLetter {
    /// One line for people: `sink id listener (kind): reason: message`, escaped.
    pub fn line(&self) -> String {
        use crate::text::escape_control as e;
        let m = &self.message;
        format!("{} {} {} ({}): {}: {}", e(&self.sink), m.id, e(&m.listener), m.kind, e(&self.reason), e(&m.body))
    }
}

/// Why the spool cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("outbox spool {path}: {message}")]
pub struct SpoolError {
    pub path: PathBuf,
    pub message: String,
}

pub struct Spool {
    db: Database,
    path: PathBuf,
    /// The next sequence number: above every key in either table, so order is kept.
    next: AtomicU64,
}

impl Spool {
    /// Open (or create) the spool in `dir`.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        let path = dir.join(FILE_NAME);
        let fail = |message: String| SpoolError { path: path.clone(), message };
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the directory: {e}")))?;
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => fail("in use by another tokenwatch process (give this one another `[outbox] spool_dir`)".to_owned()),
            e => fail(e.to_string()),
        })?;
        let spool = Spool { db, path: path.clone(), next: AtomicU64::new(0) };
        let last = spool.tables(|spool, dead| {
            let last = |t: &redb::Table<(&str, u64), &[u8]>| -> Result<u64, redb::StorageError> {
                let mut max = 0;
                for entry in t.iter()? {
                    max = max.max(entry?.0.value().1);
                }
                Ok(max)
            };
            Ok(last(spool)?.max(last(dead)?))
        })?;
        spool.next.store(last + 1, Ordering::Relaxed);
        Ok(spool)
    }

    /// One write transaction over both tables, committed (and fsynced) at the end.
    fn tables<R>(
        &self,
        f: impl FnOnce(&mut redb::Table<(&str, u64), &[u8]>, &mut redb::Table<(&str, u64), &[u8]>) -> Result<R, redb::StorageError>,
    ) -> Result<R, SpoolError> {
        let fail = |e: &dyn std::fmt::Display| SpoolError { path: self.path.clone(), message: e.to_string() };
        let txn = self.db.begin_write().map_err(|e| fail(&e))?;
        let result = {
            let mut spool = txn.open_table(SPOOL).map_err(|e| fail(&e))?;
            let mut dead = txn.open_table(DEAD).map_err(|e| fail(&e))?;
            f(&mut spool, &mut dead).map_err(|e| fail(&e))?
        };
        txn.commit().map_err(|e| fail(&e))?;
        Ok(result)
    }

    /// Append `messages` for `sink`, in order, in one commit; returns the bytes written.
    pub fn put(&self, sink: &str, messages: &[Message]) -> Result<u64, SpoolError> {
        if messages.is_empty() {
            return Ok(0);
        }
        self.tables(|spool, _| {
            let mut bytes = 0;
            for m in messages {
                let value = serde_json::to_vec(m).expect("a message serializes");
                bytes += value.len() as u64;
                spool.insert((sink, self.next.fetch_add(1, Ordering::Relaxed)), value.as_slice())?;
            }
            Ok(bytes)
        })
    }

    /// The oldest `max` messages spooled for `sink`, with their keys.
    pub fn peek(&self, sink: &str, max: usize) -> Result<Vec<(u64, Message)>, SpoolError> {
        let fail = |e: &dyn std::fmt::Display| SpoolError { path: self.path.clone(), message: e.to_string() };
        let txn = self.db.begin_read().map_err(|e| fail(&e))?;
        let table = match txn.open_table(SPOOL) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(fail(&e)),
        };
        let mut out = Vec::new();
        for entry in table.range((sink, 0)..=(sink, u64::MAX)).map_err(|e| fail(&e))?.take(max) {
            let (key, value) = entry.map_err(|e| fail(&e))?;
            // A value this version cannot read is kept, not dropped: it is skipped here and
            // shows in `spooled` until an operator looks.
            match serde_json::from_slice(value.value()) {
                Ok(m) => out.push((key.value().1, m)),
                Err(e) => tracing::error!(sink, key = key.value().1, "unreadable spooled message kept: {e}"),
            }
        }
        Ok(out)
    }

    /// Remove delivered messages and move rejected ones to the dead letters, in one commit.
    pub fn settle(&self, sink: &str, delivered: &[u64], dead: &[(u64, DeadLetter)]) -> Result<(), SpoolError> {
        if delivered.is_empty() && dead.is_empty() {
            return Ok(());
        }
        self.tables(|spool, dead_table| {
            for key in delivered {
                spool.remove((sink, *key))?;
            }
            for (key, letter) in dead {
                spool.remove((sink, *key))?;
                let value = serde_json::to_vec(letter).expect("a dead letter serializes");
                dead_table.insert((sink, self.next.fetch_add(1, Ordering::Relaxed)), value.as_slice())?;
            }
            Ok(())
        })
    }

    /// Record dead letters of messages that were never spooled.
    pub fn bury(&self, letters: &[DeadLetter]) -> Result<(), SpoolError> {
        if letters.is_empty() {
            return Ok(());
        }
        self.tables(|_, dead| {
            for letter in letters {
                let value = serde_json::to_vec(letter).expect("a dead letter serializes");
                dead.insert((letter.sink.as_str(), self.next.fetch_add(1, Ordering::Relaxed)), value.as_slice())?;
            }
            Ok(())
        })
    }

    /// How many messages are spooled for `sink`.
    pub fn depth(&self, sink: &str) -> u64 {
        let Ok(txn) = self.db.begin_read() else { return 0 };
        let Ok(table) = txn.open_table(SPOOL) else { return 0 };
        table.range((sink, 0)..=(sink, u64::MAX)).map_or(0, |r| r.count() as u64)
    }

    /// Every dead letter, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, SpoolError> {
        let fail = |e: &dyn std::fmt::Display| SpoolError { path: self.path.clone(), message: e.to_string() };
        let txn = self.db.begin_read().map_err(|e| fail(&e))?;
        let table = match txn.open_table(DEAD) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(fail(&e)),
        };
        let mut letters: Vec<(u64, DeadLetter)> = Vec::with_capacity(table.len().unwrap_or(0) as usize);
        for entry in table.iter().map_err(|e| fail(&e))? {
            let (key, value) = entry.map_err(|e| fail(&e))?;
            let letter = serde_json::from_slice(value.value()).map_err(|e| fail(&format!("unreadable dead letter {}: {e}", key.value().1)))?;
            letters.push((key.value().1, letter));
        }
        letters.sort_by_key(|(seq, _)| *seq);
        Ok(letters.into_iter().map(|(_, l)| l).collect())
    }

    /// Move every dead letter (of `sink`, or of all sinks) back into the spool, in one commit;
    /// returns how many. The next host with that sink delivers them.
    pub fn retry(&self, sink: Option<&str>) -> Result<usize, SpoolError> {
        self.tables(|spool, dead| {
            let mut keys = Vec::new();
            for entry in dead.iter()? {
                let (key, value) = entry?;
                let (name, seq) = key.value();
                if sink.is_none_or(|s| s == name) {
                    keys.push((name.to_owned(), seq, value.value().to_vec()));
                }
            }
            for (name, seq, value) in &keys {
                dead.remove((name.as_str(), *seq))?;
                // Unreadable letters stay dead rather than being lost.
                let Ok(letter) = serde_json::from_slice::<DeadLetter>(value) else { continue };
                let message = serde_json::to_vec(&letter.message).expect("a message serializes");
                spool.insert((name.as_str(), self.next.fetch_add(1, Ordering::Relaxed)), message.as_slice())?;
            }
            Ok(keys.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(i: u32) -> Message {
        Message { id: format!("id-{i}"), listener: "l".into(), kind: "id_token".into(), body: format!("{{\"n\":{i}}}") }
    }

    #[test]
    fn spooled_messages_survive_reopening_in_order_and_settle_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path()).unwrap();
            spool.put("q", &[message(1), message(2)]).unwrap();
            spool.put("other", &[message(9)]).unwrap();
            spool.put("q", &[message(3)]).unwrap();
        }
        let spool = Spool::open(dir.path()).unwrap();
        let held = spool.peek("q", 10).unwrap();
        assert_eq!(held.iter().map(|(_, m)| m.id.as_str()).collect::<Vec<_>>(), ["id-1", "id-2", "id-3"]);
        let letter = DeadLetter { sink: "q".into(), message: held[1].1.clone(), reason: "invalid_request".into(), at: 1 };
        spool.settle("q", &[held[0].0], &[(held[1].0, letter.clone())]).unwrap();
        assert_eq!(spool.depth("q"), 1);
        assert_eq!(spool.depth("other"), 1);
        assert_eq!(spool.dead_letters().unwrap(), [letter]);
        assert_eq!(spool.retry(Some("q")).unwrap(), 1);
        assert!(spool.dead_letters().unwrap().is_empty());
        let again: Vec<String> = spool.peek("q", 10).unwrap().into_iter().map(|(_, m)| m.id).collect();
        assert_eq!(again, ["id-3", "id-2"], "a retried letter goes to the back");
    }

    #[test]
    fn a_spool_in_use_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Spool::open(dir.path()).unwrap();
        let e = Spool::open(dir.path()).err().expect("second open fails");
        assert!(e.to_string().contains("in use by another tokenwatch process"), "{e}");
    }
}
