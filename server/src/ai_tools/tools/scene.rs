//! Product scene: the product cut out (the image's own transparency when a pipeline's earlier
//! step made one, else IS-Net's mask) and placed on a backdrop with shadows and matched light.

use app::ai_tools::{Scene, SceneBackdrop, Surface, ToolRequest};
use app::error::AppError;
use app::ids::OwnerId;
use app::photos::PhotoSummary;
use async_trait::async_trait;
use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};

use super::{check_other_photo_of, mismatch, other_photo_of, parse_hex, Failure, Inputs, Produced, Tool, Work};
use crate::ai_tools::queue::{Claimed, JobProgress};
use crate::ai_tools::AiStore;
use crate::generate::providers::Call;

pub struct ProductScene;

#[async_trait]
impl Tool for ProductScene {
    async fn validate(
        &self,
        ai: &AiStore,
        owner: OwnerId,
        _photo: &PhotoSummary,
        request: &ToolRequest,
    ) -> Result<(), AppError> {
        // The scene's ranges are `ToolRequest::check`'s.
        match request {
            ToolRequest::ProductScene { scene: Scene { backdrop: SceneBackdrop::Generated { painted }, .. } } => {
                ai.generation.for_prompt(painted, false).map(|_| ()).map_err(AppError::BadRequest)
            }
            _ => check_other_photo_of(ai, owner, request).await,
        }
    }

    /// The backdrop photo, read now (it may have been deleted or held since the job was queued),
    /// or the backdrop an image service paints from the prompt, at the scene's shape.
    async fn gather(
        &self,
        ai: &AiStore,
        job: &Claimed,
        request: &ToolRequest,
        progress: &JobProgress,
    ) -> Result<Inputs, Failure> {
        let ToolRequest::ProductScene { scene } = request else { return Ok(Inputs::default()) };
        match &scene.backdrop {
            SceneBackdrop::Generated { painted } => {
                let provider = ai.generation.for_prompt(painted, false).map_err(Failure::Permanent)?;
                let size = provider.size_near(scene.width, scene.height);
                let call = Call::prompt(provider.models.first().map(String::as_str), painted.prompt.trim(), size);
                let made = crate::generate::run::ask(&provider, &call, progress).await?;
                crate::generate::run::moderate(ai, made.image.clone(), &provider.name).await?;
                Ok(Inputs { painted: Some((made.image, provider.name.clone())), ..Inputs::default() })
            }
            _ => other_photo_of(ai, job, request).await,
        }
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::ProductScene { scene } = work.request else { return Err(mismatch()) };
        scene.validate().map_err(Failure::Permanent)?;
        let (mask, method) = match work.alpha {
            Some(alpha) => (alpha, "the cut-out's own mask"),
            None => (
                ai::background::mask(work.engine, &work.image, ai::background::Segmenter::Objects, work.progress)?,
                "IS-Net",
            ),
        };
        work.progress.step(0.8)?;
        let backdrop = backdrop(&scene.backdrop, &work.inputs, work.max_pixels)?;
        let product = with_alpha(&work.image, &mask);
        let options = options(&scene);
        let composed = ai::scene::compose(&product, &backdrop, &options)?;
        work.progress.step(1.0)?;
        Ok((Produced::Image(DynamicImage::ImageRgb8(composed)), format!("scene compositor on {method}")))
    }
}

fn with_alpha(image: &RgbImage, mask: &GrayImage) -> RgbaImage {
    RgbaImage::from_fn(image.width(), image.height(), |x, y| {
        let [r, g, b] = image.get_pixel(x, y).0;
        image::Rgba([r, g, b, mask.get_pixel(x, y)[0]])
    })
}

fn colour(hex: &str) -> [u8; 3] {
    parse_hex(hex).unwrap_or([255, 255, 255])
}

fn backdrop(backdrop: &SceneBackdrop, inputs: &Inputs, max_pixels: u64) -> Result<ai::scene::Backdrop, Failure> {
    use ai::scene::{Backdrop, Texture};
    Ok(match backdrop {
        SceneBackdrop::Colour { hex } => Backdrop::Colour(colour(hex)),
        SceneBackdrop::Gradient { top, bottom } => Backdrop::Gradient { top: colour(top), bottom: colour(bottom) },
        SceneBackdrop::Studio { wall, floor } => Backdrop::Studio { wall: colour(wall), floor: colour(floor) },
        SceneBackdrop::Surface { texture } => Backdrop::Surface(match texture {
            Surface::Wood => Texture::Wood,
            Surface::Marble => Texture::Marble,
            Surface::Linen => Texture::Linen,
            Surface::Concrete => Texture::Concrete,
        }),
        SceneBackdrop::Photo { .. } => Backdrop::Photo(inputs.other_photo(max_pixels)?),
        SceneBackdrop::Generated { .. } => {
            let (painted, service) =
                inputs.painted.as_ref().ok_or_else(|| Failure::Permanent("The painted backdrop is missing.".into()))?;
            let image = crate::platform::images::decode(painted, max_pixels)
                .map_err(|e| crate::generate::run::unkeepable(service, e))?;
            Backdrop::Photo(image.to_rgb8())
        }
    })
}

pub fn options(scene: &Scene) -> ai::scene::Options {
    ai::scene::Options {
        width: scene.width,
        height: scene.height,
        margin: scene.margin,
        placement: if scene.on_floor { ai::scene::Placement::Floor } else { ai::scene::Placement::Centre },
        contact_shadow: scene.contact_shadow,
        cast_shadow: scene.cast_shadow.map(|c| ai::scene::CastShadow {
            angle: c.angle,
            length: c.length,
            softness: c.softness,
            opacity: c.opacity,
        }),
        reflection: scene.reflection,
        match_light: scene.match_light,
    }
}
