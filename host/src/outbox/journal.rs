//! The write-ahead journal: every message a sink's memory queue holds is also in a
//! memory-mapped file, so a killed process loses none of them.
//!
//! Each sink has a directory `journal/<name>` in the spool directory, holding segments
//! `<seq:016x>.seg` of a fixed size (16 MiB, more when one maximal message needs it), their
//! blocks reserved (`posix_fallocate`) before they are mapped `MAP_SHARED`, so writing into
//! the mapping never meets a full disk (which would be a SIGBUS). A segment:
//!
//! - a 64-byte header: the magic `twjrnl01`, then the **watermark** (u64 LE, written as one
//!   atomic store): the offset of the first record not yet settled; the rest reserved, zero;
//! - records from offset 64, each starting at a multiple of 8: `[len u32 LE][crc32 u32 LE]
//!   [payload]`, the payload being the message's id, listener, kind and body, each as
//!   `[u32 LE length][bytes]`; the CRC-32 is the payload's. A zero length ends the records.
//!
//! `publish` appends under the lane's queue lock: payload and CRC first, the length last
//! (a release store), so a publish stopped half-way leaves a zero length or a CRC that does
//! not match. Writes to a shared mapping are the kernel's page cache: they outlive the process
//! (SIGKILL, a panic, an OOM kill) without a system call per message, but not the machine
//! (power loss, a kernel crash) until the kernel has written them back. The lane's task moves
//! the watermark past what it has settled (delivered, dead-lettered or in the redb spool),
//! deletes the segments wholly behind it and prepares the next segment (faulted in) before the
//! current one fills; the first one is made at start. Before that, [`recover`] reads every
//! segment a previous process left, from its watermark to the first record that is missing
//! or torn; the outbox puts what it finds into the spool and removes the files.

use super::Message;
use memmap2::{MmapMut, MmapOptions};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The journals' directory inside the spool directory.
pub const DIR: &str = "journal";
/// The first 8 bytes of every segment.
pub const MAGIC: &[u8; 8] = b"twjrnl01";
/// The header's size; records start here.
pub const HEADER: usize = 64;
/// Where the watermark is in the header.
const WATERMARK_AT: usize = 8;
/// A record's length and CRC.
const RECORD_HEAD: usize = 8;
/// The usual segment size.
pub const SEGMENT_BYTES: usize = 16 << 20;
/// Room for a message's id, listener and kind beside a maximal body when sizing segments.
const NAMES_MARGIN: usize = 64 << 10;
/// The segment files' extension.
const EXTENSION: &str = "seg";

/// Where a record ends: its segment and the offset just past it (padding included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub seq: u64,
    pub end: u64,
}

/// The segment size for a sink whose messages are at most `max_message_bytes`.
pub fn segment_bytes(max_message_bytes: u32) -> usize {
    let maximal = HEADER + RECORD_HEAD + 16 + NAMES_MARGIN + max_message_bytes as usize;
    SEGMENT_BYTES.max(maximal.next_multiple_of(1 << 20))
}

/// The payload's size: four length-prefixed fields.
fn payload_len(m: &Message) -> usize {
    16 + m.id.len() + m.listener.len() + m.kind.len() + m.body.len()
}

/// A record's size in the segment: head, payload, padding to 8.
fn record_bytes(payload: usize) -> usize {
    (RECORD_HEAD + payload).next_multiple_of(8)
}

