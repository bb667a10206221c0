//! Tags and alt-text without a captioning model: COCO object detections, a face count, dominant
//! colours and camera facts, turned into tags and one plain sentence the person can edit.

use image::imageops::{self, FilterType};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::tensor::{expect_len, nchw, nhwc};
use crate::{AiError, Engine, Progress};

pub const FACES: &str = "face-short";
pub const OBJECTS: &str = "centernet";

/// Camera facts read from an upload's EXIF before it is stripped. Location is never kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraFacts {
    pub camera: Option<String>,
    /// `YYYY-MM-DD`.
    pub taken: Option<String>,
    pub focal_length_mm: Option<f32>,
    pub exposure: Option<String>,
    pub f_number: Option<f32>,
    pub iso: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub label: String,
    pub score: f32,
    /// Normalised 0..1: x, y, width, height.
    pub bbox: [f32; 4],
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Description {
    pub tags: Vec<String>,
    pub alt_text: String,
    pub objects: Vec<Detection>,
    pub faces: usize,
    /// Colour names, most covering first, with their share of the photo.
    pub colours: Vec<(String, f32)>,
    /// Which parts ran, e.g. "objects: centernet" or "faces: not installed".
    pub sources: Vec<String>,
}

/// Describes `image`. Detectors whose models are not installed are skipped and named in
/// `sources`, so a partial install still yields colours and camera tags.
pub fn describe(
    engine: &Engine,
    image: &RgbImage,
    camera: Option<&CameraFacts>,
    progress: &dyn Progress,
) -> Result<Description, AiError> {
    let mut description = Description::default();
    progress.step(0.05)?;
    if engine.is_installed(OBJECTS) {
        description.objects = objects(engine, image)?;
        description.sources.push(format!("objects: {OBJECTS}"));
    } else {
        description.sources.push(format!("objects: {OBJECTS} not installed"));
    }
    progress.step(0.5)?;
    if engine.is_installed(FACES) {
        description.faces = faces(engine, image)?.len();
        description.sources.push(format!("faces: {FACES}"));
    } else {
        description.sources.push(format!("faces: {FACES} not installed"));
    }
    progress.step(0.8)?;
    description.colours = dominant_colours(image);
    description.sources.push("colours: k-means".into());
    description.tags = tags(&description, camera);
    description.alt_text = sentence(&description, camera);
    progress.step(1.0)?;
    Ok(description)
}

/// COCO-80 objects from CenterNet: [1,512,512,3] 0..255 in, [1,100,6] out: x1,y1,x2,y2 in pixels
/// of the 512² input, score, class index. The model does no suppression, so it is done here.
pub fn objects(engine: &Engine, image: &RgbImage) -> Result<Vec<Detection>, AiError> {
    let input = nhwc(&imageops::resize(image, 512, 512, FilterType::Triangle), |_, v| f32::from(v));
    let outputs = engine.run(OBJECTS, vec![input])?;
    let out = outputs
        .iter()
        .find(|o| o.shape.last() == Some(&6))
        .ok_or_else(|| AiError::ModelInvalid { model: OBJECTS.into(), detail: "no [N,6] detections output".into() })?;
    let mut found: Vec<Detection> = Vec::new();
    for row in out.data.chunks_exact(6) {
        let (score, class) = (row[4], row[5]);
        if score < 0.3 || !class.is_finite() || class < 0.0 {
            continue;
        }
        let Some(label) = COCO.get(class as usize) else { continue };
        let [x1, y1, x2, y2] = [row[0], row[1], row[2], row[3]].map(|v| (v / 512.0).clamp(0.0, 1.0));
        let bbox = [x1, y1, (x2 - x1).max(0.0), (y2 - y1).max(0.0)];
        // Rows come sorted by score: keep one unless a better one of its class overlaps it.
        if found.iter().all(|kept| kept.label != *label || iou(&kept.bbox, &bbox) < 0.4) {
            found.push(Detection { label: (*label).into(), score, bbox });
        }
    }
    Ok(found)
}

