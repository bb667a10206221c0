//! HEIC/HEIF and AVIF through the system's libheif (Debian's `libheif1`: libde265 and dav1d decode,
//! aom encodes). Only the few calls Atelier needs are declared here, against libheif's stable C
//! API (1.15 and later), so no binding generator is built. libheif is C: it sees a file only after
//! the header's size passed the same pixel cap as every other decoder, with libheif's own size
//! limit set to the same cap, and the mutation test feeds it damaged files like the others.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::Once;

use image::{DynamicImage, ImageBuffer, Rgb, Rgba};

#[repr(C)]
struct HeifError {
    code: c_int,
    subcode: c_int,
    message: *const c_char,
}

#[repr(C)]
struct HeifWriter {
    writer_api_version: c_int,
    write: unsafe extern "C" fn(*mut c_void, *const c_void, usize, *mut c_void) -> HeifError,
}

const COLORSPACE_RGB: c_int = 1;
const CHROMA_RGB: c_int = 10;
const CHROMA_RGBA: c_int = 11;
const CHROMA_RRGGBB_LE: c_int = 14;
const CHROMA_RRGGBBAA_LE: c_int = 15;
const CHANNEL_INTERLEAVED: c_int = 10;
const COMPRESSION_AV1: c_int = 4;

#[link(name = "heif")]
unsafe extern "C" {
    fn heif_init(params: *const c_void) -> HeifError;
    fn heif_context_alloc() -> *mut c_void;
    fn heif_context_free(context: *mut c_void);
    fn heif_context_set_maximum_image_size_limit(context: *mut c_void, maximum_width: c_int);
    fn heif_context_read_from_memory_without_copy(
        context: *mut c_void,
        data: *const c_void,
        size: usize,
        options: *const c_void,
    ) -> HeifError;
    fn heif_context_get_primary_image_handle(context: *mut c_void, handle: *mut *mut c_void) -> HeifError;
    fn heif_image_handle_release(handle: *const c_void);
    fn heif_image_handle_get_width(handle: *const c_void) -> c_int;
    fn heif_image_handle_get_height(handle: *const c_void) -> c_int;
    fn heif_image_handle_has_alpha_channel(handle: *const c_void) -> c_int;
    fn heif_image_handle_get_luma_bits_per_pixel(handle: *const c_void) -> c_int;
    fn heif_image_handle_get_raw_color_profile_size(handle: *const c_void) -> usize;
    fn heif_image_handle_get_raw_color_profile(handle: *const c_void, out: *mut c_void) -> HeifError;
    fn heif_decode_image(
        handle: *const c_void,
        image: *mut *mut c_void,
        colorspace: c_int,
        chroma: c_int,
        options: *const c_void,
    ) -> HeifError;
    fn heif_image_release(image: *const c_void);
    fn heif_image_get_width(image: *const c_void, channel: c_int) -> c_int;
    fn heif_image_get_height(image: *const c_void, channel: c_int) -> c_int;
    fn heif_image_get_bits_per_pixel_range(image: *const c_void, channel: c_int) -> c_int;
    fn heif_image_get_plane_readonly(image: *const c_void, channel: c_int, stride: *mut c_int) -> *const u8;
    fn heif_image_create(
        width: c_int,
        height: c_int,
        colorspace: c_int,
        chroma: c_int,
        image: *mut *mut c_void,
    ) -> HeifError;
    fn heif_image_add_plane(image: *mut c_void, channel: c_int, width: c_int, height: c_int, depth: c_int)
        -> HeifError;
    fn heif_image_get_plane(image: *mut c_void, channel: c_int, stride: *mut c_int) -> *mut u8;
    fn heif_image_set_raw_color_profile(
        image: *mut c_void,
        fourcc: *const c_char,
        data: *const c_void,
        size: usize,
    ) -> HeifError;
    fn heif_context_get_encoder_for_format(context: *mut c_void, format: c_int, encoder: *mut *mut c_void)
        -> HeifError;
    fn heif_encoder_release(encoder: *mut c_void);
    fn heif_encoder_set_lossy_quality(encoder: *mut c_void, quality: c_int) -> HeifError;
    fn heif_encoder_set_parameter_integer(encoder: *mut c_void, name: *const c_char, value: c_int) -> HeifError;
    fn heif_context_encode_image(
        context: *mut c_void,
        image: *const c_void,
        encoder: *mut c_void,
        options: *const c_void,
        handle: *mut *mut c_void,
    ) -> HeifError;
    fn heif_context_write(context: *mut c_void, writer: *mut HeifWriter, userdata: *mut c_void) -> HeifError;
    fn heif_context_add_exif_metadata(
        context: *mut c_void,
        handle: *const c_void,
        data: *const c_void,
        size: c_int,
    ) -> HeifError;
    fn heif_context_add_XMP_metadata(
        context: *mut c_void,
        handle: *const c_void,
        data: *const c_void,
        size: c_int,
    ) -> HeifError;
}

