//! The tools on the real models (installed by `scripts/install-models`) and the committed
//! fixture photos. Each assertion is about what a person would see go wrong.

use std::path::PathBuf;

use ai::style::{self, Style};
use ai::{describe, faces, inpaint, moderation, upscale, AiError, Engine, EngineConfig, Quiet, UserModel};
use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, RgbImage};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn config(models_dir: PathBuf) -> EngineConfig {
    // The server's setting for the library: the onnxruntime-gpu wheel's one runs these tests on CUDA.
    let runtime = std::env::var_os("ATELIER_ONNXRUNTIME_LIB")
        .map_or_else(|| self::models_dir().join("runtime/libonnxruntime.so"), PathBuf::from);
    EngineConfig {
        manifest: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/manifest.toml"),
        runtime_lib: Some(runtime),
        models_dir,
        lama: None,
    }
}

fn engine() -> Engine {
    Engine::new(config(models_dir())).expect("the manifest reads")
}

fn fixture(name: &str) -> RgbImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures").join(name);
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

fn mean(mask: &GrayImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += u64::from(mask.get_pixel(x, y)[0]);
        }
    }
    sum as f64 / f64::from((x1 - x0) * (y1 - y0)) / 255.0
}

#[test]
fn isnet_mask_covers_the_astronaut_and_not_the_sky_corners() {
    let image = fixture("astronaut.png");
    let mask = ai::background::mask(&engine(), &image, ai::background::Segmenter::Objects, &Quiet).unwrap();
    assert_eq!(mask.dimensions(), image.dimensions());
    assert!(mean(&mask, (180, 90, 270, 170)) > 0.8, "face");
    assert!(mean(&mask, (150, 250, 300, 450)) > 0.8, "body");
    assert!(mean(&mask, (0, 0, 64, 64)) < 0.05, "top-left corner");
    assert!(mean(&mask, (448, 0, 512, 64)) < 0.05, "top-right corner");
}

#[test]
fn portrait_mode_finds_the_person_too() {
    let image = fixture("astronaut.png");
    let mask = ai::background::mask(&engine(), &image, ai::background::Segmenter::Portrait, &Quiet).unwrap();
    assert!(mean(&mask, (180, 90, 270, 170)) > 0.7, "face");
    assert!(mean(&mask, (0, 0, 64, 64)) < 0.1, "top-left corner");
}

