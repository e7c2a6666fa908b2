//! `type = "file"`: NDJSON, one message per line, appended; each batch written with one
//! `write` and made durable with one `fsync`; the file is rotated by size.

use super::{all, Message, SendFuture, Sent, Sink};
use crate::config::SinkConfig;
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// Rotated files kept beside the current one (`PATH.1` is the newest).
const KEEP: u32 = 5;

pub struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    file: Mutex<Option<(File, u64)>>,
}

impl FileSink {
    pub fn open(config: &SinkConfig) -> Result<FileSink, String> {
        let path = config.path.clone().ok_or("a file sink needs `path`")?;
        let sink = FileSink { path, max_bytes: config.max_file_mb() << 20, file: Mutex::new(None) };
        // Open now: a path that cannot be written is an error at start, not a dead letter.
        *sink.file.lock() = Some(sink.open_file()?);
        Ok(sink)
    }

    fn open_file(&self) -> Result<(File, u64), String> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the directory {}: {e}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("cannot open {} for appending: {e}", self.path.display()))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        Ok((file, len))
    }

    /// `PATH.4` → `PATH.5`, ..., `PATH` → `PATH.1`; the oldest beyond `KEEP` is overwritten.
    fn rotate(&self) -> std::io::Result<()> {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..KEEP).rev() {
            if numbered(n).exists() {
                std::fs::rename(numbered(n), numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))
    }

    fn write(&self, batch: &[Message]) -> Vec<Sent> {
        let mut lines = Vec::new();
        let mut sent = Vec::with_capacity(batch.len());
        for m in batch {
            // One message is one line: a body with a line break would read as two.
            if m.body.contains(['\n', '\r']) {
                sent.push(Sent::Reject("the message holds a line break; a file sink writes one message per line".into()));
                continue;
            }
            lines.extend_from_slice(m.body.as_bytes());
            lines.push(b'\n');
            sent.push(Sent::Delivered);
        }
        if lines.is_empty() {
            return sent;
        }
        let mut slot = self.file.lock();
        let result = (|| -> Result<(), String> {
            if slot.as_ref().is_some_and(|(_, len)| *len > 0 && *len + lines.len() as u64 > self.max_bytes) {
                *slot = None;
                self.rotate().map_err(|e| format!("cannot rotate {}: {e}", self.path.display()))?;
            }
            if slot.is_none() {
                *slot = Some(self.open_file()?);
            }
            let (file, len) = slot.as_mut().expect("opened above");
            let written = file.write_all(&lines).and_then(|()| file.sync_data());
            if let Err(e) = written {
                // Reopen next time: the file may have been removed or the disk replaced.
                *slot = None;
                return Err(format!("cannot write {}: {e}", self.path.display()));
            }
            *len += lines.len() as u64;
            Ok(())
        })();
        match result {
            Ok(()) => sent,
            // Some lines may be in the file: retried, they may appear twice (at least once).
            Err(why) => sent.into_iter().map(|s| if s == Sent::Delivered { Sent::Retry(why.clone()) } else { s }).collect(),
        }
    }
}

impl Sink for FileSink {
    fn max_batch(&self) -> usize {
        256
    }

    fn send<'a>(&'a self, batch: &'a [Message]) -> SendFuture<'a> {
        Box::pin(async move {
            if batch.is_empty() {
                return all(batch, Sent::Delivered);
            }
            // File I/O and fsync block: run them on the blocking pool, not the runtime.
            tokio::task::block_in_place(|| self.write(batch))
        })
    }
}