/// Faces from MediaPipe's short-range BlazeFace: [1,3,128,128] −1..1 (photo letterboxed to a
/// square) in; 896 anchors' boxes and scores out. Each face is x, y, width, height in fractions of
/// the photo (a box may reach past its edge). The short-range model finds faces that fill a fair
/// part of the frame (selfies, portraits, people within a few metres); a face smaller than about a
/// tenth of the photo's longer side is mostly missed.
pub fn faces(engine: &Engine, image: &RgbImage) -> Result<Vec<[f32; 4]>, AiError> {
    let (w, h) = image.dimensions();
    let side = w.max(h).max(1);
    let mut square = RgbImage::new(side, side);
    imageops::replace(&mut square, image, i64::from((side - w) / 2), i64::from((side - h) / 2));
    let small = imageops::resize(&square, 128, 128, FilterType::Triangle);
    let input = nchw(&small, |_, v| f32::from(v) / 127.5 - 1.0);
    let outputs = engine.run(FACES, vec![input])?;
    let regressors = outputs.iter().find(|o| o.shape.last() == Some(&16));
    let logits = outputs.iter().find(|o| o.shape.last() == Some(&1));
    let (Some(regressors), Some(logits)) = (regressors, logits) else {
        return Err(AiError::ModelInvalid {
            model: FACES.into(),
            detail: "expected [1,896,16] and [1,896,1] outputs".into(),
        });
    };
    let anchors = blazeface_anchors();
    expect_len(FACES, &regressors.data, anchors.len() * 16)?;
    expect_len(FACES, &logits.data, anchors.len())?;
    let mut boxes: Vec<([f32; 4], f32)> = Vec::new();
    for (i, (ax, ay)) in anchors.iter().enumerate() {
        let score = 1.0 / (1.0 + (-logits.data[i].clamp(-100.0, 100.0)).exp());
        if score < 0.6 {
            continue;
        }
        let r = &regressors.data[i * 16..i * 16 + 4];
        let (cx, cy, bw, bh) = (ax + r[0] / 128.0, ay + r[1] / 128.0, r[2] / 128.0, r[3] / 128.0);
        boxes.push(([cx - bw / 2.0, cy - bh / 2.0, bw, bh], score));
    }
    Ok(non_max_suppression(boxes, 0.3).into_iter().map(|face| unletterboxed(face, (w, h))).collect())
}

/// A box in fractions of the letterboxed square as fractions of the photo inside it.
fn unletterboxed([x, y, bw, bh]: [f32; 4], (w, h): (u32, u32)) -> [f32; 4] {
    let side = w.max(h).max(1);
    let (pad_x, pad_y) = ((side - w) / 2, (side - h) / 2);
    let (side, w, h) = (side as f32, w.max(1) as f32, h.max(1) as f32);
    [(x * side - pad_x as f32) / w, (y * side - pad_y as f32) / h, bw * side / w, bh * side / h]
}

/// The 896 anchor centres of the short-range model: a 16×16 grid with 2 anchors per cell, then an
/// 8×8 grid with 6.
fn blazeface_anchors() -> Vec<(f32, f32)> {
    let mut anchors = Vec::with_capacity(896);
    for (grid, per_cell) in [(16usize, 2usize), (8, 6)] {
        for y in 0..grid {
            for x in 0..grid {
                for _ in 0..per_cell {
                    anchors.push(((x as f32 + 0.5) / grid as f32, (y as f32 + 0.5) / grid as f32));
                }
            }
        }
    }
    anchors
}