#[test]
fn transparent_and_coloured_backdrops() {
    let image = fixture("astronaut.png");
    let engine = engine();
    let options = |backdrop| ai::background::Options {
        segmenter: ai::background::Segmenter::Objects,
        backdrop,
        refine: true,
        feather: 1.0,
    };
    let cut = ai::background::remove(&engine, &image, &options(ai::background::Backdrop::Transparent), &Quiet)
        .unwrap()
        .to_rgba8();
    assert!(cut.get_pixel(10, 10)[3] < 20, "the sky is transparent");
    assert!(cut.get_pixel(220, 130)[3] > 230, "the face is opaque");
    let green =
        ai::background::remove(&engine, &image, &options(ai::background::Backdrop::Colour([0, 200, 0])), &Quiet)
            .unwrap()
            .to_rgb8();
    let corner = green.get_pixel(10, 10);
    assert!(corner[1] > 180 && corner[0] < 30, "the corner is the chosen colour: {corner:?}");
    assert_eq!(green.get_pixel(220, 130), image.get_pixel(220, 130), "the subject keeps its pixels");
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse: f64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

#[test]
fn upscaling_gives_exact_sizes_and_beats_bicubic() {
    let engine = engine();
    let original = fixture("astronaut.png");
    let small = imageops::resize(&original, 128, 128, FilterType::CatmullRom);
    let upscaled = upscale::upscale(&engine, &small, 4, upscale::Quality::Balanced, 100_000_000, &Quiet).unwrap();
    assert_eq!(upscaled.dimensions(), (512, 512));
    let bicubic = imageops::resize(&small, 512, 512, FilterType::CatmullRom);
    let (model, baseline) = (psnr(&upscaled, &original), psnr(&bicubic, &original));
    assert!(model > baseline, "ESRGAN {model:.2} dB should beat bicubic {baseline:.2} dB");

    // Odd sizes across several tiles come out exact, with no seams left unfilled.
    let odd = imageops::crop_imm(&original, 0, 0, 301, 157).to_image();
    let doubled = upscale::upscale(&engine, &odd, 2, upscale::Quality::Fast, 100_000_000, &Quiet).unwrap();
    assert_eq!(doubled.dimensions(), (602, 314));
    let reference = imageops::resize(&odd, 602, 314, FilterType::CatmullRom);
    assert!(psnr(&doubled, &reference) > 22.0, "every tile was written");
}

/// The provider reported is the one the models ran on: CPU with the installed (CPU) library; CUDA
/// with the onnxruntime-gpu wheel's library on a GPU machine (ATELIER_EXPECT_PROVIDER=CUDA there).
#[test]
fn the_reported_provider_is_the_one_that_ran() {
    let expected = std::env::var("ATELIER_EXPECT_PROVIDER").unwrap_or_else(|_| "CPU".into());
    let engine = engine();
    let small = imageops::resize(&fixture("astronaut.png"), 64, 64, FilterType::CatmullRom);
    let upscaled = upscale::upscale(&engine, &small, 2, upscale::Quality::Fast, 100_000_000, &Quiet).unwrap();
    assert_eq!(upscaled.dimensions(), (128, 128));
    assert_eq!(engine.provider().unwrap().label(), expected);
}

#[test]
fn upscaling_refuses_outputs_over_the_limit() {
    let small = RgbImage::new(100, 100);
    let error = upscale::upscale(&engine(), &small, 4, upscale::Quality::Fast, 100_000, &Quiet).unwrap_err();
    assert!(matches!(error, AiError::BadInput(ref m) if m.contains("megapixels")), "{error}");
}

#[test]
fn the_eraser_fills_a_square_so_its_border_matches_the_surroundings() {
    let image = fixture("coffee.png");
    let (x0, y0, side) = (260u32, 60u32, 40u32);
    let mask = GrayImage::from_fn(image.width(), image.height(), |x, y| {
        Luma([if (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y) { 255 } else { 0 }])
    });
    let filled = inpaint::erase(&engine(), &image, &mask, &Quiet).unwrap();
    assert_eq!(inpaint::method(&engine()), "PatchMatch");
    // Outside the mask nothing changed.
    for (x, y, p) in image.enumerate_pixels() {
        if mask.get_pixel(x, y)[0] == 0 {
            assert_eq!(filled.get_pixel(x, y), p);
        }
    }
    // Along the square's edge, each filled pixel is close to its neighbour just outside.
    let mut diff = 0.0;
    let mut count = 0.0;
    for i in 0..side {
        for (inside, outside) in [
            ((x0 + i, y0), (x0 + i, y0 - 1)),
            ((x0 + i, y0 + side - 1), (x0 + i, y0 + side)),
            ((x0, y0 + i), (x0 - 1, y0 + i)),
            ((x0 + side - 1, y0 + i), (x0 + side, y0 + i)),
        ] {
            let (a, b) = (filled.get_pixel(inside.0, inside.1), image.get_pixel(outside.0, outside.1));
            diff += (0..3).map(|c| (f64::from(a[c]) - f64::from(b[c])).abs()).sum::<f64>() / 3.0;
            count += 1.0;
        }
    }
    let border = diff / count;
    // A flat fill with the square's surroundings' mean would differ from each neighbour by this:
    let mean_fill = {
        let mut sum = [0.0f64; 3];
        let mut n = 0.0;
        for x in x0 - 1..=x0 + side {
            for y in [y0 - 1, y0 + side] {
                let p = image.get_pixel(x, y);
                (0..3).for_each(|c| sum[c] += f64::from(p[c]));
                n += 1.0;
            }
        }
        sum.map(|s| s / n)
    };
    let mut flat = 0.0;
    for x in x0..x0 + side {
        for y in [y0 - 1, y0 + side] {
            let p = image.get_pixel(x, y);
            flat += (0..3).map(|c| (f64::from(p[c]) - mean_fill[c]).abs()).sum::<f64>() / 3.0;
        }
    }
    flat /= f64::from(side * 2);
    assert!(border < 30.0, "border mismatch {border:.1}");
    assert!(border < flat, "border mismatch {border:.1} should beat a flat fill's {flat:.1}");
    // And it is not the original hidden under the mask copied back.
    assert_ne!(filled, image);
}

#[test]
fn moderation_scores_a_safe_photo_low() {
    let score = moderation::nsfw_score(&engine(), &fixture("astronaut.png")).unwrap();
    assert!((0.0..0.2).contains(&score), "{score}");
}

#[test]
fn description_names_the_person_face_and_colours() {
    let camera = describe::CameraFacts {
        camera: Some("Nikon D70".into()),
        taken: Some("2004-06-01".into()),
        ..Default::default()
    };
    let found = describe::describe(&engine(), &fixture("astronaut.png"), Some(&camera), &Quiet).unwrap();
    assert!(found.objects.iter().any(|d| d.label == "person"), "{:?}", found.objects);
    assert_eq!(found.faces, 1);
    assert!(
        found.tags.contains(&"person".to_string()) && found.tags.contains(&"portrait".to_string()),
        "{:?}",
        found.tags
    );
    assert!(!found.colours.is_empty());
    assert!(found.alt_text.starts_with("A photo of a person"), "{}", found.alt_text);
    assert!(
        found.alt_text.contains("with one face visible") && found.alt_text.contains("Nikon D70"),
        "{}",
        found.alt_text
    );
}

#[test]
fn blurring_faces_hides_the_astronauts_face_and_leaves_the_sky_as_it_was() {
    let engine = engine();
    let photo = fixture("astronaut.png");
    let found = describe::faces(&engine, &photo).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    // The box is told in the photo's own fractions and lies on the face.
    let [x, y, w, h] = found[0];
    let centre = ((x + w / 2.0) * 512.0, (y + h / 2.0) * 512.0);
    assert!((180.0..270.0).contains(&centre.0) && (90.0..170.0).contains(&centre.1), "{:?}", found[0]);
    let crop = |image: &RgbImage, (x, y, w, h): (u32, u32, u32, u32)| imageops::crop_imm(image, x, y, w, h).to_image();
    for style in [faces::Style::Blur, faces::Style::Pixelate] {
        let hidden = faces::blur_faces(&engine, &photo, style, 80, None, &Quiet).unwrap();
        assert_eq!(hidden.faces, 1);
        assert_eq!(hidden.image.dimensions(), photo.dimensions());
        let face = (200, 105, 50, 50);
        let changed = mean_difference(&crop(&hidden.image, face), &crop(&photo, face));
        assert!(changed > 8.0, "{style:?}: the face changed by only {changed:.1} levels");
        for corner in [(0, 0, 64, 64), (448, 448, 64, 64), (0, 448, 64, 64)] {
            assert!(crop(&hidden.image, corner) == crop(&photo, corner), "{style:?}: {corner:?} changed");
        }
    }
    match faces::blur_faces(&engine, &fixture("coffee.png"), faces::Style::Blur, 50, None, &Quiet) {
        Err(AiError::BadInput(message)) => assert_eq!(message, faces::NO_FACES),
        other => panic!("a cup of coffee has no face: {:?}", other.map(|hidden| hidden.faces)),
    }
}

#[test]
fn a_missing_model_names_the_install_command() {
    let empty = tempfile::tempdir().unwrap();
    let engine = Engine::new(config(empty.path().to_path_buf())).unwrap();
    let error =
        ai::background::mask(&engine, &fixture("chelsea.png"), ai::background::Segmenter::Objects, &Quiet).unwrap_err();
    assert!(matches!(error, AiError::ModelMissing { .. }), "{error}");
    assert!(error.to_string().contains("scripts/install-models"), "{error}");
}

#[test]
fn a_damaged_model_is_refused_by_its_hash_and_a_malformed_supplied_one_by_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("open-nsfw.onnx"), b"not a model at all").unwrap();
    let engine = Engine::new(config(dir.path().to_path_buf())).unwrap();
    let error = moderation::nsfw_score(&engine, &fixture("chelsea.png")).unwrap_err();
    assert!(matches!(error, AiError::ModelInvalid { .. }), "{error}");
    assert!(error.to_string().contains("SHA-256") && error.to_string().contains("scripts/install-models"), "{error}");

    // A LaMa file the person supplied without a hash: ONNX Runtime refuses it, clearly.
    let lama = dir.path().join("lama.onnx");
    std::fs::write(&lama, b"\x08\x07garbage").unwrap();
    let mut with_lama = config(dir.path().to_path_buf());
    with_lama.lama = Some(UserModel { path: lama, sha256: None });
    let engine = Engine::new(with_lama).unwrap();
    assert_eq!(inpaint::method(&engine), "LaMa");
    let image = fixture("chelsea.png");
    let mask = GrayImage::from_fn(image.width(), image.height(), |x, y| Luma([if x < 40 && y < 40 { 255 } else { 0 }]));
    let error = inpaint::erase(&engine, &image, &mask, &Quiet).unwrap_err();
    assert!(matches!(error, AiError::ModelInvalid { .. }), "{error}");
}

