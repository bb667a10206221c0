//! What an export carries besides pixels: the description (EXIF ImageDescription, Artist and
//! Copyright, and XMP) and the colour profile when it is kept, written into the encoded file at
//! the container level — JPEG segments, PNG chunks, WebP chunks (AVIF gets them from libheif).

use super::Description;

/// The longest caption written into a file (a JPEG segment holds 64 KiB at most).
const MAX_DESCRIPTION_BYTES: usize = 2000;

fn xml_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// At most `MAX_DESCRIPTION_BYTES`, cut on a character boundary.
fn bounded(text: &str) -> &str {
    let mut end = text.len().min(MAX_DESCRIPTION_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An XMP packet with what is given of the caption (dc:description), keywords (dc:subject),
/// author (dc:creator) and copyright (dc:rights).
pub(super) fn xmp(description: &Description) -> String {
    let mut fields = String::new();
    let alt = |text: &str| {
        format!("<rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt>", xml_escape(bounded(text)))
    };
    if !description.text.is_empty() {
        fields.push_str(&format!("<dc:description>{}</dc:description>", alt(&description.text)));
    }
    if !description.keywords.is_empty() {
        let keywords: String = description
            .keywords
            .iter()
            .take(50)
            .map(|keyword| format!("<rdf:li>{}</rdf:li>", xml_escape(bounded(keyword))))
            .collect();
        fields.push_str(&format!("<dc:subject><rdf:Bag>{keywords}</rdf:Bag></dc:subject>"));
    }
    if !description.author.is_empty() {
        let author = xml_escape(bounded(&description.author));
        fields.push_str(&format!("<dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>"));
    }
    if !description.copyright.is_empty() {
        fields.push_str(&format!("<dc:rights>{}</dc:rights>", alt(&description.copyright)));
    }
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">{fields}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
    )
}

/// A big-endian TIFF block with one IFD of ASCII (UTF-8, as cameras and editors write it)
/// entries: ImageDescription, Artist and Copyright, those given, in tag order.
pub(super) fn exif_tiff(description: &Description) -> Vec<u8> {
    let entries: Vec<(u16, String)> =
        [(0x010E, &description.text), (0x013B, &description.author), (0x8298, &description.copyright)]
            .into_iter()
            .filter(|(_, text)| !text.is_empty())
            .map(|(tag, text)| (tag, bounded(text).replace('\0', " ")))
            .collect();
    let count = entries.len() as u16;
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&count.to_be_bytes());
    // Values longer than four bytes follow the IFD (entries, then the next-IFD pointer).
    let mut data_at = 8 + 2 + 12 * u32::from(count) + 4;
    let mut values = Vec::new();
    for (tag, text) in &entries {
        let mut value = text.as_bytes().to_vec();
        value.push(0);
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
        if value.len() <= 4 {
            value.resize(4, 0);
            tiff.extend_from_slice(&value);
        } else {
            tiff.extend_from_slice(&data_at.to_be_bytes());
            data_at += u32::try_from(value.len()).unwrap_or(u32::MAX);
            values.extend_from_slice(&value);
        }
    }
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&values);
    tiff
}

