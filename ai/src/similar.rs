//! Near-duplicates: a perceptual hash of a photo, and how sharp and well exposed it is, so copies of
//! one picture (resized, re-encoded, slightly edited) and bursts of one scene can be grouped and the
//! best of each kept.
//!
//! The hash is the classic DCT "pHash": the photo in grey at 32×32, its 8×8 lowest spatial
//! frequencies, one bit per coefficient above their median. Resizing, re-encoding and small
//! brightness or colour changes barely move those frequencies, so copies differ in a few bits;
//! different photos differ in about half of the 64.

use image::imageops::{self, FilterType};
use image::{GrayImage, RgbImage};

/// Hashes at most this many bits apart are copies of one picture (resized, re-encoded, lightly
/// edited or blurred); unrelated photos are about 32 apart.
pub const NEAR: u32 = 10;
/// The looser bound for a burst: frames taken within seconds of each other that move a little.
pub const BURST: u32 = 18;

/// The side of the grey square the hash is taken from, and of the low-frequency block kept.
const HASH_SIDE: usize = 32;
const LOW: usize = 8;
/// Sharpness and exposure are measured with the photo fitted into this square, so a photo and its
/// resized copy are judged at the same scale (a smaller copy, scaled up, is softer: rightly so).
const MEASURE_SIDE: u32 = 256;
/// Grey levels at or beyond these count as clipped shadows or highlights.
const CLIPPED_DARK: u8 = 5;
const CLIPPED_BRIGHT: u8 = 250;

/// What near-duplicate finding keeps of a photo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fingerprint {
    /// The 64-bit perceptual hash (compare with [`distance`]).
    pub hash: u64,
    /// The variance of the Laplacian at [`MEASURE_SIDE`]: higher is sharper (a few for a blurred
    /// photo, hundreds to thousands for a sharp one).
    pub sharpness: f32,
    /// 0 (badly exposed: clipped highlights or shadows, far too dark or bright) to 1.
    pub exposure: f32,
}

impl Fingerprint {
    /// One number to pick the best of a group by: sharpness on a log scale (a photo twice as sharp
    /// is better, not twice as good), scaled down by up to half for poor exposure.
    pub fn quality(&self) -> f32 {
        (1.0 + self.sharpness.max(0.0)).ln() * (0.5 + 0.5 * self.exposure.clamp(0.0, 1.0))
    }
}

/// The fingerprint of `image` (any size; an empty image gets an all-zero one).
pub fn fingerprint(image: &RgbImage) -> Fingerprint {
    if image.width() == 0 || image.height() == 0 {
        return Fingerprint { hash: 0, sharpness: 0.0, exposure: 0.0 };
    }
    let grey = imageops::grayscale(image);
    let measured = fitted(&grey, MEASURE_SIDE);
    Fingerprint { hash: hash(&grey), sharpness: sharpness(&measured), exposure: exposure(&measured) }
}

/// How many of the two hashes' bits differ (0 to 64).
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// A photo to group: its hash and when it was taken (or uploaded), in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shot {
    pub hash: u64,
    pub seconds: i64,
}

/// Photos that belong together: indices into the shots given, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub members: Vec<usize>,
    /// Whether a link in it is a burst one (alike at [`BURST`] and close in time), not a copy.
    pub burst: bool,
    /// The most bits apart of the links that joined it, and the seconds its shots span.
    pub widest: u32,
    pub span_secs: i64,
}

