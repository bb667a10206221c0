//! Running a recipe on pixels: the one implementation of every operation (photon-rs plus a
//! few of our own), compiled natively for the server and to WASM for the editor's worker.

pub use photon_rs::PhotonImage;

use crate::{retro, Budget, EditOp, EditRecipe, Filter, RecipeError};

impl EditRecipe {
    /// Applies every step in order; the first invalid step stops the replay with a typed error.
    pub fn apply(&self, image: PhotonImage) -> Result<PhotonImage, RecipeError> {
        self.validate_len()?;
        self.ops.iter().try_fold(image, |image, op| op.apply(image))
    }

    /// `apply` for work someone else asked for: the whole recipe is planned against `budget`
    /// first (so no step can allocate beyond it), and `in_time` is asked before each step.
    pub fn apply_within(
        &self,
        image: PhotonImage,
        budget: Budget,
        mut in_time: impl FnMut() -> bool,
    ) -> Result<PhotonImage, RecipeError> {
        self.plan((image.get_width(), image.get_height()), budget)?;
        self.ops.iter().try_fold(image, |image, op| if in_time() { op.apply(image) } else { Err(RecipeError::TooSlow) })
    }
}

/// Turns by `degrees` with three shears, on a canvas that grows to hold the result (its size is
/// `crate::straightened_size`). A negative turn is a positive one of the mirror image, so both
/// directions get the same compact canvas.
fn straighten(image: &PhotonImage, degrees: f32) -> PhotonImage {
    use photon_rs::transform::{fliph, shearx, sheary};
    if degrees == 0.0 {
        return image.clone();
    }
    if degrees < 0.0 {
        let mut mirrored = image.clone();
        fliph(&mut mirrored);
        let mut turned = straighten(&mirrored, -degrees);
        fliph(&mut turned);
        return turned;
    }
    let theta = degrees.to_radians();
    let (alpha, beta) = (-(theta / 2.0).tan(), theta.sin());
    shearx(&sheary(&shearx(image, alpha), beta), alpha)
}

impl EditOp {
    pub fn apply(&self, mut image: PhotonImage) -> Result<PhotonImage, RecipeError> {
        use photon_rs::{colour_spaces, conv, effects, monochrome, transform};
        self.validate()?;
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
                return Ok(transform::crop(&image, x, y, x + width, y + height));
            }
            EditOp::Rotate { quarter_turns } => {
                return Ok((0..quarter_turns).fold(image, |image, _| rotate_clockwise(&image)));
            }
            EditOp::Straighten { degrees } => return Ok(straighten(&image, degrees)),
            EditOp::Resize { width, height } => {
                return Ok(transform::resize(&image, width, height, transform::SamplingFilter::Lanczos3));
            }
            EditOp::FlipHorizontal => transform::fliph(&mut image),
            EditOp::FlipVertical => transform::flipv(&mut image),
            EditOp::Grayscale => monochrome::grayscale(&mut image),
            EditOp::Brightness { amount } => effects::adjust_brightness(&mut image, amount),
            EditOp::Contrast { amount } => effects::adjust_contrast(&mut image, f32::from(amount) * 2.55),
            EditOp::Saturation { amount } if amount >= 0 => {
                colour_spaces::saturate_hsl(&mut image, f32::from(amount) / 100.0)
            }
            EditOp::Saturation { amount } => colour_spaces::desaturate_hsl(&mut image, f32::from(-amount) / 100.0),
            EditOp::Hue { degrees } => colour_spaces::hue_rotate_hsl(&mut image, f32::from(degrees) / 360.0),
            EditOp::Gamma { value } => colour_spaces::gamma_correction(&mut image, value, value, value),
            EditOp::Sharpen => conv::sharpen(&mut image),
            EditOp::Blur { radius } => conv::gaussian_blur(&mut image, i32::from(radius)),
            EditOp::Vignette { strength } => image = vignette(&image, strength),
            EditOp::Filter { name } => name.apply(&mut image),
            EditOp::FilmGrain { amount, size, seed } => image = retro::film_grain(&image, amount, size, seed),
            EditOp::Halftone { cell } => image = retro::halftone(&image, cell),
            EditOp::Duotone { shadow, highlight } => image = retro::duotone(&image, shadow, highlight),
            EditOp::Posterize { palette, pixel, dither } => image = retro::posterize(&image, palette, pixel, dither),
            EditOp::Vhs { shift, scanlines } => image = retro::vhs(&image, shift, scanlines),
            EditOp::LightLeak { corner, strength, colour } => {
                image = retro::light_leak(&image, corner, strength, colour)
            }
            EditOp::PolaroidFrame { border } => {
                let (width, height) = (image.get_width(), image.get_height());
                return retro::polaroid_frame(&image, border).ok_or_else(|| {
                    let (width, height) = crate::framed_size((u64::from(width), u64::from(height)), border);
                    // Only an image already near the largest size addressable gets here.
                    RecipeError::TooLarge { step: 1, label: self.label(), width, height, limit_megapixels: 0 }
                });
            }
        }
        Ok(image)
    }
}