/// libheif's answer as a Rust error, with its message (always set by libheif).
fn check(error: HeifError) -> Result<(), String> {
    if error.code == 0 {
        return Ok(());
    }
    let message = if error.message.is_null() {
        String::new()
    } else {
        // SAFETY: libheif's messages are static, NUL-terminated C strings.
        unsafe { CStr::from_ptr(error.message) }.to_string_lossy().into_owned()
    };
    Err(format!("libheif error {}.{}: {message}", error.code, error.subcode))
}

fn init() {
    static INIT: Once = Once::new();
    // SAFETY: called once per process, before any other call; NULL means default parameters.
    INIT.call_once(|| {
        let _ = unsafe { heif_init(ptr::null()) };
    });
}

/// Owns a libheif object and frees it with its own release function.
struct Owned(*mut c_void, unsafe extern "C" fn(*mut c_void));

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from the matching libheif allocator and is freed once.
            unsafe { (self.1)(self.0) }
        }
    }
}

unsafe extern "C" fn release_handle(handle: *mut c_void) {
    unsafe { heif_image_handle_release(handle) }
}

unsafe extern "C" fn release_image(image: *mut c_void) {
    unsafe { heif_image_release(image) }
}

fn context(max_pixels: u64) -> Result<Owned, String> {
    init();
    // SAFETY: plain allocation; NULL is checked.
    let context = Owned(unsafe { heif_context_alloc() }, heif_context_free);
    if context.0.is_null() {
        return Err("libheif could not allocate a context".into());
    }
    // libheif's own limit is on width × width; the same pixel count as ours.
    let side = (max_pixels as f64).sqrt().ceil().min(f64::from(c_int::MAX)) as c_int;
    // SAFETY: the context is live.
    unsafe { heif_context_set_maximum_image_size_limit(context.0, side) };
    Ok(context)
}

/// Whether the bytes are an ISO-BMFF image file of the HEIF family (HEIC, HEIF, AVIF), by the
/// brands in its `ftyp` box.
pub fn is_heif(bytes: &[u8]) -> bool {
    const BRANDS: [&[u8; 4]; 12] =
        [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"avif", b"avis"];
    super::bmff::brands(bytes).any(|brand| BRANDS.iter().any(|b| *b == brand))
}

/// The primary image's size, read from the file's header boxes without decoding.
pub struct Header {
    pub width: u32,
    pub height: u32,
}

/// A decoded HEIF-family image: upright (libheif applies the file's rotation and mirroring),
/// RGB or RGBA at 8 or 16 bits, and the ICC profile when the file carries one.
pub struct Decoded {
    pub image: DynamicImage,
    pub icc: Option<Vec<u8>>,
}

/// Why a file was not decoded: `admit` refused its size, or libheif could not read it.
#[derive(Debug)]
pub enum Error<E> {
    Refused(E),
    Libheif(String),
}

impl<E> From<String> for Error<E> {
    fn from(cause: String) -> Self {
        Error::Libheif(cause)
    }
}

impl<E> From<&str> for Error<E> {
    fn from(cause: &str) -> Self {
        Error::Libheif(cause.into())
    }
}