/// Groups shots whose hashes are within [`NEAR`] bits (copies), or within [`BURST`] bits and
/// `burst_secs` seconds (a burst); a group is whatever these links connect, two shots at least.
/// Every pair is compared once: n²/2 XORs and bit counts (a workspace of 2 000 photos is two
/// million, a few milliseconds).
pub fn cluster(shots: &[Shot], burst_secs: i64) -> Vec<Cluster> {
    let mut parent: Vec<usize> = (0..shots.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // Per root: (burst, widest) of the links that joined it.
    let mut links: Vec<(bool, u32)> = vec![(false, 0); shots.len()];
    for i in 0..shots.len() {
        for j in i + 1..shots.len() {
            let apart = distance(shots[i].hash, shots[j].hash);
            let burst = match apart {
                d if d <= NEAR => false,
                d if d <= BURST && shots[i].seconds.abs_diff(shots[j].seconds) <= burst_secs.unsigned_abs() => true,
                _ => continue,
            };
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            let joined = (links[a].0 || links[b].0 || burst, links[a].1.max(links[b].1).max(apart));
            parent[b] = a;
            links[a] = joined;
        }
    }
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut index_of_root = vec![usize::MAX; shots.len()];
    for i in 0..shots.len() {
        let r = root(&mut parent, i);
        if index_of_root[r] == usize::MAX {
            index_of_root[r] = clusters.len();
            clusters.push(Cluster { members: Vec::new(), burst: links[r].0, widest: links[r].1, span_secs: 0 });
        }
        clusters[index_of_root[r]].members.push(i);
    }
    clusters.retain(|cluster| cluster.members.len() > 1);
    for cluster in &mut clusters {
        let times = cluster.members.iter().map(|&i| shots[i].seconds);
        cluster.span_secs = times.clone().max().unwrap_or(0) - times.min().unwrap_or(0);
    }
    clusters
}

/// The DCT hash of a grey image.
fn hash(grey: &GrayImage) -> u64 {
    // The triangle filter widens with the scale, so every pixel counts (an average, not a sample).
    let small = imageops::resize(grey, HASH_SIDE as u32, HASH_SIDE as u32, FilterType::Triangle);
    let pixels: Vec<f32> = small.as_raw().iter().map(|&p| f32::from(p)).collect();
    // The DCT-II basis for the low frequencies only: cos((2x + 1) u π / 2N).
    let mut basis = [[0f32; HASH_SIDE]; LOW];
    for (u, row) in basis.iter_mut().enumerate() {
        for (x, value) in row.iter_mut().enumerate() {
            *value = (((2 * x + 1) * u) as f32 * std::f32::consts::PI / (2 * HASH_SIDE) as f32).cos();
        }
    }
    // Rows first, then columns: 32×8 sums of 32, then 8×8 sums of 32.
    let mut rows = [[0f32; LOW]; HASH_SIDE];
    for (y, out) in rows.iter_mut().enumerate() {
        let line = &pixels[y * HASH_SIDE..(y + 1) * HASH_SIDE];
        for (u, value) in out.iter_mut().enumerate() {
            *value = line.iter().zip(&basis[u]).map(|(p, c)| p * c).sum();
        }
    }
    let mut low = [0f32; LOW * LOW];
    for v in 0..LOW {
        for u in 0..LOW {
            low[v * LOW + u] = (0..HASH_SIDE).map(|y| basis[v][y] * rows[y][u]).sum();
        }
    }
    let mut sorted = low;
    sorted.sort_by(f32::total_cmp);
    let median = (sorted[LOW * LOW / 2 - 1] + sorted[LOW * LOW / 2]) / 2.0;
    low.iter().enumerate().filter(|(_, &value)| value > median).fold(0u64, |bits, (i, _)| bits | (1 << i))
}

/// `grey` scaled (up or down) so its longer side is `side`, keeping its shape.
fn fitted(grey: &GrayImage, side: u32) -> GrayImage {
    let (width, height) = grey.dimensions();
    let scale = side as f32 / width.max(height) as f32;
    let scaled = |length: u32| ((length as f32 * scale).round() as u32).clamp(1, side);
    imageops::resize(grey, scaled(width), scaled(height), FilterType::Triangle)
}

/// The variance of the 4-neighbour Laplacian over the image's inner pixels.
fn sharpness(grey: &GrayImage) -> f32 {
    let (width, height) = (grey.width() as usize, grey.height() as usize);
    if width < 3 || height < 3 {
        return 0.0;
    }
    let pixels = grey.as_raw();
    let at = |x: usize, y: usize| f64::from(pixels[y * width + x]);
    let (mut sum, mut squares, mut count) = (0f64, 0f64, 0f64);
    for y in 1..height - 1 {
        for x in 1..width - 1 {
            let laplacian = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y);
            sum += laplacian;
            squares += laplacian * laplacian;
            count += 1.0;
        }
    }
    let mean = sum / count;
    (squares / count - mean * mean).max(0.0) as f32
}