/// A sink's directory name: lowercase ASCII letters, digits, `-` and `_` as they are, every
/// other byte as `%XX` (so no two names share a directory, even on a case-insensitive disk).
pub fn dir_name(sink: &str) -> String {
    let mut out = String::with_capacity(sink.len());
    for b in sink.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The sink a directory name stands for, if it is one [`dir_name`] makes.
pub fn sink_name(dir: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(dir.len());
    let mut rest = dir.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    let name = String::from_utf8(bytes).ok()?;
    (!name.is_empty() && dir_name(&name) == dir).then_some(name)
}

/// One mapped segment file.
pub struct Segment {
    seq: u64,
    path: PathBuf,
    map: MmapMut,
    /// The end of the records written: where the next one goes.
    used: usize,
}

impl Segment {
    /// Create `dir/<seq>.seg` of `bytes`, its blocks reserved, mapped, with its header.
    fn create(dir: &Path, seq: u64, bytes: usize) -> io::Result<Segment> {
        let path = dir.join(format!("{seq:016x}.{EXTENSION}"));
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        let mapped = reserve(&file, bytes as u64).and_then(|()| {
            // SAFETY: the file is ours (created above, in a directory only the process that
            // holds the spool's lock writes to) and its blocks are allocated, so no access to
            // the mapping faults, as long as nothing else truncates the file.
            unsafe { MmapOptions::new().len(bytes).map_mut(&file) }
        });
        let map = match mapped {
            Ok(map) => map,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let mut segment = Segment { seq, path, map, used: HEADER };
        segment.map[..MAGIC.len()].copy_from_slice(MAGIC);
        segment.set_watermark(HEADER as u64);
        Ok(segment)
    }

    /// Fault every page in, writable, so that writing into them later takes no page fault:
    /// each write fault of a shared file mapping goes through the file system
    /// (`page_mkwrite`), a microsecond or more; here they are taken by the sink's task (or
    /// the start), not by `publish`. (A page the kernel writes back before it is used is
    /// write-protected again and faults once more.)
    fn prefault(&mut self) {
        // One system call on Linux 5.14 and later; else a write to every page.
        #[cfg(target_os = "linux")]
        if self.map.advise(memmap2::Advice::PopulateWrite).is_ok() {
            return;
        }
        const STRIDE: usize = 4096;
        let base = self.map.as_mut_ptr();
        for offset in (HEADER..self.map.len()).step_by(STRIDE) {
            // SAFETY: inside the mapping, which is borrowed mutably. Volatile: a zero over a
            // zero, which the compiler must not drop.
            unsafe { base.add(offset).write_volatile(0) };
        }
    }

    fn room(&self) -> usize {
        self.map.len() - self.used
    }

    /// Write `m` (whose payload is `payload` bytes, and which fits) after the last record.
    fn write(&mut self, m: &Message, payload: usize) -> Pos {
        let start = self.used;
        let buf = &mut self.map[..];
        let mut at = start + RECORD_HEAD;
        for field in [&m.id, &m.listener, &m.kind, &m.body] {
            buf[at..at + 4].copy_from_slice(&(field.len() as u32).to_le_bytes());
            buf[at + 4..at + 4 + field.len()].copy_from_slice(field.as_bytes());
            at += 4 + field.len();
        }
        let crc = crc32fast::hash(&buf[start + RECORD_HEAD..at]);
        buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        // The length last, after the rest: until it is stored the record does not exist.
        // SAFETY: `start` is a multiple of 8 in a page-aligned mapping, inside it; the
        // mapping is borrowed mutably, so nothing else accesses these bytes.
        let len = unsafe { AtomicU32::from_ptr(buf.as_mut_ptr().add(start).cast::<u32>()) };
        len.store((payload as u32).to_le(), Ordering::Release);
        self.used = start + record_bytes(payload);
        Pos { seq: self.seq, end: self.used as u64 }
    }

    /// Store the watermark: the records before `end` are settled.
    fn set_watermark(&mut self, end: u64) {
        // SAFETY: offset 8 of a page-aligned mapping of at least `HEADER` bytes, borrowed
        // mutably.
        let watermark = unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().add(WATERMARK_AT).cast::<u64>()) };
        watermark.store(end.to_le(), Ordering::Release);
    }

    #[cfg(test)]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Unmap the segment and delete its file.
    pub fn remove(self) -> io::Result<()> {
        let Segment { path, map, .. } = self;
        drop(map);
        std::fs::remove_file(&path)
    }
}

/// Reserve the file's blocks, so writing into its mapping cannot fail for want of space.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn reserve(file: &File, bytes: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(bytes).map_err(|_| io::Error::other("segment too large"))?;
    // SAFETY: a valid descriptor, open for writing.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        // A file system without fallocate (musl does not emulate it): write the zeros.
        libc::EOPNOTSUPP => write_zeros(file, bytes),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Elsewhere: the zeros written, which allocates the blocks as well.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn reserve(file: &File, bytes: u64) -> io::Result<()> {
    write_zeros(file, bytes)
}

