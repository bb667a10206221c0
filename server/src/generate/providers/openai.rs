//! The OpenAI Images API (`/v1/images/generations`, `/v1/images/edits`), as OpenAI serves it and
//! as self-hosted servers such as LocalAI copy it. It takes a prompt, a size and an optional
//! image with a mask whose transparent pixels are the ones to paint; no seed, negative prompt,
//! steps or guidance.

use app::generate::{Aspect, Features};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::json;

use super::{decode_base64, Body, Call, Http, ImageApi, Made, ProviderError};

pub struct OpenAi;

#[async_trait]
impl ImageApi for OpenAi {
    fn label(&self) -> &'static str {
        "OpenAI-compatible Images API"
    }

    /// Image to image and fill go through the edits endpoint, which dall-e-3 lacks and dall-e-2
    /// takes only for square images with transparency.
    fn features(&self, model: Option<&str>) -> Features {
        let edits = !model.is_some_and(|m| m.starts_with("dall-e"));
        Features { reference: edits, fill: edits, ..Features::default() }
    }

    /// The sizes the hosted models accept (self-hosted servers take these too).
    fn size(&self, aspect: Aspect, model: Option<&str>) -> (u32, u32) {
        let model = model.unwrap_or_default();
        match aspect {
            Aspect::Square => (1024, 1024),
            _ if model.starts_with("dall-e-2") => (1024, 1024),
            Aspect::Landscape | Aspect::Wide if model.starts_with("dall-e-3") => (1792, 1024),
            Aspect::Portrait | Aspect::Tall if model.starts_with("dall-e-3") => (1024, 1792),
            Aspect::Landscape | Aspect::Wide => (1536, 1024),
            Aspect::Portrait | Aspect::Tall => (1024, 1536),
        }
    }

    async fn generate(&self, http: &Http, call: &Call<'_>) -> Result<Made, ProviderError> {
        let size = format!("{}x{}", call.width, call.height);
        let model = call.model.map(str::to_string);
        // gpt-image models always answer base64 and refuse the field; the others answer a link
        // unless asked, and this server never follows links.
        let ask_base64 = !model.as_deref().is_some_and(|m| m.starts_with("gpt-image"));
        let answer = match call.reference {
            None => {
                let mut body = json!({ "prompt": call.prompt, "n": 1, "size": size });
                if let Some(model) = &model {
                    body["model"] = json!(model);
                }
                if ask_base64 {
                    body["response_format"] = json!("b64_json");
                }
                http.post("/v1/images/generations", &Body::Json(body)).await?
            }
            Some((image, _)) => {
                let image = Bytes::copy_from_slice(image);
                let mask = match call.mask.map(<[u8]>::to_vec) {
                    // Decoding and encoding a PNG is CPU work: off the async runtime.
                    Some(mask) => Some(Bytes::from(
                        tokio::task::spawn_blocking(move || transparent_where_white(&mask))
                            .await
                            .map_err(|_| ProviderError::Refused("The mask could not be prepared.".into()))??,
                    )),
                    None => None,
                };
                let prompt = call.prompt.to_string();
                let form = move || {
                    let png = |bytes: &Bytes, name: &'static str| {
                        reqwest::multipart::Part::bytes(bytes.to_vec())
                            .file_name(name)
                            .mime_str("image/png")
                            .map_err(|_| ProviderError::Refused("The image could not be sent.".into()))
                    };
                    let mut form = reqwest::multipart::Form::new()
                        .text("prompt", prompt.clone())
                        .text("n", "1")
                        .text("size", size.clone())
                        .part("image", png(&image, "image.png")?);
                    if let Some(mask) = &mask {
                        form = form.part("mask", png(mask, "mask.png")?);
                    }
                    if let Some(model) = &model {
                        form = form.text("model", model.clone());
                    }
                    if ask_base64 {
                        form = form.text("response_format", "b64_json");
                    }
                    Ok(form)
                };
                http.post("/v1/images/edits", &Body::Form(Box::new(form))).await?
            }
        };
        let name = &http.name;
        match answer["data"][0]["b64_json"].as_str() {
            Some(data) => Ok(Made { image: decode_base64(data, name)?, seed: None }),
            None if answer["data"][0]["url"].is_string() => Err(ProviderError::Refused(format!(
                "{name} answered with a link instead of the image; it must support response_format b64_json."
            ))),
            None => Err(ProviderError::Unavailable(format!("{name} answered without an image."))),
        }
    }
}

/// The API's mask is the image's shape with the pixels to paint transparent; Atelier's masks are
/// grey, white where to paint.
fn transparent_where_white(mask: &[u8]) -> Result<Vec<u8>, ProviderError> {
    let unreadable = || ProviderError::Refused("The mask could not be read.".into());
    let grey = image::load_from_memory(mask).map_err(|_| unreadable())?.to_luma8();
    let rgba = image::RgbaImage::from_fn(grey.width(), grey.height(), |x, y| {
        image::Rgba([0, 0, 0, 255 - grey.get_pixel(x, y)[0]])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    rgba.write_to(&mut out, image::ImageFormat::Png).map_err(|_| unreadable())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_model_and_masks_turn_transparent_where_white() {
        assert_eq!(OpenAi.size(Aspect::Wide, Some("gpt-image-1")), (1536, 1024));
        assert_eq!(OpenAi.size(Aspect::Tall, Some("dall-e-3")), (1024, 1792));
        assert_eq!(OpenAi.size(Aspect::Portrait, Some("dall-e-2")), (1024, 1024));
        let grey = image::GrayImage::from_fn(2, 1, |x, _| image::Luma([if x == 0 { 255 } else { 0 }]));
        let mut png = std::io::Cursor::new(Vec::new());
        grey.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let rgba = image::load_from_memory(&transparent_where_white(png.get_ref()).unwrap()).unwrap().to_rgba8();
        assert_eq!(rgba.get_pixel(0, 0)[3], 0, "white paints: transparent");
        assert_eq!(rgba.get_pixel(1, 0)[3], 255, "black keeps: opaque");
    }
}
