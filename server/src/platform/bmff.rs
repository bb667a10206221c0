//! AVIF originals kept as the bytes they came in: the EXIF and XMP items of an ISO-BMFF (HEIF)
//! file are blanked in place — their bytes zeroed, every box, offset and image item untouched —
//! so no camera or location data is stored and the image is not re-encoded. Any file whose boxes
//! cannot be followed to the last byte is refused (`None`), and the caller keeps a lossless PNG.

/// A cursor over big-endian fields that fails instead of reading past the end.
struct Fields<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let slice = self.data.get(self.at..self.at.checked_add(count)?)?;
        self.at += count;
        Some(slice)
    }

    /// An unsigned number of `size` bytes (0, 4 or 8 in `iloc`; 1, 2 and 4 elsewhere).
    fn number(&mut self, size: usize) -> Option<u64> {
        Some(self.take(size)?.iter().fold(0u64, |n, byte| (n << 8) | u64::from(*byte)))
    }

    fn text(&mut self) -> Option<&'a [u8]> {
        let rest = self.data.get(self.at..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        self.at += end + 1;
        Some(&rest[..end])
    }
}

/// The boxes in `data` (which starts at file offset `base`): (type, payload start, payload end)
/// in file offsets.
fn boxes(data: &[u8], base: usize) -> Option<Vec<([u8; 4], usize, usize)>> {
    let mut found = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let mut fields = Fields { data, at };
        let size = fields.number(4)?;
        let kind: [u8; 4] = fields.take(4)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, (data.len() - at) as u64),
            1 => (16, fields.number(8)?),
            size => (8, size),
        };
        let size = usize::try_from(size).ok()?;
        let end = at.checked_add(size)?;
        if size < header || end > data.len() {
            return None;
        }
        found.push((kind, base + at + header, base + end));
        at = end;
    }
    Some(found)
}

/// The file with its EXIF and XMP items zeroed, or `None` when its boxes cannot be followed.
pub fn blank_metadata(file: &[u8]) -> Option<Vec<u8>> {
    let top = boxes(file, 0)?;
    let &(_, meta_start, meta_end) = top.iter().find(|(kind, ..)| kind == b"meta")?;
    // `meta` is a full box: four bytes of version and flags before its children.
    let children = boxes(file.get(meta_start.checked_add(4)?..meta_end)?, meta_start + 4)?;
    let child = |name: &[u8; 4]| children.iter().find(|(kind, ..)| kind == name).map(|&(_, s, e)| (s, e));

    // Which items are metadata: `infe` entries of type Exif, or mime with an XMP content type.
    let mut metadata_items = Vec::new();
    if let Some((start, end)) = child(b"iinf") {
        let mut fields = Fields { data: file.get(start..end)?, at: 0 };
        let version = fields.number(1)?;
        fields.take(3)?;
        fields.number(if version == 0 { 2 } else { 4 })?;
        for (kind, entry_start, entry_end) in boxes(file.get(start + fields.at..end)?, start + fields.at)? {
            if &kind != b"infe" {
                continue;
            }
            let mut entry = Fields { data: file.get(entry_start..entry_end)?, at: 0 };
            let version = entry.number(1)?;
            entry.take(3)?;
            if version < 2 {
                // Versions 0 and 1 predate item types; HEIF writes 2 or 3.
                return None;
            }
            let id = entry.number(if version == 2 { 2 } else { 4 })?;
            entry.number(2)?;
            let item_type = entry.take(4)?;
            entry.text()?;
            let xmp = item_type == b"mime"
                && entry.text().is_some_and(|content| content.windows(7).any(|w| w.eq_ignore_ascii_case(b"rdf+xml")));
            if item_type == b"Exif" || xmp {
                metadata_items.push(id);
            }
        }
    }
    let mut out = file.to_vec();
    if metadata_items.is_empty() {
        return Some(out);
    }

    // Where their bytes are (`iloc`): in the file, or in `idat` (construction method 1).
    let (start, end) = child(b"iloc")?;
    let idat = child(b"idat");
    let mut fields = Fields { data: file.get(start..end)?, at: 0 };
    let version = fields.number(1)?;
    fields.take(3)?;
    let sizes = fields.number(1)?;
    let (offset_size, length_size) = ((sizes >> 4) as usize, (sizes & 15) as usize);
    let sizes = fields.number(1)?;
    let (base_offset_size, index_size) = ((sizes >> 4) as usize, if version >= 1 { (sizes & 15) as usize } else { 0 });
    let count = fields.number(if version < 2 { 2 } else { 4 })?;
    let mut blanked = 0;
    for _ in 0..count {
        let id = fields.number(if version < 2 { 2 } else { 4 })?;
        let method = if version >= 1 { fields.number(2)? & 15 } else { 0 };
        fields.number(2)?;
        let base = fields.number(base_offset_size)?;
        let extents = fields.number(2)?;
        for _ in 0..extents {
            fields.number(index_size)?;
            let offset = base.checked_add(fields.number(offset_size)?)?;
            let length = fields.number(length_size)?;
            if !metadata_items.contains(&id) {
                continue;
            }
            let origin = match (method, idat) {
                (0, _) => 0,
                (1, Some((idat_start, _))) => idat_start as u64,
                // Data in another item, or an idat that is not there: not followed.
                _ => return None,
            };
            let from = usize::try_from(origin.checked_add(offset)?).ok()?;
            // A zero length means "to the end of the file"; nothing written by phones does that.
            let to = from.checked_add(usize::try_from(length).ok().filter(|l| *l > 0)?)?;
            out.get_mut(from..to)?.fill(0);
            blanked += 1;
        }
    }
    (blanked > 0).then_some(out)
}