/// Reads the header, lets `admit` refuse the size (before and after decoding), then decodes.
pub fn decode<E>(bytes: &[u8], max_pixels: u64, admit: impl Fn(&Header) -> Result<(), E>) -> Result<Decoded, Error<E>> {
    let context = context(max_pixels)?;
    // SAFETY: `bytes` outlives the context (both end in this function); libheif only reads it.
    check(unsafe {
        heif_context_read_from_memory_without_copy(context.0, bytes.as_ptr().cast(), bytes.len(), ptr::null())
    })?;
    let mut handle = ptr::null_mut();
    // SAFETY: the context is live; the handle is released by `Owned`.
    check(unsafe { heif_context_get_primary_image_handle(context.0, &mut handle) })?;
    let handle = Owned(handle, release_handle);
    // SAFETY: the handle is live for every call below.
    let (width, height, alpha, bits) = unsafe {
        (
            heif_image_handle_get_width(handle.0),
            heif_image_handle_get_height(handle.0),
            heif_image_handle_has_alpha_channel(handle.0) != 0,
            heif_image_handle_get_luma_bits_per_pixel(handle.0),
        )
    };
    let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err("negative image size".into());
    };
    admit(&Header { width, height }).map_err(Error::Refused)?;
    let icc = {
        // SAFETY: the size comes from the same handle; the buffer is exactly that long.
        let size = unsafe { heif_image_handle_get_raw_color_profile_size(handle.0) };
        if size == 0 || size > 4 << 20 {
            None
        } else {
            let mut profile = vec![0u8; size];
            check(unsafe { heif_image_handle_get_raw_color_profile(handle.0, profile.as_mut_ptr().cast()) })
                .ok()
                .map(|()| profile)
        }
    };
    let deep = bits > 8;
    let chroma = match (deep, alpha) {
        (false, false) => CHROMA_RGB,
        (false, true) => CHROMA_RGBA,
        (true, false) => CHROMA_RRGGBB_LE,
        (true, true) => CHROMA_RRGGBBAA_LE,
    };
    let mut image = ptr::null_mut();
    // SAFETY: the handle is live; the decoded image is released by `Owned`.
    check(unsafe { heif_decode_image(handle.0, &mut image, COLORSPACE_RGB, chroma, ptr::null()) })?;
    let image = Owned(image, release_image);
    // The decoded size can differ from the header's (rotation, cropping): read it again, checked.
    let (decoded_width, decoded_height, range) = unsafe {
        (
            heif_image_get_width(image.0, CHANNEL_INTERLEAVED),
            heif_image_get_height(image.0, CHANNEL_INTERLEAVED),
            heif_image_get_bits_per_pixel_range(image.0, CHANNEL_INTERLEAVED),
        )
    };
    let (Ok(width), Ok(height)) = (u32::try_from(decoded_width), u32::try_from(decoded_height)) else {
        return Err("negative decoded size".into());
    };
    admit(&Header { width, height }).map_err(Error::Refused)?;
    let mut stride: c_int = 0;
    // SAFETY: the image is live; the plane is `stride * height` bytes.
    let plane = unsafe { heif_image_get_plane_readonly(image.0, CHANNEL_INTERLEAVED, &mut stride) };
    let channels: usize = if alpha { 4 } else { 3 };
    let sample_bytes: usize = if deep { 2 } else { 1 };
    let row_bytes = width as usize * channels * sample_bytes;
    let stride = usize::try_from(stride).map_err(|_| "negative stride")?;
    if plane.is_null() || stride < row_bytes {
        return Err("libheif returned no usable plane".into());
    }
    // SAFETY: libheif allocated `stride` bytes for each of `height` rows.
    let data = unsafe { std::slice::from_raw_parts(plane, stride * height as usize) };
    let rows = data.chunks_exact(stride).map(|row| &row[..row_bytes]);
    let image = if deep {
        // Widen 10/12-bit samples to the full 16-bit range, as PNG and the editor expect.
        let range = u32::try_from(range).ok().filter(|r| (9..=16).contains(r)).unwrap_or(16);
        let widen = |v: u16| ((u32::from(v) * 65535 + ((1 << range) - 1) / 2) / ((1 << range) - 1)) as u16;
        let samples: Vec<u16> =
            rows.flat_map(|row| row.chunks_exact(2).map(|s| widen(u16::from_le_bytes([s[0], s[1]])))).collect();
        if alpha {
            ImageBuffer::<Rgba<u16>, _>::from_raw(width, height, samples).map(DynamicImage::ImageRgba16)
        } else {
            ImageBuffer::<Rgb<u16>, _>::from_raw(width, height, samples).map(DynamicImage::ImageRgb16)
        }
    } else {
        let samples: Vec<u8> = rows.flatten().copied().collect();
        if alpha {
            ImageBuffer::<Rgba<u8>, _>::from_raw(width, height, samples).map(DynamicImage::ImageRgba8)
        } else {
            ImageBuffer::<Rgb<u8>, _>::from_raw(width, height, samples).map(DynamicImage::ImageRgb8)
        }
    };
    Ok(Decoded { image: image.ok_or("decoded buffer size mismatch")?, icc })
}

