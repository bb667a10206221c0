//! The Stable Diffusion WebUI API (`/sdapi/v1/txt2img`, `/sdapi/v1/img2img`), served by
//! AUTOMATIC1111, Forge and SD.Next: the usual way people run models on their own GPU. It takes
//! everything the studio offers: negative prompt, seed, steps, guidance (`cfg_scale`), an init
//! image with its denoising strength, and an inpainting mask (white = paint).

use app::generate::{Aspect, Features};
use async_trait::async_trait;
use serde_json::json;

use super::{decode_base64, encode_base64, Body, Call, Http, ImageApi, Made, ProviderError};

pub struct SdWebUi;

const DEFAULT_STEPS: u32 = 25;
const DEFAULT_GUIDANCE: f32 = 7.0;

#[async_trait]
impl ImageApi for SdWebUi {
    fn label(&self) -> &'static str {
        "Stable Diffusion WebUI"
    }

    fn features(&self, _model: Option<&str>) -> Features {
        Features {
            negative_prompt: true,
            seed: true,
            steps: true,
            guidance: true,
            reference: true,
            strength: true,
            fill: true,
        }
    }

    /// SDXL-class models (and later ones) are trained at 1024², SD 1.x at 512²; the checkpoint's
    /// name is the only hint the settings give.
    fn size(&self, aspect: Aspect, model: Option<&str>) -> (u32, u32) {
        let model = model.unwrap_or_default().to_lowercase();
        let small = !model.is_empty() && ["1.5", "1-5", "sd15"].iter().any(|hint| model.contains(hint));
        aspect.size(if small { 512 } else { 1024 })
    }

    async fn generate(&self, http: &Http, call: &Call<'_>) -> Result<Made, ProviderError> {
        let mut body = json!({
            "prompt": call.prompt,
            "negative_prompt": call.negative_prompt,
            "width": call.width,
            "height": call.height,
            "steps": call.steps.unwrap_or(DEFAULT_STEPS),
            "cfg_scale": decimal(call.guidance.unwrap_or(DEFAULT_GUIDANCE)),
            // -1 asks the WebUI for a random seed, which it reports in `info`.
            "seed": call.seed.map_or(-1, i64::from),
            "batch_size": 1,
            "n_iter": 1,
            "send_images": true,
            "save_images": false,
        });
        if let Some(model) = call.model {
            body["override_settings"] = json!({ "sd_model_checkpoint": model });
            body["override_settings_restore_afterwards"] = json!(true);
        }
        let path = match call.reference {
            None => "/sdapi/v1/txt2img",
            Some((image, strength)) => {
                body["init_images"] = json!([encode_base64(image)]);
                body["denoising_strength"] = json!(decimal(strength));
                if let Some(mask) = call.mask {
                    body["mask"] = json!(encode_base64(mask));
                    // Paint only the masked part, starting from what is there, softly blended.
                    body["inpainting_fill"] = json!(1);
                    body["inpaint_full_res"] = json!(false);
                    body["mask_blur"] = json!(4);
                }
                "/sdapi/v1/img2img"
            }
        };
        let answer = http.post(path, &Body::Json(body)).await?;
        let name = &http.name;
        let image = answer["images"][0]
            .as_str()
            .ok_or_else(|| ProviderError::Unavailable(format!("{name} answered without an image.")))?;
        // `info` is a JSON document inside a string; its seed is the one actually used.
        let seed = answer["info"]
            .as_str()
            .and_then(|info| serde_json::from_str::<serde_json::Value>(info).ok())
            .and_then(|info| info["seed"].as_i64())
            .and_then(|seed| u32::try_from(seed).ok())
            .or(call.seed);
        Ok(Made { image: decode_base64(image, name)?, seed })
    }
}

/// A setting as people wrote it (0.35, not 0.3499999940395355): f32 to the nearest thousandth.
fn decimal(value: f32) -> f64 {
    (f64::from(value) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_checkpoint() {
        assert_eq!(SdWebUi.size(Aspect::Square, Some("v1-5-pruned-emaonly")), (512, 512));
        assert_eq!(SdWebUi.size(Aspect::Square, Some("sd_xl_base_1.0")), (1024, 1024));
        assert_eq!(SdWebUi.size(Aspect::Square, None), (1024, 1024));
    }
}