fn non_max_suppression(mut boxes: Vec<([f32; 4], f32)>, iou_limit: f32) -> Vec<[f32; 4]> {
    boxes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut kept: Vec<[f32; 4]> = Vec::new();
    for (candidate, _) in boxes {
        if kept.iter().all(|k| iou(k, &candidate) < iou_limit) {
            kept.push(candidate);
        }
    }
    kept
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let iy = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Dominant colours by k-means (k = 5) on a 64 px thumbnail, named and merged, each with its share.
pub fn dominant_colours(image: &RgbImage) -> Vec<(String, f32)> {
    let small = imageops::resize(image, 64, 64, FilterType::Triangle);
    let points: Vec<[f32; 3]> = small.pixels().map(|p| [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]).collect();
    if points.is_empty() {
        return Vec::new();
    }
    let mut sorted = points.clone();
    sorted.sort_by(|a, b| (a[0] + a[1] + a[2]).total_cmp(&(b[0] + b[1] + b[2])));
    const K: usize = 5;
    let mut centres: Vec<[f32; 3]> = (0..K).map(|k| sorted[(k * 2 + 1) * sorted.len() / (2 * K)]).collect();
    let mut assignment = vec![0usize; points.len()];
    for _ in 0..10 {
        for (slot, p) in assignment.iter_mut().zip(&points) {
            *slot = (0..K).min_by(|&a, &b| distance(p, &centres[a]).total_cmp(&distance(p, &centres[b]))).unwrap_or(0);
        }
        for (k, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&[f32; 3]> =
                points.iter().zip(&assignment).filter(|(_, a)| **a == k).map(|(p, _)| p).collect();
            if !members.is_empty() {
                *centre = std::array::from_fn(|c| members.iter().map(|m| m[c]).sum::<f32>() / members.len() as f32);
            }
        }
    }
    let mut shares: Vec<(String, f32)> = Vec::new();
    for (k, centre) in centres.iter().enumerate() {
        let share = assignment.iter().filter(|a| **a == k).count() as f32 / points.len() as f32;
        let name = colour_name(*centre);
        match shares.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 += share,
            None => shares.push((name.into(), share)),
        }
    }
    shares.retain(|(_, share)| *share >= 0.08);
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    shares
}

fn distance(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum()
}

/// A plain colour word for an sRGB value, by hue, saturation and lightness.
pub fn colour_name([r, g, b]: [f32; 3]) -> &'static str {
    let (r, g, b) = (r / 255.0, g / 255.0, b / 255.0);
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let lightness = (max + min) / 2.0;
    let chroma = max - min;
    if lightness < 0.12 {
        return "black";
    }
    if chroma < 0.1 || (chroma < 0.15 && lightness > 0.85) {
        return if lightness > 0.85 { "white" } else { "grey" };
    }
    let hue = if max == r {
        60.0 * ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / chroma + 2.0)
    } else {
        60.0 * ((r - g) / chroma + 4.0)
    };
    match hue {
        h if !(15.0..345.0).contains(&h) => {
            if lightness > 0.7 {
                "pink"
            } else {
                "red"
            }
        }
        h if h < 45.0 => {
            if lightness < 0.45 {
                "brown"
            } else if lightness > 0.75 {
                "beige"
            } else {
                "orange"
            }
        }
        h if h < 70.0 => {
            if lightness < 0.35 {
                "brown"
            } else {
                "yellow"
            }
        }
        h if h < 160.0 => "green",
        h if h < 200.0 => "teal",
        h if h < 255.0 => "blue",
        h if h < 290.0 => "purple",
        _ => "pink",
    }
}

fn tags(description: &Description, camera: Option<&CameraFacts>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut add = |tag: String| {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    };
    for detection in &description.objects {
        add(detection.label.clone());
    }
    match description.faces {
        0 => {}
        1 => add("portrait".into()),
        _ => add("group".into()),
    }
    for (name, _) in description.colours.iter().take(3) {
        add(name.clone());
    }
    if let Some(camera) = camera {
        if let Some(model) = &camera.camera {
            add(model.clone());
        }
        if let Some(year) = camera.taken.as_deref().and_then(|d| d.get(..4)) {
            add(year.into());
        }
    }
    tags
}

fn sentence(description: &Description, camera: Option<&CameraFacts>) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for detection in &description.objects {
        match counts.iter_mut().find(|(label, _)| *label == detection.label) {
            Some(entry) => entry.1 += 1,
            None => counts.push((detection.label.clone(), 1)),
        }
    }
    let subjects: Vec<String> = counts.iter().take(4).map(|(label, n)| counted(label, *n)).collect();
    let mut text = if subjects.is_empty() { "A photo".to_string() } else { format!("A photo of {}", list(&subjects)) };
    let colours: Vec<String> = description.colours.iter().take(2).map(|(name, _)| name.clone()).collect();
    if !colours.is_empty() {
        text.push_str(&format!(", mostly {}", list(&colours).replace(", and", " and")));
    }
    match description.faces {
        0 => {}
        1 => text.push_str(", with one face visible"),
        n => text.push_str(&format!(", with {n} faces visible")),
    }
    text.push('.');
    if let Some(camera) = camera {
        match (&camera.taken, &camera.camera) {
            (Some(taken), Some(model)) => text.push_str(&format!(" Taken on {taken} with a {model}.")),
            (Some(taken), None) => text.push_str(&format!(" Taken on {taken}.")),
            (None, Some(model)) => text.push_str(&format!(" Taken with a {model}.")),
            (None, None) => {}
        }
    }
    text
}

