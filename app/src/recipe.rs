//! The edit recipe: an ordered list of operations, and the single implementation of each.
//!
//! The browser applies a recipe live to the canvas (this module compiled to WASM) and the server
//! replays the very same code natively on the full-resolution original when a version is saved.

pub use photon_rs::PhotonImage;
use serde::{Deserialize, Serialize};

/// Enough for any real editing session; bounds the work a single request can ask for.
pub const MAX_STEPS: usize = 500;
/// photon's brightness works on 8-bit channels.
pub const MAX_BRIGHTNESS: i16 = 255;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EditRecipe {
    pub ops: Vec<EditOp>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EditOp {
    /// Keep the rectangle whose top-left corner is (`x`, `y`).
    Crop { x: u32, y: u32, width: u32, height: u32 },
    /// Clockwise quarter turns: 1 = 90°, 2 = 180°, 3 = 270°.
    Rotate { quarter_turns: u8 },
    FlipHorizontal,
    FlipVertical,
    Grayscale,
    /// Added to every colour channel, -255..=255.
    Brightness { amount: i16 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum RecipeError {
    #[error("a recipe holds at most {MAX_STEPS} steps")]
    TooManySteps,
    #[error("the crop must be at least one pixel wide and high")]
    EmptyCrop,
    #[error("the crop {width}×{height} at ({x}, {y}) lies outside the {image_width}×{image_height} image")]
    CropOutside { x: u32, y: u32, width: u32, height: u32, image_width: u32, image_height: u32 },
    #[error("rotation must be 1 to 3 quarter turns, not {0}")]
    InvalidRotation(u8),
    #[error("brightness must be between -{MAX_BRIGHTNESS} and {MAX_BRIGHTNESS}, not {0}")]
    BrightnessOutOfRange(i16),
}

impl EditRecipe {
    pub fn validate_len(&self) -> Result<(), RecipeError> {
        if self.ops.len() > MAX_STEPS {
            return Err(RecipeError::TooManySteps);
        }
        Ok(())
    }

    /// Applies every step in order; the first invalid step stops the replay with a typed error.
    pub fn apply(&self, image: PhotonImage) -> Result<PhotonImage, RecipeError> {
        self.validate_len()?;
        self.ops.iter().try_fold(image, |image, op| op.apply(image))
    }
}

impl EditOp {
    pub fn apply(&self, mut image: PhotonImage) -> Result<PhotonImage, RecipeError> {
        match *self {
            EditOp::Crop { x, y, width, height } => {
                if width == 0 || height == 0 {
                    return Err(RecipeError::EmptyCrop);
                }
                let (image_width, image_height) = (image.get_width(), image.get_height());
                let fits = x.checked_add(width).is_some_and(|right| right <= image_width)
                    && y.checked_add(height).is_some_and(|bottom| bottom <= image_height);
                if !fits {
                    return Err(RecipeError::CropOutside { x, y, width, height, image_width, image_height });
                }
                Ok(photon_rs::transform::crop(&image, x, y, x + width, y + height))
            }
            EditOp::Rotate { quarter_turns } => match quarter_turns {
                1..=3 => Ok((0..quarter_turns).fold(image, |image, _| rotate_clockwise(&image))),
                other => Err(RecipeError::InvalidRotation(other)),
            },
            EditOp::FlipHorizontal => {
                photon_rs::transform::fliph(&mut image);
                Ok(image)
            }
            EditOp::FlipVertical => {
                photon_rs::transform::flipv(&mut image);
                Ok(image)
            }
            EditOp::Grayscale => {
                photon_rs::monochrome::grayscale(&mut image);
                Ok(image)
            }
            EditOp::Brightness { amount } => {
                if !(-MAX_BRIGHTNESS..=MAX_BRIGHTNESS).contains(&amount) {
                    return Err(RecipeError::BrightnessOutOfRange(amount));
                }
                photon_rs::effects::adjust_brightness(&mut image, amount);
                Ok(image)
            }
        }
    }

    /// A short description for the history list.
    pub fn label(&self) -> String {
        match self {
            EditOp::Crop { width, height, .. } => format!("Crop to {width}×{height}"),
            EditOp::Rotate { quarter_turns } => format!("Rotate {}°", u32::from(*quarter_turns) * 90),
            EditOp::FlipHorizontal => "Flip horizontally".into(),
            EditOp::FlipVertical => "Flip vertically".into(),
            EditOp::Grayscale => "Grayscale".into(),
            EditOp::Brightness { amount } => format!("Brightness {amount:+}"),
        }
    }
}

/// An exact 90° turn on the RGBA buffer. photon's `rotate` shears for arbitrary angles, which is
/// slower and not pixel-exact for right angles.
fn rotate_clockwise(image: &PhotonImage) -> PhotonImage {
    let (width, height) = (image.get_width() as usize, image.get_height() as usize);
    let source = image.get_raw_pixels();
    let mut rotated = vec![0u8; source.len()];
    for y in 0..height {
        for x in 0..width {
            let from = (y * width + x) * 4;
            // Pixel (x, y) lands at column (height - 1 - y), row x of the new width-`height` image.
            let to = (x * height + (height - 1 - y)) * 4;
            rotated[to..to + 4].copy_from_slice(&source[from..from + 4]);
        }
    }
    PhotonImage::new(rotated, height as u32, width as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×2 image whose pixels are numbered 0..6 in the red channel.
    fn numbered() -> PhotonImage {
        let pixels = (0u8..6).flat_map(|n| [n * 10, 100, 200, 255]).collect();
        PhotonImage::new(pixels, 3, 2)
    }

    fn reds(image: &PhotonImage) -> Vec<u8> {
        image.get_raw_pixels().chunks(4).map(|p| p[0]).collect()
    }

    fn apply(op: EditOp) -> Result<PhotonImage, RecipeError> {
        EditRecipe { ops: vec![op] }.apply(numbered())
    }

    #[test]
    fn rotate_quarter_turn_swaps_dimensions_and_moves_pixels_clockwise() {
        let out = apply(EditOp::Rotate { quarter_turns: 1 }).unwrap();
        assert_eq!((out.get_width(), out.get_height()), (2, 3));
        // 0 1 2      3 0
        // 3 4 5  ->  4 1
        //            5 2
        assert_eq!(reds(&out), vec![30, 0, 40, 10, 50, 20]);
    }

    #[test]
    fn four_quarter_turns_are_the_identity() {
        let recipe = EditRecipe {
            ops: vec![EditOp::Rotate { quarter_turns: 3 }, EditOp::Rotate { quarter_turns: 1 }],
        };
        assert_eq!(reds(&recipe.apply(numbered()).unwrap()), reds(&numbered()));
    }

    #[test]
    fn crop_keeps_the_requested_rectangle() {
        let out = apply(EditOp::Crop { x: 1, y: 0, width: 2, height: 2 }).unwrap();
        assert_eq!((out.get_width(), out.get_height()), (2, 2));
        assert_eq!(reds(&out), vec![10, 20, 40, 50]);
    }

    #[test]
    fn crop_outside_the_image_is_a_typed_error() {
        assert!(matches!(
            apply(EditOp::Crop { x: 2, y: 0, width: 2, height: 1 }),
            Err(RecipeError::CropOutside { .. })
        ));
        assert!(matches!(
            apply(EditOp::Crop { x: u32::MAX, y: 0, width: 2, height: 1 }),
            Err(RecipeError::CropOutside { .. })
        ));
        assert_eq!(apply(EditOp::Crop { x: 0, y: 0, width: 0, height: 1 }).err(), Some(RecipeError::EmptyCrop));
    }

    #[test]
    fn flips_mirror_the_pixels() {
        assert_eq!(reds(&apply(EditOp::FlipHorizontal).unwrap()), vec![20, 10, 0, 50, 40, 30]);
        assert_eq!(reds(&apply(EditOp::FlipVertical).unwrap()), vec![30, 40, 50, 0, 10, 20]);
    }

    #[test]
    fn grayscale_makes_channels_equal() {
        let out = apply(EditOp::Grayscale).unwrap();
        for pixel in out.get_raw_pixels().chunks(4) {
            assert_eq!(pixel[0], pixel[1]);
            assert_eq!(pixel[1], pixel[2]);
        }
    }

    #[test]
    fn brightness_raises_channels_and_rejects_out_of_range_amounts() {
        let out = apply(EditOp::Brightness { amount: 20 }).unwrap();
        assert_eq!(out.get_raw_pixels()[..3], [20, 120, 220]);
        assert_eq!(apply(EditOp::Brightness { amount: 300 }).err(), Some(RecipeError::BrightnessOutOfRange(300)));
    }

    #[test]
    fn invalid_rotation_and_overlong_recipes_are_typed_errors() {
        assert_eq!(apply(EditOp::Rotate { quarter_turns: 4 }).err(), Some(RecipeError::InvalidRotation(4)));
        let long = EditRecipe { ops: vec![EditOp::Grayscale; MAX_STEPS + 1] };
        assert_eq!(long.apply(numbered()).err(), Some(RecipeError::TooManySteps));
    }

    #[test]
    fn recipe_round_trips_through_json() {
        let recipe = EditRecipe {
            ops: vec![
                EditOp::Crop { x: 1, y: 2, width: 3, height: 4 },
                EditOp::Rotate { quarter_turns: 2 },
                EditOp::FlipHorizontal,
                EditOp::Brightness { amount: -12 },
            ],
        };
        let json = serde_json::to_string(&recipe).unwrap();
        assert!(json.contains(r#""op":"crop""#), "{json}");
        assert_eq!(serde_json::from_str::<EditRecipe>(&json).unwrap(), recipe);
        assert!(serde_json::from_str::<EditRecipe>(r#"{"ops":[{"op":"melt"}]}"#).is_err());
    }
}