#[test]
fn a_wrong_hash_for_a_supplied_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lama = dir.path().join("lama.onnx");
    std::fs::copy(models_dir().join("selfie.onnx"), &lama).unwrap();
    let mut with_lama = config(models_dir());
    with_lama.lama = Some(UserModel { path: lama, sha256: Some("00".repeat(32)) });
    let engine = Engine::new(with_lama).unwrap();
    let image = fixture("chelsea.png");
    let mask = GrayImage::from_fn(image.width(), image.height(), |x, y| Luma([if x < 40 && y < 40 { 255 } else { 0 }]));
    let error = inpaint::erase(&engine, &image, &mask, &Quiet).unwrap_err();
    assert!(error.to_string().contains("SHA-256"), "{error}");
}

#[test]
fn cancelling_stops_a_tiled_upscale() {
    struct CancelAfter(std::sync::atomic::AtomicUsize);
    impl ai::Progress for CancelAfter {
        fn report(&self, _: f32) {}
        fn cancelled(&self) -> bool {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2
        }
    }
    let image = fixture("astronaut.png");
    let error =
        upscale::upscale(&engine(), &image, 2, upscale::Quality::Fast, 100_000_000, &CancelAfter(Default::default()))
            .unwrap_err();
    assert!(matches!(error, AiError::Cancelled));
}