fn write_zeros(mut file: &File, bytes: u64) -> io::Result<()> {
    use std::io::Write;
    let zeros = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_data()
}

/// A sink's journal: its directory, segment size and the next segment number. Shared by
/// `publish` and the sink's task; the segments themselves are [`Segments`], under the
/// lane's queue lock.
pub struct Journal {
    dir: PathBuf,
    segment_bytes: usize,
    next_seq: AtomicU64,
}

impl Journal {
    /// The journal in `dir` (created if missing), numbering after any segment there.
    pub fn open(dir: PathBuf, max_message_bytes: u32) -> io::Result<Journal> {
        std::fs::create_dir_all(&dir)?;
        let next = segment_files(&dir)?.last().map_or(0, |(seq, _)| seq + 1);
        Ok(Journal { dir, segment_bytes: segment_bytes(max_message_bytes), next_seq: AtomicU64::new(next) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new segment of at least `bytes`, numbered after every segment made before.
    pub fn create(&self, bytes: usize) -> io::Result<Segment> {
        let bytes = bytes.max(self.segment_bytes);
        let mut tries = 0;
        loop {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            match Segment::create(&self.dir, seq, bytes) {
                // A file left there (one recovery could not read or delete): the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 64 => tries += 1,
                // Removed by an orderly end of the task, and published to after it.
                Err(e) if e.kind() == io::ErrorKind::NotFound && tries < 64 => {
                    tries += 1;
                    std::fs::create_dir_all(&self.dir)?;
                }
                result => return result,
            }
        }
    }

    /// A new segment of the usual size with every page already faulted in: the spare, made
    /// by the sink's task.
    pub fn prepare(&self) -> io::Result<Segment> {
        let mut segment = self.create(0)?;
        segment.prefault();
        Ok(segment)
    }

    /// Append `m`: into the current segment, else into the spare (or a new one) after sealing
    /// the current one. Fails only when no segment can be made.
    pub fn append(&self, segments: &mut Segments, m: &Message) -> io::Result<Pos> {
        let payload = payload_len(m);
        let need = record_bytes(payload);
        if payload > u32::MAX as usize {
            return Err(io::Error::other("message too large for the journal"));
        }
        if segments.current.as_ref().is_none_or(|c| c.room() < need) {
            let spare = segments.spare.take();
            let next = match spare {
                Some(s) if s.room() >= need => s,
                spare => {
                    let made = self.create(HEADER + need)?;
                    // A spare too small for this message is numbered before the new one:
                    // sealed, empty, and removed with what precedes it.
                    if let Some(stale) = spare {
                        segments.seal(stale);
                    }
                    made
                }
            };
            if let Some(full) = segments.current.replace(next) {
                // Sealed before the new one in order: `seal` keeps them sorted.
                segments.seal(full);
            }
        }
        let current = segments.current.as_mut().expect("set above");
        Ok(current.write(m, payload))
    }
}

/// A sink's mapped segments: the one being written, the sealed ones still holding unsettled
/// records (oldest first), and the spare the task prepared.
#[derive(Default)]
pub struct Segments {
    current: Option<Segment>,
    sealed: VecDeque<Segment>,
    spare: Option<Segment>,
}

impl Segments {
    /// Segments whose first one, `spare`, is ready for the first message.
    pub fn starting_with(spare: Segment) -> Segments {
        Segments { current: None, sealed: VecDeque::new(), spare: Some(spare) }
    }

    fn seal(&mut self, segment: Segment) {
        let at = self.sealed.partition_point(|s| s.seq < segment.seq);
        self.sealed.insert(at, segment);
    }

    /// Whether the task should prepare a spare: none is ready and there is no current
    /// segment yet or it is past half full.
    pub fn wants_spare(&self) -> bool {
        self.spare.is_none() && self.current.as_ref().is_none_or(|c| c.room() < c.map.len() / 2)
    }

    /// Take `segment` as the spare; it is handed back when not wanted (a spare is there, or
    /// a segment numbered after it is already in use).
    pub fn offer_spare(&mut self, segment: Segment) -> Result<(), Segment> {
        let newest = self.current.as_ref().or(self.sealed.back()).map(|s| s.seq);
        if self.spare.is_some() || newest.is_some_and(|n| n >= segment.seq) {
            return Err(segment);
        }
        self.spare = Some(segment);
        Ok(())
    }

    /// Everything up to `pos` is settled: store the watermark in its segment and hand back
    /// the sealed segments wholly before it, to be removed (outside the lock).
    pub fn settle(&mut self, pos: Pos) -> Vec<Segment> {
        let mut done = Vec::new();
        while self.sealed.front().is_some_and(|s| s.seq < pos.seq || (s.seq == pos.seq && pos.end >= s.used as u64)) {
            done.extend(self.sealed.pop_front());
        }
        let segment = match self.sealed.front_mut() {
            Some(s) if s.seq == pos.seq => Some(s),
            _ => self.current.as_mut().filter(|c| c.seq == pos.seq),
        };
        if let Some(s) = segment {
            s.set_watermark(pos.end);
        }
        done
    }

    /// Every segment, to be removed: the journal holds nothing unsettled.
    pub fn take_all(&mut self) -> Vec<Segment> {
        let mut all: Vec<Segment> = self.sealed.drain(..).collect();
        all.extend(self.current.take());
        all.extend(self.spare.take());
        all
    }

    /// Whether a spare is ready.
    #[cfg(test)]
    pub fn has_spare(&self) -> bool {
        self.spare.is_some()
    }

    /// How many segments are mapped.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.sealed.len() + usize::from(self.current.is_some()) + usize::from(self.spare.is_some())
    }
}

/// The segment files in `dir`, by number.
fn segment_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == EXTENSION) {
            let seq = path.file_stem().and_then(|s| s.to_str()).filter(|s| s.len() == 16).and_then(|s| u64::from_str_radix(s, 16).ok());
            if let Some(seq) = seq {
                files.push((seq, path));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// What [`recover`] found in one sink's journal.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The unsettled messages, in the order they were published.
    pub messages: Vec<Message>,
    /// The segments read (to delete once the messages are safe elsewhere).
    pub files: Vec<PathBuf>,
    /// Segments that ended in a torn record (a publish the kill interrupted).
    pub torn: usize,
    /// Files that are not segments this version can read, and why: left in place.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Read every segment in `dir`, in order, each from its watermark up to the first record
/// that is missing, runs past the segment's end or fails its CRC.
pub fn recover(dir: &Path) -> io::Result<Recovered> {
    let mut found = Recovered::default();
    for (_, path) in segment_files(dir)? {
        let bytes = std::fs::read(&path)?;
        match read_segment(&bytes, &mut found.messages) {
            Ok(torn) => {
                found.torn += usize::from(torn);
                found.files.push(path);
            }
            Err(why) => found.unreadable.push((path, why.to_owned())),
        }
    }
    Ok(found)
}

/// The unsettled records of one segment, appended to `out`; whether the last was torn.
fn read_segment(bytes: &[u8], out: &mut Vec<Message>) -> Result<bool, &'static str> {
    let header = bytes.get(..HEADER).unwrap_or(bytes);
    let watermark = if header.iter().all(|&b| b == 0) {
        if bytes.len() < HEADER {
            return Ok(false); // created, not yet reserved
        }
        // Reserved, its header not written before the kill: nothing in it. Or, after a power
        // loss, its header page not written back while later ones were: read it all.
        HEADER as u64
    } else if bytes.len() < HEADER || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a tokenwatch journal segment");
    } else {
        u64::from_le_bytes(bytes[WATERMARK_AT..WATERMARK_AT + 8].try_into().expect("8 bytes"))
    };
    let Some(mut at) = usize::try_from(watermark).ok().filter(|&w| w >= HEADER && w <= bytes.len() && w % 8 == 0) else {
        return Err("the watermark is outside the segment");
    };
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    while at + RECORD_HEAD <= bytes.len() {
        let len = u32_at(at) as usize;
        if len == 0 {
            return Ok(false);
        }
        let end = at + RECORD_HEAD + len;
        if end > bytes.len() {
            return Ok(true);
        }
        let payload = &bytes[at + RECORD_HEAD..end];
        if crc32fast::hash(payload) != u32_at(at + 4) {
            return Ok(true);
        }
        let Some(message) = decode(payload) else { return Ok(true) };
        out.push(message);
        at += record_bytes(len);
    }
    Ok(false)
}

/// A payload's four fields.
fn decode(mut payload: &[u8]) -> Option<Message> {
    let mut field = || -> Option<String> {
        let (len, rest) = payload.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let text = std::str::from_utf8(rest.get(..len)?).ok()?.to_owned();
        payload = &rest[len..];
        Some(text)
    };
    let message = Message { id: field()?, listener: field()?, kind: field()?, body: field()? };
    payload.is_empty().then_some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(i: usize) -> Message {
        Message { id: format!("id-{i:05}"), listener: "l".into(), kind: "id_token".into(), body: format!("{{\"n\":{i}}}") }
    }

    fn journal(dir: &Path) -> Journal {
        Journal::open(dir.to_owned(), 1024).unwrap()
    }

    fn ids(messages: &[Message]) -> Vec<String> {
        messages.iter().map(|m| m.id.clone()).collect()
    }

    #[test]
    fn appended_messages_are_recovered_in_order_with_all_their_fields() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let mut segments = Segments::default();
        let mut sent: Vec<Message> = (0..100).map(message).collect();
        sent.push(Message { id: "x".into(), listener: "é \n\0".into(), kind: String::new(), body: "b".repeat(1000) });
        for m in &sent {
            j.append(&mut segments, m).unwrap();
        }
        // Recovery reads the files while the segments are still mapped: what a kill leaves.
        let found = recover(dir.path()).unwrap();
        assert_eq!(found.messages, sent);
        assert_eq!((found.files.len(), found.torn), (1, 0));
    }

