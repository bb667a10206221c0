//! Scaled JPEG decoding through the system's libjpeg-turbo (Debian's `libturbojpeg`), for exports
//! only: a small export of a large photo decodes at m/8 scale inside the IDCT (shrink-on-load),
//! with libjpeg-turbo's SIMD entropy decoder, as libvips and Pillow do. It reads stored originals,
//! which the pure-Rust decoder validated at upload; the few TurboJPEG calls are declared here.

use std::ffi::{c_char, c_int, c_uchar, c_ulong, c_void, CStr};

const PF_RGB: c_int = 0;
const PF_GRAY: c_int = 6;
const CS_GRAY: c_int = 2;
const CS_CMYK: c_int = 3;
const CS_YCCK: c_int = 4;
/// Stop on a warning (a damaged file is an error, not grey), and limit progressive scans.
const FLAGS: c_int = 8192 | 32768;

#[link(name = "turbojpeg")]
unsafe extern "C" {
    fn tjInitDecompress() -> *mut c_void;
    fn tjDestroy(handle: *mut c_void) -> c_int;
    fn tjDecompressHeader3(
        handle: *mut c_void,
        jpeg: *const c_uchar,
        size: c_ulong,
        width: *mut c_int,
        height: *mut c_int,
        subsampling: *mut c_int,
        colorspace: *mut c_int,
    ) -> c_int;
    fn tjDecompress2(
        handle: *mut c_void,
        jpeg: *const c_uchar,
        size: c_ulong,
        out: *mut c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        format: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjGetErrorStr2(handle: *mut c_void) -> *mut c_char;
}

struct Handle(*mut c_void);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tjInitDecompress and is destroyed once.
        unsafe { tjDestroy(self.0) };
    }
}

impl Handle {
    fn error(&self) -> String {
        // SAFETY: TurboJPEG's message for this handle: a NUL-terminated string it owns.
        let message = unsafe { tjGetErrorStr2(self.0) };
        if message.is_null() {
            return "libjpeg-turbo failed".into();
        }
        unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned()
    }
}

/// The file's size and whether it is grey, or `None` for CMYK/YCCK (the whole decode handles those).
pub struct Header {
    pub width: u32,
    pub height: u32,
    grey: bool,
}

/// A decoder for one file.
pub struct Scaled<'a> {
    handle: Handle,
    jpeg: &'a [u8],
    pub header: Header,
}

impl<'a> Scaled<'a> {
    /// Reads the header; `Ok(None)` for colour spaces this path leaves to the whole decode.
    pub fn open(jpeg: &'a [u8]) -> Result<Option<Self>, String> {
        // SAFETY: plain allocation; NULL is checked.
        let handle = Handle(unsafe { tjInitDecompress() });
        if handle.0.is_null() {
            return Err("libjpeg-turbo could not start".into());
        }
        let size = c_ulong::try_from(jpeg.len()).map_err(|_| "file too large")?;
        let (mut width, mut height, mut subsampling, mut colorspace) = (0, 0, 0, 0);
        // SAFETY: `jpeg` is readable for `size` bytes; the outputs are plain ints.
        let status = unsafe {
            tjDecompressHeader3(
                handle.0,
                jpeg.as_ptr(),
                size,
                &mut width,
                &mut height,
                &mut subsampling,
                &mut colorspace,
            )
        };
        if status != 0 {
            return Err(handle.error());
        }
        if matches!(colorspace, CS_CMYK | CS_YCCK) {
            return Ok(None);
        }
        let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
            return Err("negative size".into());
        };
        Ok(Some(Scaled { handle, jpeg, header: Header { width, height, grey: colorspace == CS_GRAY } }))
    }

    /// The smallest m/8 scale (m = 1…8) whose size is at least `width`×`height`: the decoded
    /// size, or `None` when only the whole image is large enough.
    pub fn scale_for(&self, width: u32, height: u32) -> Option<(u32, u32)> {
        let scaled = |side: u32, m: u32| (u64::from(side) * u64::from(m)).div_ceil(8) as u32;
        (1..8)
            .map(|m| (scaled(self.header.width, m), scaled(self.header.height, m)))
            .find(|(w, h)| *w >= width && *h >= height)
    }

    /// Decodes at the size `scale_for` gave (libjpeg-turbo picks the largest m/8 size that fits
    /// in it, which is that one).
    pub fn decode(self, width: u32, height: u32) -> Result<image::DynamicImage, String> {
        let channels: u32 = if self.header.grey { 1 } else { 3 };
        let size = c_ulong::try_from(self.jpeg.len()).map_err(|_| "file too large")?;
        let bytes =
            usize::try_from(u64::from(width) * u64::from(height) * u64::from(channels)).map_err(|_| "too large")?;
        let mut pixels = vec![0u8; bytes];
        let format = if self.header.grey { PF_GRAY } else { PF_RGB };
        let (Ok(w), Ok(h), Ok(pitch)) =
            (c_int::try_from(width), c_int::try_from(height), c_int::try_from(width * channels))
        else {
            return Err("size out of range".into());
        };
        // SAFETY: `pixels` holds pitch × height bytes, which is what a decode to at most w × h
        // writes; `jpeg` is readable for `size` bytes.
        let status = unsafe {
            tjDecompress2(self.handle.0, self.jpeg.as_ptr(), size, pixels.as_mut_ptr(), w, pitch, h, format, FLAGS)
        };
        if status != 0 {
            return Err(self.handle.error());
        }
        let image = if self.header.grey {
            image::GrayImage::from_raw(width, height, pixels).map(image::DynamicImage::ImageLuma8)
        } else {
            image::RgbImage::from_raw(width, height, pixels).map(image::DynamicImage::ImageRgb8)
        };
        image.ok_or_else(|| "decoded buffer size mismatch".into())
    }
}