/// Mean absolute difference of two images of the same size, in levels (0..255).
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs()).sum::<f64>()
        / a.as_raw().len() as f64
}

#[test]
fn a_built_in_style_repaints_the_photo_at_its_size_and_strength_fades_it() {
    let engine = engine();
    let photo = fixture("astronaut.png");
    let starry = style::stylize(&engine, &photo, Style::Builtin(19), 1.0, &Quiet).unwrap();
    let other = style::stylize(&engine, &photo, Style::Builtin(3), 1.0, &Quiet).unwrap();
    assert_eq!(starry.dimensions(), photo.dimensions());
    let changed = mean_difference(&starry, &photo);
    assert!(changed > 25.0, "style 19 changed the photo by only {changed:.1} levels");
    let apart = mean_difference(&starry, &other);
    assert!(apart > 25.0, "styles 19 and 3 differ by only {apart:.1} levels");
    // Still the same picture: the painting follows the photo's light and dark.
    let (luma_photo, luma_painted) = (image::imageops::grayscale(&photo), image::imageops::grayscale(&starry));
    assert!(correlation(&luma_photo, &luma_painted) > 0.5, "the painting lost the photo's shapes");

    let none = style::stylize(&engine, &photo, Style::Builtin(19), 0.0, &Quiet).unwrap();
    assert_eq!(none, photo, "strength 0 leaves the photo as it was");
    let half = style::stylize(&engine, &photo, Style::Builtin(19), 0.5, &Quiet).unwrap();
    let halfway = mean_difference(&half, &photo) / changed;
    assert!((0.4..0.6).contains(&halfway), "strength 0.5 moved {halfway:.2} of the way");
}

fn correlation(a: &GrayImage, b: &GrayImage) -> f64 {
    let n = a.as_raw().len() as f64;
    let mean = |img: &GrayImage| img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.as_raw().iter().zip(b.as_raw()) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        cov += dx * dy;
        va += dx * dx;
        vb += dy * dy;
    }
    cov / (va * vb).sqrt()
}

#[test]
fn any_painting_lends_the_photo_its_style() {
    let engine = engine();
    let photo = fixture("astronaut.png");
    let (coffee, cat) = (fixture("coffee.png"), fixture("chelsea.png"));
    let from_coffee = style::stylize(&engine, &photo, Style::Painting(&coffee), 1.0, &Quiet).unwrap();
    let from_cat = style::stylize(&engine, &photo, Style::Painting(&cat), 1.0, &Quiet).unwrap();
    assert_eq!(from_coffee.dimensions(), photo.dimensions());
    let changed = mean_difference(&from_coffee, &photo);
    assert!(changed > 15.0, "the coffee's style changed the photo by only {changed:.1} levels");
    let apart = mean_difference(&from_coffee, &from_cat);
    assert!(apart > 10.0, "two paintings gave results only {apart:.1} levels apart");
}