/// The brands of an ISO-BMFF file's leading `ftyp` box (major, then compatible); none when the
/// file does not start with one.
pub fn brands(file: &[u8]) -> impl Iterator<Item = &[u8]> {
    let size = file.get(0..4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize).unwrap_or(0);
    let ftyp = (file.get(4..8) == Some(b"ftyp") && (16..=file.len()).contains(&size)).then(|| &file[..size]);
    // Major brand at 8, minor version at 12, compatible brands from 16.
    let major = ftyp.map(|ftyp| &ftyp[8..12]);
    let compatible = ftyp.map(|ftyp| ftyp[16..].chunks_exact(4)).into_iter().flatten();
    major.into_iter().chain(compatible)
}

/// Whether an ISO-BMFF file is AVIF (its major or a compatible brand), which every current
/// browser shows, unlike HEIC.
pub fn is_avif(file: &[u8]) -> bool {
    brands(file).any(|brand| brand == b"avif")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_and_xmp_items_are_zeroed_and_nothing_else_changes() {
        let image = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8 * 3, y as u8 * 5, 90])
        }));
        let exif = b"MM\0\x2a\0\0\0\x08\0\0\0\0\0\0GPS-secret-exif";
        let xmp = b"<x:xmpmeta>secret-xmp</x:xmpmeta>";
        let avif = crate::platform::heif::encode_avif(&image, 70, 9, Some((exif, xmp)), None).unwrap();
        assert!(is_avif(&avif));
        let blanked = blank_metadata(&avif).expect("followed");
        assert_eq!(blanked.len(), avif.len());
        for secret in [&b"GPS-secret-exif"[..], b"secret-xmp"] {
            assert!(avif.windows(secret.len()).any(|w| w == secret));
            assert!(!blanked.windows(secret.len()).any(|w| w == secret));
        }
        let decode =
            |file: &[u8]| crate::platform::heif::decode(file, 1 << 20, |_| Ok::<(), String>(())).unwrap().image;
        assert_eq!(decode(&blanked).as_bytes(), decode(&avif).as_bytes(), "the image is untouched");
        // Without metadata there is nothing to blank; cut files are refused, never a panic.
        let plain = crate::platform::heif::encode_avif(&image, 70, 9, None, None).unwrap();
        assert_eq!(blank_metadata(&plain).as_deref(), Some(plain.as_slice()));
        for cut in [0, 10, 30, avif.len() / 3, avif.len() - 1] {
            let _ = blank_metadata(&avif[..cut]);
        }
    }
}
