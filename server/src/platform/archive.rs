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

/// A zip written by `write` on the blocking pool, streamed as a download named `filename` while
/// it is written (entries stored: photos do not compress). A failure part-way aborts the
/// download rather than end a short zip.
pub fn zip_download<F>(filename: &'static str, write: F) -> axum::response::Response
where
    F: FnOnce(&mut zip::ZipWriter<ArchiveSink>) -> Result<(), app::error::AppError> + Send + 'static,
{
    use crate::platform::error::OrInternal;
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;

    let (sink, chunks) = ArchiveSink::channel();
    let writer = tokio::task::spawn_blocking(move || -> Result<(), app::error::AppError> {
        let mut zip = zip::ZipWriter::new(sink);
        write(&mut zip)?;
        zip.finish().or_internal("ending a zip")?.close().or_internal("ending a zip")
    });
    let body = futures::stream::unfold((chunks, Some(writer)), |(mut chunks, writer)| async move {
        if let Some(chunk) = chunks.recv().await {
            return Some((Ok(bytes::Bytes::from(chunk)), (chunks, writer)));
        }
        // The writer is done: end cleanly, or fail the response so the download shows as failed.
        let failed = match writer?.await {
            Ok(Ok(())) => return None,
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        tracing::warn!(error = failed, "a zip download failed part-way");
        Some((Err(std::io::Error::other("the zip failed part-way")), (chunks, None)))
    });
    let mut response = axum::body::Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// Entry names unique within one zip: a repeated name gets "-2", "-3", … before its extension.
#[derive(Default)]
pub struct ZipNames(std::collections::HashSet<String>);

impl ZipNames {
    pub fn unique(&mut self, name: &str) -> String {
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, "bin"));
        let mut candidate = name.to_string();
        let mut copy = 1;
        while !self.0.insert(candidate.clone()) {
            copy += 1;
            candidate = format!("{stem}-{copy}.{extension}");
        }
        candidate
    }
}