/// The description's EXIF and XMP segments (APP1) and the profile's ICC_PROFILE segments (APP2,
/// in pieces of at most 65519 bytes as the ICC spec says), after SOI.
pub fn jpeg(jpeg: &[u8], description: Option<&Description>, icc: Option<&[u8]>) -> Vec<u8> {
    let segment = |marker: u8, header: &[u8], body: &[u8]| -> Vec<u8> {
        let length = u16::try_from(2 + header.len() + body.len()).unwrap_or(u16::MAX);
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(header);
        out.extend_from_slice(body);
        out
    };
    let mut out = Vec::with_capacity(jpeg.len() + 4096);
    out.extend_from_slice(&jpeg[..2.min(jpeg.len())]);
    if let Some(description) = description {
        out.extend_from_slice(&segment(0xE1, b"Exif\0\0", &exif_tiff(description)));
        out.extend_from_slice(&segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0", xmp(description).as_bytes()));
    }
    if let Some(icc) = icc {
        let pieces: Vec<&[u8]> = icc.chunks(65519).collect();
        // A profile needs more than 255 pieces only past 16 MB: such a file keeps none.
        if let Ok(count) = u8::try_from(pieces.len()) {
            for (index, piece) in pieces.iter().enumerate() {
                let mut header = b"ICC_PROFILE\0".to_vec();
                header.extend_from_slice(&[index as u8 + 1, count]);
                out.extend_from_slice(&segment(0xE2, &header, piece));
            }
        }
    }
    out.extend_from_slice(jpeg.get(2..).unwrap_or_default());
    out
}

/// The profile (ICCP), EXIF and XMP chunks in a WebP: libwebp's simple file (one VP8 or VP8L
/// chunk) becomes an extended one (VP8X, whose flags announce them); an extended one gets the
/// flags set and the profile after its VP8X. `width`, `height` and `alpha` are the encoded
/// image's, for the VP8X header.
pub fn webp(
    webp: &[u8],
    description: Option<&Description>,
    icc: Option<&[u8]>,
    (width, height, alpha): (u32, u32, bool),
) -> Vec<u8> {
    let Some(body) = webp.get(12..).filter(|_| webp.starts_with(b"RIFF") && webp.get(8..12) == Some(b"WEBP")) else {
        return webp.to_vec();
    };
    if description.is_none() && icc.is_none() {
        return webp.to_vec();
    }
    let chunk = |name: &[u8; 4], data: &[u8]| -> Vec<u8> {
        let mut out = name.to_vec();
        out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
        out
    };
    const ICC_FLAG: u8 = 0x20;
    const XMP_FLAG: u8 = 0x04;
    const EXIF_FLAG: u8 = 0x08;
    const ALPHA_FLAG: u8 = 0x10;
    let flags = if description.is_some() { XMP_FLAG | EXIF_FLAG } else { 0 } | if icc.is_some() { ICC_FLAG } else { 0 };
    // The VP8X chunk is 18 bytes (8 of header, 10 of data); then the image's own chunks.
    let (mut chunks, image) = match body.strip_prefix(b"VP8X").and(body.get(..18)).zip(body.get(18..)) {
        Some((extended, rest)) => {
            let mut header = extended.to_vec();
            header[8] |= flags;
            (header, rest)
        }
        None => {
            let lossless_alpha = body.starts_with(b"VP8L") && alpha;
            let mut header = vec![flags | if lossless_alpha { ALPHA_FLAG } else { 0 }, 0, 0, 0];
            header.extend_from_slice(&(width.max(1) - 1).to_le_bytes()[..3]);
            header.extend_from_slice(&(height.max(1) - 1).to_le_bytes()[..3]);
            (chunk(b"VP8X", &header), body)
        }
    };
    // The spec's order: VP8X, ICCP, the image, then EXIF and XMP.
    if let Some(icc) = icc {
        chunks.extend_from_slice(&chunk(b"ICCP", icc));
    }
    chunks.extend_from_slice(image);
    if let Some(description) = description {
        chunks.extend_from_slice(&chunk(b"EXIF", &exif_tiff(description)));
        chunks.extend_from_slice(&chunk(b"XMP ", xmp(description).as_bytes()));
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(chunks.len() + 4).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    out
}

/// iTXt chunks (UTF-8) after IHDR: `Description`, `Author` and `Copyright` (those given), and
/// the XMP packet. (A kept profile is written by the PNG encoder, as iCCP.)
pub fn png(png: &[u8], description: &Description) -> Vec<u8> {
    let chunk = |keyword: &str, text: &str| -> Vec<u8> {
        let mut body = b"iTXt".to_vec();
        body.extend_from_slice(keyword.as_bytes());
        body.extend_from_slice(&[0, 0, 0, 0, 0]);
        body.extend_from_slice(text.as_bytes());
        let mut out = u32::try_from(body.len() - 4).unwrap_or(u32::MAX).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        out
    };
    // Signature (8) and IHDR (8 + 13 + 4) come first in every PNG.
    let after_header = 33.min(png.len());
    let mut out = png[..after_header].to_vec();
    for (keyword, text) in
        [("Description", &description.text), ("Author", &description.author), ("Copyright", &description.copyright)]
    {
        if !text.is_empty() {
            out.extend_from_slice(&chunk(keyword, bounded(text)));
        }
    }
    out.extend_from_slice(&chunk("XML:com.adobe.xmp", &xmp(description)));
    out.extend_from_slice(&png[after_header..]);
    out
}