/// 1 for a photo with nothing clipped and a mid-grey mean; each share of clipped pixels costs
/// twice its size, and the mean's distance from mid-grey its size.
fn exposure(grey: &GrayImage) -> f32 {
    let pixels = grey.as_raw();
    if pixels.is_empty() {
        return 0.0;
    }
    let total = pixels.len() as f32;
    let clipped = pixels.iter().filter(|&&p| p <= CLIPPED_DARK || p >= CLIPPED_BRIGHT).count() as f32 / total;
    let mean = pixels.iter().map(|&p| f32::from(p)).sum::<f32>() / total / 255.0;
    (1.0 - 2.0 * clipped - (mean - 0.5).abs()).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use std::path::PathBuf;

    fn fixture(name: &str) -> RgbImage {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures").join(name);
        image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
    }

    fn reencoded(image: &RgbImage, quality: u8) -> RgbImage {
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(image).unwrap();
        image::load_from_memory(&bytes).unwrap().to_rgb8()
    }

    fn brightened(image: &RgbImage, by: i32) -> RgbImage {
        let mut out = image.clone();
        for value in out.iter_mut() {
            *value = (i32::from(*value) + by).clamp(0, 255) as u8;
        }
        out
    }

    #[test]
    fn copies_of_a_photo_are_near() {
        for name in ["chelsea.png", "coffee.png", "astronaut.png"] {
            let original = fixture(name);
            let print = fingerprint(&original);
            let (width, height) = original.dimensions();
            let copies = [
                (
                    "resized to 40 % and re-encoded",
                    reencoded(&imageops::resize(&original, width * 2 / 5, height * 2 / 5, FilterType::Lanczos3), 70),
                ),
                ("re-encoded at quality 50", reencoded(&original, 50)),
                ("brightened", brightened(&original, 20)),
                ("blurred", imageops::blur(&original, 2.0)),
                ("enlarged", imageops::resize(&original, width * 3 / 2, height * 3 / 2, FilterType::CatmullRom)),
            ];
            for (what, copy) in copies {
                let apart = distance(print.hash, fingerprint(&copy).hash);
                assert!(apart <= NEAR, "{name} {what}: {apart} bits apart");
            }
        }
    }

    #[test]
    fn different_photos_are_far() {
        let names = ["chelsea.png", "coffee.png", "astronaut.png"];
        let prints: Vec<_> = names.iter().map(|name| fingerprint(&fixture(name))).collect();
        for i in 0..prints.len() {
            for j in i + 1..prints.len() {
                let apart = distance(prints[i].hash, prints[j].hash);
                assert!(apart > BURST, "{} and {}: only {apart} bits apart", names[i], names[j]);
            }
        }
        // A mirrored photo is another picture as far as the hash is concerned.
        let chelsea = fixture("chelsea.png");
        let apart = distance(prints[0].hash, fingerprint(&imageops::flip_horizontal(&chelsea)).hash);
        assert!(apart > NEAR, "mirrored: {apart}");
    }

    #[test]
    fn a_blurred_copy_is_less_sharp_and_ranks_below_the_original() {
        for name in ["chelsea.png", "coffee.png", "astronaut.png"] {
            let original = fingerprint(&fixture(name));
            let blurred = fingerprint(&imageops::blur(&fixture(name), 2.0));
            assert!(
                blurred.sharpness * 3.0 < original.sharpness,
                "{name}: blurred {} vs {}",
                blurred.sharpness,
                original.sharpness
            );
            assert!(blurred.quality() < original.quality());
        }
    }

    #[test]
    fn a_smaller_copy_is_judged_at_the_same_scale_and_ranks_below_the_original() {
        let original = fixture("chelsea.png");
        let (width, height) = original.dimensions();
        let small = imageops::resize(&original, width * 2 / 5, height * 2 / 5, FilterType::Lanczos3);
        assert!(fingerprint(&small).quality() < fingerprint(&original).quality());
    }

    #[test]
    fn clipped_or_far_too_bright_photos_score_lower_exposure() {
        let original = fixture("coffee.png");
        let good = fingerprint(&original).exposure;
        let blown = fingerprint(&brightened(&original, 140)).exposure;
        let dark = fingerprint(&brightened(&original, -140)).exposure;
        assert!(good > 0.5, "{good}");
        assert!(blown < good / 2.0 && dark < good / 2.0, "good {good}, blown {blown}, dark {dark}");
        // Exposure weighs in the quality: the same sharpness, badly exposed, ranks lower.
        let print = fingerprint(&original);
        assert!(Fingerprint { exposure: 0.1, ..print }.quality() < print.quality());
    }

    #[test]
    fn clusters_join_copies_at_any_time_and_bursts_only_within_seconds() {
        let shot = |hash: u64, seconds: i64| Shot { hash, seconds };
        let copy_of_a = 0b1111; // 4 bits from A
        let burst_of_a = ((1u64 << 14) - 1) << 4; // 14 bits from A, 18 from its copy
        let shots = [
            shot(0, 0),                    // 0: A
            shot(copy_of_a, 10_000),       // 1: a copy of A, days later
            shot(burst_of_a, 3),           // 2: a frame 3 s after A
            shot(u64::MAX, 1),             // 3: unrelated
            shot(burst_of_a << 40, 5_000), // 4: alike to nothing close in time
        ];
        let clusters = cluster(&shots, 5);
        assert_eq!(clusters.len(), 1, "{clusters:?}");
        assert_eq!(clusters[0].members, vec![0, 1, 2]);
        assert!(clusters[0].burst);
        assert_eq!(clusters[0].span_secs, 10_000);
        // The same frames a minute apart are not a burst; the copy still is a copy.
        let apart = [shot(0, 0), shot(copy_of_a, 60), shot(burst_of_a, 120)];
        let clusters = cluster(&apart, 5);
        assert_eq!(clusters, vec![Cluster { members: vec![0, 1], burst: false, widest: 4, span_secs: 60 }]);
        assert!(cluster(&[], 5).is_empty());
    }

    #[test]
    fn distance_counts_differing_bits_and_odd_sizes_do_not_panic() {
        assert_eq!(distance(0, u64::MAX), 64);
        assert_eq!(distance(0b1011, 0b0001), 2);
        assert_eq!(fingerprint(&RgbImage::new(0, 0)), Fingerprint { hash: 0, sharpness: 0.0, exposure: 0.0 });
        for (width, height) in [(1, 1), (1, 500), (2, 2), (700, 3)] {
            let print = fingerprint(&RgbImage::from_pixel(width, height, image::Rgb([120, 130, 140])));
            assert!(print.sharpness.is_finite() && print.exposure.is_finite());
        }
    }
}