#[test]
fn bad_style_options_are_refused_with_a_reason() {
    let engine = engine();
    let photo = fixture("chelsea.png");
    let error = style::stylize(&engine, &photo, Style::Builtin(26), 1.0, &Quiet).unwrap_err();
    assert!(matches!(error, AiError::BadInput(ref m) if m.contains("0 to 25")), "{error}");
    let error = style::stylize(&engine, &photo, Style::Builtin(0), 1.5, &Quiet).unwrap_err();
    assert!(matches!(error, AiError::BadInput(ref m) if m.contains("strength")), "{error}");
    let tiny = RgbImage::new(20, 300);
    let error = style::stylize(&engine, &tiny, Style::Builtin(0), 1.0, &Quiet).unwrap_err();
    assert!(matches!(error, AiError::BadInput(ref m) if m.contains("32 pixels")), "{error}");
}

/// Mean signed change across each column boundary (over every row and channel), from the `reach`
/// columns before it to the `reach` after it; `[x]` is the boundary after column x. A painted
/// texture averages out along whole columns; a seam, a step or a line all along a tile's border,
/// does not. Reach 1 sees thin lines best, a wider reach steps in level.
fn column_steps(image: &RgbImage, reach: usize) -> Vec<f64> {
    let (w, h) = image.dimensions();
    let means: Vec<f64> = (0..w)
        .map(|x| (0..h).flat_map(|y| image.get_pixel(x, y).0).map(f64::from).sum::<f64>() / f64::from(3 * h))
        .collect();
    let mean = |columns: &[f64]| columns.iter().sum::<f64>() / columns.len() as f64;
    (0..means.len() - 1)
        .map(|x| {
            mean(&means[x + 1..(x + 1 + reach).min(means.len())]) - mean(&means[(x + 1).saturating_sub(reach)..=x])
        })
        .collect()
}

fn transposed(image: &RgbImage) -> RgbImage {
    RgbImage::from_fn(image.height(), image.width(), |x, y| *image.get_pixel(y, x))
}

/// The largest column step within 3 columns of `at`.
fn step_near(steps: &[f64], at: u32) -> f64 {
    let at = at as usize;
    steps[at.saturating_sub(3)..(at + 3).min(steps.len())].iter().fold(0.0, |m, s| f64::max(m, s.abs()))
}

/// The largest column step anywhere more than 8 columns from every border: how much the painting
/// itself changes from one column to the next (its strokes run along columns too).
fn step_elsewhere(steps: &[f64], borders: &[u32]) -> f64 {
    let far = |x: usize| borders.iter().all(|&b| (x as i64 - i64::from(b)).abs() > 8);
    steps.iter().enumerate().filter(|&(x, _)| far(x)).fold(0.0, |m, (_, s)| f64::max(m, s.abs()))
}

/// Every tile border inside a side of `length`: where a tile starts or ends.
fn tile_borders(length: u32, tile: u32, overlap: u32) -> Vec<u32> {
    style::tile_starts(length, tile, overlap)
        .into_iter()
        .flat_map(|start| [start, start + tile])
        .filter(|&border| border > 0 && border < length)
        .collect()
}

/// A large smooth photo: gradients only, so any edge in the result is the network's or a seam.
fn smooth(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (f64::from(x) / f64::from(width), f64::from(y) / f64::from(height));
        image::Rgb([(30.0 + 200.0 * u) as u8, (60.0 + 150.0 * v) as u8, (220.0 - 160.0 * u * v) as u8])
    })
}

/// No tile border shows: at every border, across columns and across rows, the mean step is no
/// larger than the painting's own steps elsewhere. (That the check sees a real seam is tested
/// below.)
fn assert_no_seams(painted: &RgbImage, tile: u32, overlap: u32, what: &str) {
    for (image, across) in [(painted.clone(), "columns"), (transposed(painted), "rows")] {
        let borders = tile_borders(image.width(), tile, overlap);
        for reach in [1, 4] {
            let steps = column_steps(&image, reach);
            let limit = step_elsewhere(&steps, &borders);
            for &border in &borders {
                let step = step_near(&steps, border);
                assert!(
                    step <= limit,
                    "{what}: a step of {step:.2} levels at the tile border {border} across {across} (reach {reach}), more than anywhere else ({limit:.2})"
                );
            }
        }
    }
}

