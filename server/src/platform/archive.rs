//! Zip archives that never sit whole in memory: the zip writer writes into an `ArchiveSink`, which
//! passes every finished byte on through a bounded channel — to the sealer and the store (the
//! data export), or to an HTTP response (a selection of photos).

use std::io::Write;

/// What the zip writer writes to: it keeps only the bytes it may still go back to (the zip
/// writer returns to the current entry's header to fill in its size and checksum) and sends
/// everything before that on, to be sealed and stored.
pub struct ArchiveSink {
    sender: tokio::sync::mpsc::Sender<Vec<u8>>,
    /// Archive offset of `held[0]`; everything before it has been sent.
    base: u64,
    held: Vec<u8>,
    position: u64,
}

impl ArchiveSink {
    /// A sink and the receiving end of its bounded channel.
    pub fn channel() -> (Self, tokio::sync::mpsc::Receiver<Vec<u8>>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        (Self { sender, base: 0, held: Vec::new(), position: 0 }, receiver)
    }

    fn send_before(&mut self, offset: u64) -> std::io::Result<()> {
        let count = usize::try_from(offset.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.held.len());
        if count == 0 {
            return Ok(());
        }
        let chunk: Vec<u8> = self.held.drain(..count).collect();
        self.base += count as u64;
        self.sender.blocking_send(chunk).map_err(|_| std::io::Error::other("the archive's store stopped"))
    }

    /// Sends what is left; dropping the sink then ends the stream.
    pub fn close(mut self) -> std::io::Result<()> {
        let end = self.base + self.held.len() as u64;
        self.send_before(end)
    }
}

impl Write for ArchiveSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let at = usize::try_from(self.position - self.base).map_err(std::io::Error::other)?;
        let overlap = data.len().min(self.held.len().saturating_sub(at));
        self.held[at..at + overlap].copy_from_slice(&data[..overlap]);
        self.held.extend_from_slice(&data[overlap..]);
        self.position += data.len() as u64;
        // Bytes far behind the writer are sent on; it only ever goes back within one entry.
        if self.held.len() > 64 * 1024 * 1024 {
            let keep_from = self.position.saturating_sub(48 * 1024 * 1024);
            self.send_before(keep_from)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for ArchiveSink {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let end = self.base + self.held.len() as u64;
        let target = match to {
            std::io::SeekFrom::Start(offset) => Some(offset),
            std::io::SeekFrom::End(delta) => end.checked_add_signed(delta),
            std::io::SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        }
        .filter(|target| (self.base..=end).contains(target))
        .ok_or_else(|| std::io::Error::other("the archive writer went back further than its current entry"))?;
        // Going back to an entry's header means everything before it is final.
        if target < self.position {
            self.send_before(target)?;
        }
        self.position = target;
        Ok(target)
    }
}
