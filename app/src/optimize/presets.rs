//! Export presets as data: where a photo is going, and what that place asks for. Each rule names
//! its source (the platform's published guidance, as of late 2026); change a number here and
//! every export and test follows. Marketplaces pad the whole product onto white (nothing of it
//! may be cut off); social formats fill their frame and crop.

use super::ExportFormat;

/// How the photo is brought to the preset's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Scaled to fit inside the frame, the rest filled with this colour.
    Pad([u8; 3]),
    /// Scaled to cover the frame, the overflow cropped evenly from both sides.
    Crop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    pub id: &'static str,
    pub name: &'static str,
    /// The output size in pixels.
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    pub format: ExportFormat,
    pub quality: u8,
    /// The most the file may weigh, when the platform sets a limit.
    pub max_kb: Option<u32>,
    /// Where the rule comes from.
    pub source: &'static str,
}

const WHITE: [u8; 3] = [255, 255, 255];

/// How much of a padded frame the product fills, when its subject is found (Amazon product image
/// requirements: "the product must fill 85% or more of the image frame"; the other marketplaces'
/// guidance asks for a product that fills the frame with a little white around it).
pub const PRODUCT_SHARE: f32 = 0.85;

pub const PRESETS: &[Preset] = &[
    Preset { id: "amazon-main", name: "Amazon main image", width: 2000, height: 2000, fit: Fit::Pad(WHITE), format: ExportFormat::Jpeg, quality: 90, max_kb: Some(10 * 1024), source: "Amazon product image requirements: pure white background (RGB 255,255,255), longest side at least 1000 px (1600+ recommended for zoom), JPEG, at most 10 MB" },
    Preset { id: "amazon-additional", name: "Amazon additional image", width: 2000, height: 2000, fit: Fit::Pad(WHITE), format: ExportFormat::Jpeg, quality: 90, max_kb: Some(10 * 1024), source: "Amazon product image requirements: 1000 px or more for zoom, JPEG, at most 10 MB" },
    Preset { id: "shopify-square", name: "Shopify product (square, white)", width: 2048, height: 2048, fit: Fit::Pad(WHITE), format: ExportFormat::Jpeg, quality: 85, max_kb: Some(20 * 1024), source: "Shopify help: 2048 × 2048 px square product images, at most 20 MB" },
    Preset { id: "etsy-listing", name: "Etsy listing", width: 2000, height: 1600, fit: Fit::Pad(WHITE), format: ExportFormat::Jpeg, quality: 85, max_kb: Some(1024), source: "Etsy seller handbook: 2000 px wide, 5:4 thumbnails, under 1 MB" },
    Preset { id: "temu", name: "Temu product", width: 1200, height: 1200, fit: Fit::Pad(WHITE), format: ExportFormat::Jpeg, quality: 85, max_kb: Some(3 * 1024), source: "Temu seller guidance: square, at least 800 × 800 px, white background, at most 3 MB" },
    Preset { id: "ebay", name: "eBay listing", width: 1600, height: 1600, fit: Fit::Pad(WHITE), format: ExportFormat::Jpeg, quality: 85, max_kb: Some(7 * 1024), source: "eBay picture policy: longest side at least 500 px, 1600 px recommended, at most 7 MB" },
    Preset { id: "instagram-square", name: "Instagram square", width: 1080, height: 1080, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 85, max_kb: None, source: "Instagram help: 1080 px wide, 1:1" },
    Preset { id: "instagram-portrait", name: "Instagram portrait", width: 1080, height: 1350, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 85, max_kb: None, source: "Instagram help: 1080 × 1350 px, 4:5" },
    Preset { id: "instagram-story", name: "Instagram story", width: 1080, height: 1920, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 85, max_kb: None, source: "Instagram help: 1080 × 1920 px, 9:16" },
    Preset { id: "facebook-post", name: "Facebook link or post", width: 1200, height: 630, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 85, max_kb: None, source: "Meta sharing guidance: 1200 × 630 px, 1.91:1" },
    Preset { id: "pinterest", name: "Pinterest pin", width: 1000, height: 1500, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 85, max_kb: None, source: "Pinterest creative specs: 1000 × 1500 px, 2:3" },
    Preset { id: "x-post", name: "X (Twitter) post", width: 1600, height: 900, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 85, max_kb: Some(5 * 1024), source: "X media guidance: 16:9, at most 5 MB" },
    Preset { id: "linkedin-post", name: "LinkedIn post", width: 1200, height: 627, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 85, max_kb: None, source: "LinkedIn image specs: 1200 × 627 px, 1.91:1" },
    Preset { id: "web-hero", name: "Web hero image", width: 1920, height: 1080, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 80, max_kb: Some(400), source: "Common practice: full-HD 16:9, kept under about 400 KB for fast pages" },
    Preset { id: "web-thumbnail", name: "Web thumbnail", width: 400, height: 400, fit: Fit::Crop, format: ExportFormat::Jpeg, quality: 80, max_kb: Some(60), source: "Common practice: 400 px square, tens of kilobytes" },
];

pub fn preset(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_found_by_its_id_and_says_where_its_rule_comes_from() {
        for (i, preset) in PRESETS.iter().enumerate() {
            assert_eq!(super::preset(preset.id), Some(preset), "ids are unique");
            assert!(PRESETS[..i].iter().all(|other| other.id != preset.id));
            assert!(!preset.source.is_empty() && !preset.name.is_empty());
            assert!(preset.width > 0 && preset.height > 0 && (1..=100).contains(&preset.quality));
        }
        let amazon = super::preset("amazon-main").unwrap();
        assert_eq!(amazon.fit, Fit::Pad([255, 255, 255]));
        assert!(amazon.width.max(amazon.height) >= 1600, "long enough for Amazon's zoom");
        assert_eq!(super::preset("nope"), None);
    }
}