#[test]
fn style_tiles_of_a_large_photo_do_not_show() {
    let engine = engine();
    let photo = smooth(1700, 900);
    let painted = style::stylize(&engine, &photo, Style::Builtin(19), 1.0, &Quiet).unwrap();
    assert_eq!(painted.dimensions(), photo.dimensions());
    assert!(tile_borders(1700, style::MULTI_TILE, style::MULTI_OVERLAP).len() >= 2, "the photo spans several tiles");
    assert_no_seams(&painted, style::MULTI_TILE, style::MULTI_OVERLAP, "built-in style");

    let painting = fixture("coffee.png");
    let photo = smooth(1000, 700);
    let painted = style::stylize(&engine, &photo, Style::Painting(&painting), 1.0, &Quiet).unwrap();
    assert_no_seams(&painted, style::TRANSFORM_TILE, style::TRANSFORM_OVERLAP, "a painting's style");

    // The same check sees a seam where there is one: the two halves of the first photo painted
    // one by one and put side by side.
    let photo = smooth(1700, 900);
    let half = |x: u32| {
        let crop = image::imageops::crop_imm(&photo, x, 0, 850, 900).to_image();
        style::stylize(&engine, &crop, Style::Builtin(19), 1.0, &Quiet).unwrap()
    };
    let mut pasted = RgbImage::new(1700, 900);
    image::imageops::replace(&mut pasted, &half(0), 0, 0);
    image::imageops::replace(&mut pasted, &half(850), 850, 0);
    let steps = column_steps(&pasted, 4);
    let (seam, elsewhere) = (step_near(&steps, 850), step_elsewhere(&steps, &[850]));
    assert!(seam > 1.2 * elsewhere, "a real seam ({seam:.2} levels) stands out (elsewhere at most {elsewhere:.2})");
}

#[test]
fn a_style_preview_is_the_sample_painted() {
    let engine = engine();
    let first = style::preview(&engine, 0, 128).unwrap();
    let last = style::preview(&engine, style::BUILTIN_STYLES - 1, 128).unwrap();
    assert_eq!(first.dimensions(), (128, 128));
    assert!(mean_difference(&first, &last) > 20.0, "two styles' previews look alike");
}

#[test]
fn cancelling_stops_style_transfer() {
    struct CancelAfter(std::sync::atomic::AtomicUsize);
    impl ai::Progress for CancelAfter {
        fn report(&self, _: f32) {}
        fn cancelled(&self) -> bool {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2
        }
    }
    let photo = smooth(1200, 800);
    let error =
        style::stylize(&engine(), &photo, Style::Builtin(0), 1.0, &CancelAfter(Default::default())).unwrap_err();
    assert!(matches!(error, AiError::Cancelled));
}

#[test]
fn the_vocabulary_gives_berts_token_ids() {
    let vocab = ai::embed::vocab(&engine()).unwrap();
    // bert-base-uncased's ids for these words: a different vocabulary would give others.
    assert_eq!(vocab.encode("Hello, world!"), [101, 7592, 1010, 2088, 999, 102]);
    assert_eq!(vocab.encode("unaffable"), [101, 14477, 20961, 3468, 102]);
}

#[test]
fn a_caption_is_nearer_to_its_paraphrase_than_to_an_unrelated_sentence() {
    let engine = engine();
    let embed = |text: &str| ai::embed::embed(&engine, text).unwrap();
    let caption = embed("a person on sand by the sea");
    let paraphrase = embed("beach holiday");
    let unrelated = embed("a red car parked in a city street at night");
    assert_eq!(caption.len(), ai::embed::DIMENSIONS);
    let norm: f32 = caption.iter().map(|v| v * v).sum();
    assert!((norm - 1.0).abs() < 1e-3, "embeddings are normalised ({norm})");
    let near = ai::embed::similarity(&caption, &paraphrase);
    let far = ai::embed::similarity(&caption, &unrelated);
    assert!(near > far + 0.1, "paraphrase {near:.3} should beat unrelated {far:.3}");
    let same = ai::embed::similarity(&caption, &embed("A person on sand, by the sea."));
    assert!(same > 0.95, "the same words in other case and punctuation: {same:.3}");
}