impl Filter {
    fn apply(self, image: &mut PhotonImage) {
        use photon_rs::{channels, effects, filters, monochrome};
        match self {
            Filter::Neue => filters::neue(image),
            Filter::Lix => filters::lix(image),
            Filter::Ryo => filters::ryo(image),
            Filter::DuotoneViolette => filters::duotone_violette(image),
            Filter::DuotoneHorizon => filters::duotone_horizon(image),
            Filter::DuotoneLilac => filters::duotone_lilac(image),
            Filter::DuotoneOchre => filters::duotone_ochre(image),
            Filter::Sepia => monochrome::sepia(image),
            Filter::Invert => channels::invert(image),
            Filter::Solarize => effects::solarize(image),
            Filter::Primary => effects::primary(image),
            Filter::Normalize => effects::normalize(image),
            // The rest are photon's own named presets.
            other => filters::filter(image, other.key()),
        }
    }
}

/// Darkens each pixel by its squared distance from the centre. Ours, not photon's (it has none),
/// and still the single implementation both sides run.
fn vignette(image: &PhotonImage, strength: u8) -> PhotonImage {
    let (width, height) = (image.get_width(), image.get_height());
    let mut pixels = image.get_raw_pixels();
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let reach = cx * cx + cy * cy;
    let amount = f32::from(strength) / 100.0;
    for (index, pixel) in pixels.chunks_exact_mut(4).enumerate() {
        let x = (index as u32 % width) as f32 + 0.5 - cx;
        let y = (index as u32 / width) as f32 + 0.5 - cy;
        let factor = 1.0 - amount * ((x * x + y * y) / reach);
        for channel in &mut pixel[..3] {
            *channel = (f32::from(*channel) * factor).round().clamp(0.0, 255.0) as u8;
        }
    }
    PhotonImage::new(pixels, width, height)
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
    use crate::{EditRecipe, MAX_SIDE, MAX_STEPS};

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
        let recipe = EditRecipe { ops: vec![EditOp::Rotate { quarter_turns: 3 }, EditOp::Rotate { quarter_turns: 1 }] };
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
        assert!(matches!(apply(EditOp::Brightness { amount: 300 }), Err(RecipeError::OutOfRange { .. })));
    }

    #[test]
    fn invalid_rotation_and_overlong_recipes_are_typed_errors() {
        assert_eq!(apply(EditOp::Rotate { quarter_turns: 4 }).err(), Some(RecipeError::InvalidRotation(4)));
        let long = EditRecipe { ops: vec![EditOp::Grayscale; MAX_STEPS + 1] };
        assert_eq!(long.apply(numbered()).err(), Some(RecipeError::TooManySteps));
    }

    /// A 40×30 gradient with every channel different, for the colour operations.
    fn gradient() -> PhotonImage {
        let pixels =
            (0..30u32).flat_map(|y| (0..40u32).flat_map(move |x| [(x * 6) as u8, (y * 8) as u8, 128, 255])).collect();
        PhotonImage::new(pixels, 40, 30)
    }

    fn mean(image: &PhotonImage) -> f64 {
        let pixels = image.get_raw_pixels();
        let sum: u64 = pixels.chunks(4).flat_map(|p| p[..3].iter().map(|&c| u64::from(c))).sum();
        sum as f64 / (pixels.len() / 4 * 3) as f64
    }

    fn run(op: EditOp, image: PhotonImage) -> PhotonImage {
        op.apply(image).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn resize_gives_exact_dimensions_and_rejects_absurd_sizes() {
        let out = run(EditOp::Resize { width: 17, height: 9 }, gradient());
        assert_eq!((out.get_width(), out.get_height()), (17, 9));
        for (width, height) in [(0, 10), (10, 0), (MAX_SIDE + 1, 1), (MAX_SIDE, MAX_SIDE)] {
            assert_eq!(
                EditOp::Resize { width, height }.apply(gradient()).err(),
                Some(RecipeError::InvalidSize { width, height })
            );
        }
    }

    #[test]
    fn straightening_grows_the_canvas_and_is_bounded() {
        let out = run(EditOp::Straighten { degrees: 10.0 }, gradient());
        assert!(out.get_width() > 40 && out.get_height() > 30, "{}×{}", out.get_width(), out.get_height());
        assert!(matches!(EditOp::Straighten { degrees: 60.0 }.apply(gradient()), Err(RecipeError::OutOfRange { .. })));
        assert!(matches!(
            EditOp::Straighten { degrees: f32::NAN }.apply(gradient()),
            Err(RecipeError::OutOfRange { .. })
        ));
    }

    #[test]
    fn contrast_spreads_values_apart() {
        let spread = |image: &PhotonImage| {
            let reds: Vec<u8> = image.get_raw_pixels().chunks(4).map(|p| p[0]).collect();
            reds.iter().max().unwrap() - reds.iter().min().unwrap()
        };
        let before = spread(&gradient());
        assert!(spread(&run(EditOp::Contrast { amount: 60 }, gradient())) > before);
        assert!(spread(&run(EditOp::Contrast { amount: -60 }, gradient())) < before);
    }

    #[test]
    fn saturation_minus_100_is_grey_and_hue_changes_colours() {
        let grey = run(EditOp::Saturation { amount: -100 }, gradient());
        for pixel in grey.get_raw_pixels().chunks(4) {
            assert!(pixel[0].abs_diff(pixel[1]) <= 1 && pixel[1].abs_diff(pixel[2]) <= 1, "{pixel:?}");
        }
        let shifted = run(EditOp::Hue { degrees: 120 }, gradient());
        assert_ne!(shifted.get_raw_pixels(), gradient().get_raw_pixels());
        assert!(matches!(EditOp::Hue { degrees: 181 }.apply(gradient()), Err(RecipeError::OutOfRange { .. })));
    }

    #[test]
    fn gamma_above_one_brightens_and_below_one_darkens() {
        let before = mean(&gradient());
        assert!(mean(&run(EditOp::Gamma { value: 2.0 }, gradient())) > before);
        assert!(mean(&run(EditOp::Gamma { value: 0.5 }, gradient())) < before);
        assert!(matches!(EditOp::Gamma { value: 0.0 }.apply(gradient()), Err(RecipeError::OutOfRange { .. })));
    }

    #[test]
    fn blur_smooths_and_sharpen_keeps_dimensions() {
        let edges = |image: &PhotonImage| -> u64 {
            let pixels = image.get_raw_pixels();
            pixels.chunks(4).zip(pixels.chunks(4).skip(1)).map(|(a, b)| u64::from(a[0].abs_diff(b[0]))).sum()
        };
        let mut stripes = PhotonImage::new(
            (0..40 * 30).flat_map(|i| if i % 2 == 0 { [0, 0, 0, 255] } else { [255, 255, 255, 255] }).collect(),
            40,
            30,
        );
        let before = edges(&stripes);
        stripes = run(EditOp::Blur { radius: 2 }, stripes);
        assert!(edges(&stripes) < before / 2);
        let sharp = run(EditOp::Sharpen, gradient());
        assert_eq!((sharp.get_width(), sharp.get_height()), (40, 30));
        assert!(matches!(EditOp::Blur { radius: 0 }.apply(gradient()), Err(RecipeError::OutOfRange { .. })));
    }

    #[test]
    fn vignette_darkens_corners_more_than_the_centre() {
        let flat = PhotonImage::new(vec![200; 40 * 30 * 4], 40, 30);
        let out = run(EditOp::Vignette { strength: 80 }, flat);
        let pixels = out.get_raw_pixels();
        let at = |x: usize, y: usize| pixels[(y * 40 + x) * 4];
        assert!(at(0, 0) < 80, "corner {}", at(0, 0));
        assert!(at(20, 15) >= 199, "centre {}", at(20, 15));
    }

    #[test]
    fn there_are_at_least_thirty_filters_and_each_changes_the_photo() {
        assert!(Filter::ALL.len() >= 30);
        for &name in Filter::ALL {
            let out = run(EditOp::Filter { name }, gradient());
            assert_eq!((out.get_width(), out.get_height()), (40, 30), "{name:?}");
            assert_ne!(out.get_raw_pixels(), gradient().get_raw_pixels(), "{name:?} changed nothing");
            let json = serde_json::to_string(&EditOp::Filter { name }).unwrap();
            assert!(json.contains(name.key()), "{json}");
        }
    }

    #[test]
    fn a_scaled_recipe_fits_the_scaled_image() {
        let recipe = EditRecipe {
            ops: vec![
                EditOp::Crop { x: 3, y: 1, width: 37, height: 29 },
                EditOp::Blur { radius: 3 },
                EditOp::Resize { width: 30, height: 21 },
            ],
        };
        let half = recipe.scaled(0.5);
        assert_eq!(half.ops[0], EditOp::Crop { x: 1, y: 0, width: 18, height: 14 });
        assert_eq!(half.ops[1], EditOp::Blur { radius: 1 });
        let small = PhotonImage::new(vec![90; 20 * 15 * 4], 20, 15);
        let out = half.apply(small).unwrap();
        assert_eq!((out.get_width(), out.get_height()), (15, 10));
        assert_eq!(recipe.scaled(1.0), recipe);
    }

    #[test]
    fn output_size_matches_what_apply_produces() {
        let recipe = EditRecipe {
            ops: vec![
                EditOp::Crop { x: 2, y: 2, width: 30, height: 20 },
                EditOp::Rotate { quarter_turns: 1 },
                EditOp::Filter { name: Filter::Golden },
                EditOp::Resize { width: 10, height: 14 },
                EditOp::Rotate { quarter_turns: 3 },
            ],
        };
        let out = recipe.apply(gradient()).unwrap();
        assert_eq!(recipe.output_size((40, 30)), Some((out.get_width(), out.get_height())));
        for degrees in [0.3, 1.0, -1.0, 3.0, -7.5, 12.25, 30.0, -44.9, 45.0, -45.0] {
            let straighten =
                EditRecipe { ops: vec![EditOp::Straighten { degrees }, EditOp::Rotate { quarter_turns: 1 }] };
            let out = straighten.apply(gradient()).unwrap();
            assert_eq!(straighten.output_size((40, 30)), Some((out.get_width(), out.get_height())), "{degrees}°");
        }
    }

    #[test]
    fn a_straighten_chain_beyond_the_pixel_cap_is_refused_before_any_pixel_moves() {
        let chain = EditRecipe { ops: vec![EditOp::Straighten { degrees: 45.0 }; 8] };
        let budget = Budget::for_pixels(64_000_000);
        let error = chain.plan((64, 64), budget).unwrap_err();
        assert!(matches!(error, RecipeError::TooLarge { step: 7, .. }), "{error}");
        assert!(error.to_string().contains("64-megapixel limit"), "{error}");
        // The replay refuses it too, and quickly: planning allocates nothing.
        let image = PhotonImage::new(vec![0; 64 * 64 * 4], 64, 64);
        assert!(matches!(chain.apply_within(image, budget, || true), Err(RecipeError::TooLarge { .. })));
        let resize = EditRecipe { ops: vec![EditOp::Resize { width: 10_000, height: 10_000 }] };
        assert!(matches!(resize.plan((64, 64), budget), Err(RecipeError::TooLarge { step: 1, .. })));
    }

    #[test]
    fn a_negative_straighten_mirrors_the_positive_one() {
        let left = EditOp::Straighten { degrees: -10.0 }.apply(gradient()).unwrap();
        let right = EditOp::Straighten { degrees: 10.0 }.apply(gradient()).unwrap();
        assert_eq!((left.get_width(), left.get_height()), (right.get_width(), right.get_height()));
        assert!(left.get_width() < 60, "a 10° turn of 40×30 stays compact: {}", left.get_width());
    }

    #[test]
    fn the_work_budget_and_the_time_limit_stop_a_replay() {
        let many = EditRecipe { ops: vec![EditOp::Blur { radius: 100 }; 300] };
        let budget = Budget::for_pixels(40 * 30);
        assert_eq!(many.plan((40, 30), budget), Err(RecipeError::TooMuchWork));
        let few = EditRecipe { ops: vec![EditOp::Grayscale; 3] };
        let mut steps = 0;
        let out = few.apply_within(gradient(), budget, || {
            steps += 1;
            steps < 3
        });
        assert_eq!(out.err(), Some(RecipeError::TooSlow));
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
