//! The product scene's options ("AI product photography"): the product, cut out by background
//! removal, placed on a backdrop with shadows, a reflection and matched light. The pixels are in
//! `ai::scene`; this is what the panel and pipelines ask for.

use serde::{Deserialize, Serialize};

use crate::ids::PhotoId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scene {
    pub backdrop: SceneBackdrop,
    /// The scene's size in pixels.
    pub width: u32,
    pub height: u32,
    /// The empty border on each side, as a share of the frame (0–0.4): 0.075 makes the product
    /// fill 85%, as Amazon asks.
    pub margin: f32,
    /// Stands on the floor line instead of floating in the middle.
    pub on_floor: bool,
    /// Opacity of the soft shadow under the product (0 = none).
    pub contact_shadow: f32,
    pub cast_shadow: Option<CastShadow>,
    /// Opacity of a mirror image below the product (0 = none).
    pub reflection: f32,
    /// How far the product's white balance and exposure move toward the backdrop's (0–1).
    pub match_light: f32,
}

impl Default for Scene {
    fn default() -> Self {
        Self {
            backdrop: SceneBackdrop::Colour { hex: "#ffffff".into() },
            width: 2000,
            height: 2000,
            margin: 0.075,
            on_floor: false,
            contact_shadow: 0.3,
            cast_shadow: None,
            reflection: 0.0,
            match_light: 0.0,
        }
    }
}

/// A shadow cast on the floor from the product's own silhouette.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CastShadow {
    /// Degrees from straight back, -80 (left) to 80 (right).
    pub angle: f32,
    /// Its length as a share of the product's height, 0.1–1.5.
    pub length: f32,
    /// Blur as a share of the product's height, 0–0.2.
    pub softness: f32,
    /// 0–1.
    pub opacity: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SceneBackdrop {
    /// `#rrggbb`.
    Colour {
        hex: String,
    },
    Gradient {
        top: String,
        bottom: String,
    },
    /// A studio sweep: the wall bends softly into the floor.
    Studio {
        wall: String,
        floor: String,
    },
    Surface {
        texture: Surface,
    },
    /// Another photo of the same workspace, scaled to cover.
    Photo {
        id: PhotoId,
    },
    /// Painted from a prompt by a configured image service, at the scene's shape.
    Generated {
        painted: crate::ai_tools::ServicePrompt,
    },
}

/// The surfaces Atelier draws itself (no image files, nothing under another licence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Surface {
    Wood,
    Marble,
    Linen,
    Concrete,
}

impl Surface {
    pub const ALL: [Surface; 4] = [Surface::Wood, Surface::Marble, Surface::Linen, Surface::Concrete];

    pub fn label(self) -> &'static str {
        match self {
            Surface::Wood => "Wood",
            Surface::Marble => "Marble",
            Surface::Linen => "Linen",
            Surface::Concrete => "Concrete",
        }
    }
}

/// The largest scene side, and the most pixels (as `ai::scene::MAX_PIXELS`).
pub const MAX_SCENE_SIDE: u32 = 6000;
pub const MAX_SCENE_PIXELS: u64 = 40_000_000;

/// `#rrggbb` as RGB.
pub fn parse_hex(hex: &str) -> Option<[u8; 3]> {
    let digits = hex.strip_prefix('#')?;
    if digits.len() != 6 || !digits.is_ascii() {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

impl Scene {
    /// Every number within its range and every colour readable, or what is wrong, in words.
    pub fn validate(&self) -> Result<(), String> {
        let (w, h) = (self.width, self.height);
        if w == 0
            || h == 0
            || w > MAX_SCENE_SIDE
            || h > MAX_SCENE_SIDE
            || u64::from(w) * u64::from(h) > MAX_SCENE_PIXELS
        {
            return Err(format!(
                "A scene is 1 to {MAX_SCENE_SIDE} pixels a side and at most {} megapixels.",
                MAX_SCENE_PIXELS / 1_000_000
            ));
        }
        let within = |value: f32, low: f32, high: f32, what: &str| {
            if value.is_finite() && (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("The {what} is {low} to {high}."))
            }
        };
        within(self.margin, 0.0, 0.4, "margin")?;
        within(self.contact_shadow, 0.0, 1.0, "contact shadow")?;
        within(self.reflection, 0.0, 1.0, "reflection")?;
        within(self.match_light, 0.0, 1.0, "light matching")?;
        if let Some(cast) = &self.cast_shadow {
            within(cast.angle, -80.0, 80.0, "shadow angle")?;
            within(cast.length, 0.1, 1.5, "shadow length")?;
            within(cast.softness, 0.0, 0.2, "shadow softness")?;
            within(cast.opacity, 0.0, 1.0, "shadow opacity")?;
        }
        let colours: Vec<&str> = match &self.backdrop {
            SceneBackdrop::Colour { hex } => vec![hex],
            SceneBackdrop::Gradient { top, bottom } => vec![top, bottom],
            SceneBackdrop::Studio { wall, floor } => vec![wall, floor],
            SceneBackdrop::Generated { painted } => {
                painted.check()?;
                Vec::new()
            }
            SceneBackdrop::Surface { .. } | SceneBackdrop::Photo { .. } => Vec::new(),
        };
        if colours.iter().any(|hex| parse_hex(hex).is_none()) {
            return Err("Colours must look like #1a2b3c.".into());
        }
        Ok(())
    }

    /// "on white", "on marble", … for labels.
    pub fn label(&self) -> String {
        match &self.backdrop {
            SceneBackdrop::Colour { hex } if hex.eq_ignore_ascii_case("#ffffff") => "on white".into(),
            SceneBackdrop::Colour { hex } => format!("on {hex}"),
            SceneBackdrop::Gradient { .. } => "on a gradient".into(),
            SceneBackdrop::Studio { .. } => "in a studio sweep".into(),
            SceneBackdrop::Surface { texture } => format!("on {}", texture.label().to_lowercase()),
            SceneBackdrop::Photo { .. } => "on a photo".into(),
            SceneBackdrop::Generated { painted } => {
                let words: Vec<&str> = painted.prompt.split_whitespace().take(5).collect();
                format!("on “{}”", words.join(" "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_checked_in_words() {
        assert_eq!(Scene::default().validate(), Ok(()));
        let bad = |scene: Scene| scene.validate().unwrap_err();
        assert!(bad(Scene { width: 0, ..Scene::default() }).contains("pixels a side"));
        assert!(bad(Scene { width: 7000, height: 6000, ..Scene::default() }).contains("megapixels"));
        assert!(bad(Scene { margin: f32::NAN, ..Scene::default() }).contains("margin"));
        let gradient = SceneBackdrop::Gradient { top: "#fff".into(), bottom: "#000000".into() };
        assert!(bad(Scene { backdrop: gradient, ..Scene::default() }).contains("#1a2b3c"));
        let cast = CastShadow { angle: 100.0, length: 0.5, softness: 0.05, opacity: 0.4 };
        assert!(bad(Scene { cast_shadow: Some(cast), ..Scene::default() }).contains("angle"));
        assert_eq!(parse_hex("#ff8000"), Some([255, 128, 0]));
    }
}