fn counted(label: &str, n: usize) -> String {
    if n == 1 {
        let article = if label.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        return format!("{article} {label}");
    }
    let plural = match label {
        "person" => "people".to_string(),
        "mouse" => "mice".to_string(),
        "sheep" | "skis" | "scissors" => label.to_string(),
        "knife" => "knives".to_string(),
        l if l.ends_with('s') || l.ends_with("sh") || l.ends_with("ch") || l.ends_with('x') => format!("{l}es"),
        l => format!("{l}s"),
    };
    let number = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        .get(n)
        .map_or(n.to_string(), |w| w.to_string());
    format!("{number} {plural}")
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The COCO-80 class names, in the detectors' index order.
pub const COCO: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_boxes_are_told_in_fractions_of_the_photo_not_of_its_letterbox() {
        // A 200 × 100 photo sits in a 200² square with 50 px bands above and below.
        assert_eq!(unletterboxed([0.25, 0.25, 0.5, 0.5], (200, 100)), [0.25, 0.0, 0.5, 1.0]);
        assert_eq!(unletterboxed([0.25, 0.25, 0.5, 0.5], (100, 200)), [0.0, 0.25, 1.0, 0.5]);
        assert_eq!(unletterboxed([0.1, 0.2, 0.3, 0.4], (64, 64)), [0.1, 0.2, 0.3, 0.4]);
    }

    #[test]
    fn colour_names_are_plain_words() {
        assert_eq!(colour_name([250.0, 250.0, 250.0]), "white");
        assert_eq!(colour_name([10.0, 10.0, 10.0]), "black");
        assert_eq!(colour_name([128.0, 128.0, 128.0]), "grey");
        assert_eq!(colour_name([220.0, 30.0, 30.0]), "red");
        assert_eq!(colour_name([30.0, 60.0, 200.0]), "blue");
        assert_eq!(colour_name([40.0, 160.0, 40.0]), "green");
    }

    #[test]
    fn the_sentence_counts_and_lists() {
        let description = Description {
            objects: vec![
                Detection { label: "person".into(), score: 0.9, bbox: [0.0; 4] },
                Detection { label: "person".into(), score: 0.8, bbox: [0.0; 4] },
                Detection { label: "umbrella".into(), score: 0.7, bbox: [0.0; 4] },
            ],
            faces: 2,
            colours: vec![("blue".into(), 0.5), ("white".into(), 0.3)],
            ..Default::default()
        };
        let camera =
            CameraFacts { camera: Some("Canon EOS 5D".into()), taken: Some("2024-05-12".into()), ..Default::default() };
        assert_eq!(
            sentence(&description, Some(&camera)),
            "A photo of two people and an umbrella, mostly blue and white, with 2 faces visible. Taken on 2024-05-12 with a Canon EOS 5D."
        );
        assert_eq!(
            tags(&description, Some(&camera)),
            ["person", "umbrella", "group", "blue", "white", "Canon EOS 5D", "2024"]
        );
    }

    #[test]
    fn dominant_colours_of_a_two_colour_image() {
        let image =
            RgbImage::from_fn(
                40,
                40,
                |x, _| if x < 30 { image::Rgb([20, 40, 200]) } else { image::Rgb([250, 250, 250]) },
            );
        let colours = dominant_colours(&image);
        assert_eq!(colours[0].0, "blue");
        assert!((colours[0].1 - 0.75).abs() < 0.08, "{colours:?}");
        assert!(colours.iter().any(|(name, _)| name == "white"), "{colours:?}");
    }
}