    #[test]
    fn a_torn_last_record_is_skipped_and_the_earlier_ones_kept() {
        for tear in ["length", "crc", "payload", "length past the end"] {
            let dir = tempfile::tempdir().unwrap();
            let j = journal(dir.path());
            let mut segments = Segments::default();
            let mut ends = Vec::new();
            for i in 0..5 {
                ends.push(j.append(&mut segments, &message(i)).unwrap().end as usize);
            }
            drop(segments);
            let path = segment_files(dir.path()).unwrap().remove(0).1;
            let mut bytes = std::fs::read(&path).unwrap();
            let last = ends[3];
            match tear {
                // The kill came before the length was stored.
                "length" => bytes[last..last + 4].fill(0),
                "crc" => bytes[last + 4] ^= 1,
                // The length stored but a byte of the payload not (power loss).
                "payload" => bytes[last + 12] ^= 0x20,
                _ => bytes[last..last + 4].copy_from_slice(&u32::MAX.to_le_bytes()),
            }
            std::fs::write(&path, &bytes).unwrap();
            let found = recover(dir.path()).unwrap();
            assert_eq!(ids(&found.messages), ids(&(0..4).map(message).collect::<Vec<_>>()), "{tear}");
            assert_eq!(found.torn, usize::from(tear != "length"), "{tear}");
        }
    }