/// Encodes as AVIF with aom: `quality` 1–100, `speed` 0 (slowest, smallest) to 9, 4:2:0. Alpha
/// is kept. `metadata` (a TIFF-format EXIF block and an XMP packet) is written when given;
/// nothing else is.
pub fn encode_avif(
    image: &DynamicImage,
    quality: u8,
    speed: u8,
    metadata: Option<(&[u8], &[u8])>,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let context = context(u64::from(image.width()) * u64::from(image.height()))?;
    let alpha = image.color().has_alpha();
    let (width, height) = (image.width(), image.height());
    let (Ok(w), Ok(h)) = (c_int::try_from(width), c_int::try_from(height)) else {
        return Err("image too large for AVIF".into());
    };
    let pixels: Vec<u8> = if alpha { image.to_rgba8().into_raw() } else { image.to_rgb8().into_raw() };
    let mut picture = ptr::null_mut();
    let chroma = if alpha { CHROMA_RGBA } else { CHROMA_RGB };
    // SAFETY: dimensions are positive; the picture is released by `Owned`.
    check(unsafe { heif_image_create(w, h, COLORSPACE_RGB, chroma, &mut picture) })?;
    let picture = Owned(picture, release_image);
    check(unsafe { heif_image_add_plane(picture.0, CHANNEL_INTERLEAVED, w, h, 8) })?;
    let mut stride: c_int = 0;
    // SAFETY: the plane was just added with these dimensions: `stride * height` writable bytes.
    let plane = unsafe { heif_image_get_plane(picture.0, CHANNEL_INTERLEAVED, &mut stride) };
    let row_bytes = width as usize * if alpha { 4 } else { 3 };
    let stride = usize::try_from(stride).map_err(|_| "negative stride")?;
    if plane.is_null() || stride < row_bytes {
        return Err("libheif returned no usable plane".into());
    }
    let target = unsafe { std::slice::from_raw_parts_mut(plane, stride * height as usize) };
    for (row, source) in target.chunks_exact_mut(stride).zip(pixels.chunks_exact(row_bytes)) {
        row[..row_bytes].copy_from_slice(source);
    }
    if let Some(icc) = icc {
        // SAFETY: the picture is alive; libheif copies the profile's bytes.
        check(unsafe {
            heif_image_set_raw_color_profile(picture.0, c"prof".as_ptr(), icc.as_ptr().cast(), icc.len())
        })?;
    }
    let mut encoder = ptr::null_mut();
    check(unsafe { heif_context_get_encoder_for_format(context.0, COMPRESSION_AV1, &mut encoder) })?;
    let encoder = Owned(encoder, heif_encoder_release);
    check(unsafe { heif_encoder_set_lossy_quality(encoder.0, c_int::from(quality.clamp(1, 100))) })?;
    // aom's speed; an encoder without the parameter keeps its default.
    let _ =
        check(unsafe { heif_encoder_set_parameter_integer(encoder.0, c"speed".as_ptr(), c_int::from(speed.min(9))) });
    let mut handle = ptr::null_mut();
    check(unsafe { heif_context_encode_image(context.0, picture.0, encoder.0, ptr::null(), &mut handle) })?;
    let handle = Owned(handle, release_handle);
    if let Some((exif, xmp)) = metadata {
        let size = |data: &[u8]| c_int::try_from(data.len()).map_err(|_| "metadata too large".to_string());
        // SAFETY: the handle belongs to this context; libheif copies the bytes.
        check(unsafe { heif_context_add_exif_metadata(context.0, handle.0, exif.as_ptr().cast(), size(exif)?) })?;
        check(unsafe { heif_context_add_XMP_metadata(context.0, handle.0, xmp.as_ptr().cast(), size(xmp)?) })?;
    }
    let mut out: Vec<u8> = Vec::new();
    unsafe extern "C" fn write(_: *mut c_void, data: *const c_void, size: usize, out: *mut c_void) -> HeifError {
        // SAFETY: `out` is the Vec passed below, alive for the call; libheif gives `size` bytes.
        unsafe { (*out.cast::<Vec<u8>>()).extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), size)) };
        HeifError { code: 0, subcode: 0, message: c"Success".as_ptr() }
    }
    let mut writer = HeifWriter { writer_api_version: 1, write };
    check(unsafe { heif_context_write(context.0, &mut writer, (&mut out as *mut Vec<u8>).cast()) })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avif_round_trips_through_libheif_at_its_size() {
        let image =
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(96, 64, |x, y| Rgb([x as u8 * 2, y as u8 * 3, 128])));
        let metadata = (&b"MM\0\x2a\0\0\0\x08\0\0\0\0\0\0"[..], &b"<x:xmpmeta>caption</x:xmpmeta>"[..]);
        let avif = encode_avif(&image, 60, 8, Some(metadata), None).unwrap();
        assert!(avif.windows(7).any(|w| w == b"caption"), "the XMP is in the file");
        assert!(is_heif(&avif));
        let back = decode(&avif, 1_000_000, |_| Ok::<(), String>(())).unwrap();
        assert_eq!((back.image.width(), back.image.height()), (96, 64));
        let refused = decode(&avif, 1_000_000, |header| Err(format!("{}×{}", header.width, header.height)));
        assert!(matches!(refused, Err(Error::Refused(size)) if size == "96×64"));
    }

    #[test]
    fn damaged_files_are_errors_not_crashes() {
        let image = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(32, 32, Rgba([10, 200, 30, 128])));
        let avif = encode_avif(&image, 50, 9, None, None).unwrap();
        for cut in [12, 40, avif.len() / 2, avif.len() - 1] {
            assert!(decode(&avif[..cut], 1_000_000, |_| Ok::<(), String>(())).is_err(), "cut at {cut}");
        }
        assert!(!is_heif(b"\0\0\0\x10ftypisom\0\0\0\0"));
    }
}
