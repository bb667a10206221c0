//! Selections the server makes for the eraser's mask: the subject, the objects it finds and one
//! of them refined, or (with a supplied Segment Anything model) the object at a point. The answer
//! is a mask at the size the page asked for (its mask canvas), which the page adds to or takes
//! out of what is painted; the eraser and generative fill then send that canvas as always.
//! The magic wand needs no server: it runs in the page (`recipe::selection`).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use recipe::selection::Runs;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ids::OwnerId;
use crate::ids::PhotoId;

/// The largest mask the server makes (the eraser's canvas is at most 1024 on a side).
pub const MAX_SELECTION_SIDE: u32 = 4096;
/// The most objects listed.
pub const MAX_LISTED_OBJECTS: usize = 20;

/// What to select.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SelectRequest {
    /// The photo's subject (IS-Net's foreground).
    Subject,
    /// List the objects found (CenterNet), with no mask.
    Objects,
    /// List the faces found (BlazeFace), with no mask, for blurring the ones picked.
    Faces,
    /// The object in a box (x, y, width, height as fractions of the photo), as listed.
    Object { bbox: [f32; 4] },
    /// The object at a point (fractions of the photo), by Segment Anything when the server has it.
    Point { x: f32, y: f32 },
}

impl SelectRequest {
    /// The options within their ranges, or what is wrong in words.
    pub fn check(&self) -> Result<(), String> {
        let fraction = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
        match *self {
            SelectRequest::Object { bbox: [x, y, width, height] } => {
                let fits = |start: f32, size: f32| fraction(start) && size > 0.0 && start + size <= 1.0 + 1e-4;
                if fits(x, width) && fits(y, height) {
                    Ok(())
                } else {
                    Err("An object's box is x, y, width and height as fractions of the photo, within it.".into())
                }
            }
            SelectRequest::Point { x, y } if !(fraction(x) && fraction(y)) => {
                Err("The point is x and y as fractions of the photo, from 0 to 1.".into())
            }
            _ => Ok(()),
        }
    }
}

/// An object the server found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoundObject {
    /// COCO's name for it ("person", "cup").
    pub label: String,
    /// 0..1.
    pub score: f32,
    /// x, y, width, height as fractions of the photo.
    pub bbox: [f32; 4],
}

/// What the server selected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selected {
    /// At the size asked for; none when objects were only listed.
    pub mask: Option<Runs>,
    /// The objects found, best first (listing only).
    pub objects: Vec<FoundObject>,
    /// How the mask was made ("IS-Net", "CenterNet box refined by IS-Net"…).
    pub method: String,
    /// Whether this server can select the object at a point (a Segment Anything model is set up).
    pub point_prompts: bool,
}

/// Selections on the server: owner-checked, bounded, nothing kept.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait SelectionService: Send + Sync + 'static {
    /// What `request` selects on one of the owner's photos, as a mask of `width`×`height`.
    async fn select(
        &self,
        owner: OwnerId,
        photo: PhotoId,
        request: SelectRequest,
        width: u32,
        height: u32,
    ) -> Result<Selected, AppError>;
}

#[cfg(feature = "ssr")]
pub type Selections = std::sync::Arc<dyn SelectionService>;

/// JSON in: the box travels as numbers.
#[server(endpoint = "ai/select", input = Json)]
pub async fn select_area(
    photo: PhotoId,
    request: SelectRequest,
    width: u32,
    height: u32,
) -> Result<Selected, AppError> {
    use crate::server_fn::{owner, run, service};
    run(async { service::<Selections>()?.select(owner().await?, photo, request, width, height).await }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_and_points_are_checked_and_requests_read_as_json() {
        assert_eq!(SelectRequest::Subject.check(), Ok(()));
        assert_eq!(SelectRequest::Object { bbox: [0.0, 0.0, 1.0, 1.0] }.check(), Ok(()));
        assert_eq!(SelectRequest::Point { x: 1.0, y: 0.0 }.check(), Ok(()));
        for bbox in [[0.5, 0.5, 0.6, 0.1], [0.1, 0.1, 0.0, 0.5], [-0.1, 0.0, 0.5, 0.5], [f32::NAN, 0.0, 0.5, 0.5]] {
            assert!(SelectRequest::Object { bbox }.check().is_err(), "{bbox:?}");
        }
        for (x, y) in [(1.1, 0.5), (0.5, -0.01), (f32::INFINITY, 0.5)] {
            assert!(SelectRequest::Point { x, y }.check().is_err(), "{x}, {y}");
        }
        let read: SelectRequest = serde_json::from_str(r#"{"kind":"object","bbox":[0.1,0.2,0.3,0.4]}"#).unwrap();
        assert_eq!(read, SelectRequest::Object { bbox: [0.1, 0.2, 0.3, 0.4] });
        assert_eq!(serde_json::to_value(SelectRequest::Subject).unwrap(), serde_json::json!({ "kind": "subject" }));
    }
}