    #[test]
    fn the_watermark_skips_settled_records() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let mut segments = Segments::default();
        let pos: Vec<Pos> = (0..10).map(|i| j.append(&mut segments, &message(i)).unwrap()).collect();
        assert!(segments.settle(pos[5]).is_empty());
        let found = recover(dir.path()).unwrap();
        assert_eq!(ids(&found.messages), ids(&(6..10).map(message).collect::<Vec<_>>()));
        segments.settle(pos[9]);
        assert!(recover(dir.path()).unwrap().messages.is_empty());
    }

    #[test]
    fn full_segments_are_sealed_and_removed_once_settled_and_recovery_spans_them() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let mut segments = Segments::default();
        // 8 KiB bodies: about 2,000 records per 16 MiB segment.
        let big = |i: usize| Message { body: format!("{i:08}").repeat(1024), ..message(i) };
        let pos: Vec<Pos> = (0..5_000).map(|i| j.append(&mut segments, &big(i)).unwrap()).collect();
        assert_eq!(segments.count(), 3, "rotated twice");
        assert_eq!(segment_files(dir.path()).unwrap().len(), 3);
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "positions only grow");

        // Settled into the second segment: the first is removed, recovery starts there.
        let settled = pos.iter().position(|p| p.seq == pos[0].seq + 1).unwrap() + 10;
        let removed = segments.settle(pos[settled]);
        assert_eq!(removed.iter().map(Segment::seq).collect::<Vec<_>>(), [pos[0].seq]);
        for s in removed {
            s.remove().unwrap();
        }
        assert_eq!(segment_files(dir.path()).unwrap().len(), 2);
        let found = recover(dir.path()).unwrap();
        assert_eq!(ids(&found.messages), ids(&(settled + 1..5_000).map(big).collect::<Vec<_>>()));

        // A spare prepared while the third was being filled is used by the next rotation.
        let spare = j.prepare().unwrap();
        let spare_seq = spare.seq;
        assert!(segments.offer_spare(spare).is_ok());
        assert!(!segments.wants_spare());
        let more: Vec<Pos> = (5_000..7_500).map(|i| j.append(&mut segments, &big(i)).unwrap()).collect();
        assert!(more.iter().any(|p| p.seq == spare_seq), "the spare was used");

        // Everything settled: only the current segment is left, and it holds nothing.
        for s in segments.settle(*more.last().unwrap()) {
            s.remove().unwrap();
        }
        assert_eq!(segment_files(dir.path()).unwrap().len(), 1);
        assert!(recover(dir.path()).unwrap().messages.is_empty());
        for s in segments.take_all() {
            s.remove().unwrap();
        }
        assert!(segment_files(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_spare_numbered_before_the_current_segment_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let mut segments = Segments::default();
        let early = j.create(0).unwrap();
        j.append(&mut segments, &message(0)).unwrap();
        assert!(segments.offer_spare(early).is_err());
    }

    #[test]
    fn a_message_larger_than_a_segment_gets_a_segment_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let mut segments = Segments::default();
        j.append(&mut segments, &message(0)).unwrap();
        let huge = Message { body: "x".repeat(SEGMENT_BYTES + 1), ..message(1) };
        j.append(&mut segments, &huge).unwrap();
        j.append(&mut segments, &message(2)).unwrap();
        let found = recover(dir.path()).unwrap();
        assert_eq!(found.messages.len(), 3);
        assert_eq!(found.messages[1], huge);
    }

    #[test]
    fn a_segment_whose_header_was_lost_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path());
        let mut segments = Segments::default();
        let pos = j.append(&mut segments, &message(0)).unwrap();
        j.append(&mut segments, &message(1)).unwrap();
        segments.settle(pos);
        drop(segments);
        let path = segment_files(dir.path()).unwrap().remove(0).1;
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[..HEADER].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(ids(&recover(dir.path()).unwrap().messages), ["id-00000", "id-00001"], "settled or not");
    }

    #[test]
    fn unknown_files_are_left_alone_and_fresh_segments_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{:016x}.seg", 0)), vec![0u8; 4096]).unwrap();
        std::fs::write(dir.path().join(format!("{:016x}.seg", 2)), b"").unwrap();
        std::fs::write(dir.path().join(format!("{:016x}.seg", 1)), b"something else entirely, not a journal segment at all, no ..........").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let found = recover(dir.path()).unwrap();
        assert!(found.messages.is_empty());
        assert_eq!(found.files.len(), 2);
        assert_eq!(found.unreadable.len(), 1);
        // New segments are numbered after what is there.
        assert_eq!(journal(dir.path()).create(0).unwrap().seq, 3);
    }

    #[test]
    fn sink_names_map_to_distinct_directories_and_back() {
        for name in ["q", "tokens-2_x", "Q", "a/b", "..", "é", "%41"] {
            let dir = dir_name(name);
            assert!(!dir.contains(['/', '\\']) && dir != ".." && dir != ".", "{dir}");
            assert_eq!(sink_name(&dir).as_deref(), Some(name));
        }
        assert_ne!(dir_name("Q"), dir_name("q"));
        assert_eq!(sink_name("%4"), None);
        assert_eq!(sink_name("A"), None, "not a name dir_name makes");
    }
}
