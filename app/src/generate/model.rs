//! What the studio sends and shows: a generation request, the runs kept as prompt history, the
//! services an operator configured, styles and prompt templates.

use serde::{Deserialize, Serialize};

use crate::ids::{GenerationId, JobState, PhotoId, TemplateId};
use crate::photos::PhotoSummary;

/// Longest prompt (and negative prompt) a run takes, in characters.
pub const MAX_PROMPT_CHARS: usize = 2000;
/// Images one run may ask for.
pub const MAX_IMAGES: u32 = 4;

/// The shapes offered; each service turns one into a size it supports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    #[default]
    Square,
    Portrait,
    Landscape,
    Wide,
    Tall,
}

impl Aspect {
    pub const ALL: &'static [Aspect] =
        &[Aspect::Square, Aspect::Portrait, Aspect::Landscape, Aspect::Wide, Aspect::Tall];

    pub fn label(self) -> &'static str {
        match self {
            Aspect::Square => "Square 1:1",
            Aspect::Portrait => "Portrait 2:3",
            Aspect::Landscape => "Landscape 3:2",
            Aspect::Wide => "Wide 16:9",
            Aspect::Tall => "Tall 9:16",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Aspect::Square => "square",
            Aspect::Portrait => "portrait",
            Aspect::Landscape => "landscape",
            Aspect::Wide => "wide",
            Aspect::Tall => "tall",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.key() == key)
    }

    /// Width and height for a service whose square side is `base`, both multiples of 64 (what
    /// diffusion models want), the longer side never above 1.5 × `base` … 1.75 × for 16:9.
    pub fn size(self, base: u32) -> (u32, u32) {
        let snap = |v: f32| ((v / 64.0).round() as u32).max(1) * 64;
        let b = base as f32;
        match self {
            Aspect::Square => (snap(b), snap(b)),
            Aspect::Portrait => (snap(b * 0.8165), snap(b * 1.2247)),
            Aspect::Landscape => (snap(b * 1.2247), snap(b * 0.8165)),
            Aspect::Wide => (snap(b * 1.3333), snap(b * 0.75)),
            Aspect::Tall => (snap(b * 0.75), snap(b * 1.3333)),
        }
    }
}

/// An image from the workspace the new ones start from (image-to-image).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub photo: PhotoId,
    /// How far the result may move away from it: 0 keeps it, 1 ignores it.
    pub strength: f32,
}

/// One run as the studio asks for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// A configured service, by name.
    pub provider: String,
    /// One of its models; the first when none is named.
    #[serde(default)]
    pub model: Option<String>,
    pub prompt: String,
    #[serde(default)]
    pub negative_prompt: String,
    #[serde(default)]
    pub aspect: Aspect,
    pub count: u32,
    /// The first image's seed (the next ones count up from it); a random one when none is given.
    #[serde(default)]
    pub seed: Option<u32>,
    /// Sampling steps and guidance, where the service takes them.
    #[serde(default)]
    pub steps: Option<u32>,
    #[serde(default)]
    pub guidance: Option<f32>,
    /// A style preset's id (`STYLES`).
    #[serde(default)]
    pub style: Option<String>,
    #[serde(default)]
    pub reference: Option<Reference>,
}

/// A blank form: one square image, everything else the service's default.
impl Default for GenerateRequest {
    fn default() -> Self {
        Self {
            provider: String::new(),
            model: None,
            prompt: String::new(),
            negative_prompt: String::new(),
            aspect: Aspect::Square,
            count: 1,
            seed: None,
            steps: None,
            guidance: None,
            style: None,
            reference: None,
        }
    }
}

impl GenerateRequest {
    /// Everything that can be checked without the server: lengths and ranges, in words.
    pub fn check(&self) -> Result<(), String> {
        if self.prompt.trim().is_empty() {
            return Err("Write a prompt: what the image should show.".into());
        }
        if self.prompt.chars().count() > MAX_PROMPT_CHARS || self.negative_prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(format!("A prompt is at most {MAX_PROMPT_CHARS} characters."));
        }
        if !(1..=MAX_IMAGES).contains(&self.count) {
            return Err(format!("Ask for 1 to {MAX_IMAGES} images."));
        }
        if self.steps.is_some_and(|s| !(1..=150).contains(&s)) {
            return Err("Steps are 1 to 150.".into());
        }
        if self.guidance.is_some_and(|g| !(g.is_finite() && (1.0..=30.0).contains(&g))) {
            return Err("Guidance is 1 to 30.".into());
        }
        if let Some(style) = &self.style {
            if style_by_id(style).is_none() {
                return Err("Unknown style.".into());
            }
        }
        if let Some(reference) = &self.reference {
            if !(reference.strength.is_finite() && (0.0..=1.0).contains(&reference.strength)) {
                return Err("The reference strength is 0 to 1.".into());
            }
        }
        Ok(())
    }

    /// The prompt and negative prompt the service gets: the style's words added.
    pub fn styled(&self) -> (String, String) {
        let prompt = self.prompt.trim();
        let negative = self.negative_prompt.trim();
        match self.style.as_deref().and_then(style_by_id) {
            Some(style) => (
                style.prompt.replace("{prompt}", prompt),
                [negative, style.negative].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(", "),
            ),
            None => (prompt.to_string(), negative.to_string()),
        }
    }
}

/// A look added to the prompt: `{prompt}` stands for what the person wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub id: &'static str,
    pub label: &'static str,
    pub prompt: &'static str,
    pub negative: &'static str,
}

pub const STYLES: &[Style] = &[
    Style {
        id: "photo",
        label: "Photograph",
        prompt: "{prompt}, professional photograph, natural light, sharp focus, high detail",
        negative: "illustration, painting, cartoon, blurry",
    },
    Style {
        id: "cinematic",
        label: "Cinematic",
        prompt: "cinematic film still of {prompt}, shallow depth of field, dramatic lighting, anamorphic, film grain",
        negative: "cartoon, flat lighting",
    },
    Style {
        id: "product",
        label: "Product studio",
        prompt: "{prompt}, studio product photograph, seamless backdrop, softbox lighting, commercial, crisp",
        negative: "clutter, text, watermark",
    },
    Style {
        id: "watercolour",
        label: "Watercolour",
        prompt: "watercolour painting of {prompt}, soft washes, paper texture, loose brushwork",
        negative: "photograph, 3d render",
    },
    Style {
        id: "line-art",
        label: "Line art",
        prompt: "clean line art drawing of {prompt}, black ink on white, minimal",
        negative: "colour, shading, photograph",
    },
    Style {
        id: "isometric",
        label: "Isometric 3D",
        prompt: "isometric 3d render of {prompt}, soft shadows, pastel colours, clay style",
        negative: "photograph, flat",
    },
    Style {
        id: "retro-film",
        label: "Retro film",
        prompt: "{prompt}, 1970s analog film photograph, faded colours, light leaks, grain",
        negative: "digital, oversharpened",
    },
    Style {
        id: "pixel-art",
        label: "Pixel art",
        prompt: "pixel art of {prompt}, 16-bit, limited palette, crisp pixels",
        negative: "blurry, photograph, smooth gradients",
    },
];

pub fn style_by_id(id: &str) -> Option<&'static Style> {
    STYLES.iter().find(|s| s.id == id)
}

/// A prompt to start from: a curated one, or one the person saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptTemplate {
    /// None for the curated ones.
    pub id: Option<TemplateId>,
    pub name: String,
    pub prompt: String,
    #[serde(default)]
    pub negative_prompt: String,
    #[serde(default)]
    pub style: Option<String>,
}

/// Saved templates one workspace may keep.
pub const MAX_TEMPLATES: i64 = 50;

impl PromptTemplate {
    pub fn check(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err("Give the template a name of 1 to 80 characters.".into());
        }
        if self.prompt.trim().is_empty() || self.prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(format!("A template's prompt is 1 to {MAX_PROMPT_CHARS} characters."));
        }
        if self.negative_prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(format!("A prompt is at most {MAX_PROMPT_CHARS} characters."));
        }
        if self.style.as_deref().is_some_and(|s| style_by_id(s).is_none()) {
            return Err("Unknown style.".into());
        }
        Ok(())
    }
}

/// The curated templates every workspace starts with; `[subject]` is meant to be replaced.
pub fn curated_templates() -> Vec<PromptTemplate> {
    let template = |name: &str, prompt: &str, style: &str| PromptTemplate {
        id: None,
        name: name.into(),
        prompt: prompt.into(),
        negative_prompt: String::new(),
        style: Some(style.into()),
    };
    vec![
        template("Product on marble", "[subject] standing on a white marble counter, morning window light", "product"),
        template("Product in nature", "[subject] on a mossy rock in a forest clearing, dappled sunlight", "product"),
        template("Portrait", "portrait of [subject], soft window light, neutral background", "photo"),
        template("Landscape", "wide landscape of [subject] at golden hour", "cinematic"),
        template("Poster", "bold poster illustration of [subject], strong shapes", "isometric"),
    ]
}

/// What a service can take besides a prompt (the studio hides the rest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub negative_prompt: bool,
    pub seed: bool,
    pub steps: bool,
    pub guidance: bool,
    /// Image-to-image from a reference.
    pub reference: bool,
    /// Whether the reference's strength is honoured (else the service decides).
    pub strength: bool,
    /// Generative fill: an image, a mask and a prompt.
    pub fill: bool,
}

/// A configured service as the studio shows it: never its address or key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub name: String,
    /// "OpenAI-compatible Images API" or "Stable Diffusion WebUI".
    pub kind_label: String,
    pub models: Vec<String>,
    pub features: Features,
    pub credits_per_image: u64,
    /// Sizes per aspect, as (aspect key, width, height).
    pub sizes: Vec<(String, u32, u32)>,
}

/// Everything the studio page needs before the person types.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Studio {
    pub providers: Vec<ProviderInfo>,
    pub templates: Vec<PromptTemplate>,
}

/// One generated image of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratedImage {
    /// The image as a photo of the workspace (unsaved until kept; held ones have no links).
    pub photo: PhotoSummary,
    pub seed: Option<u32>,
    /// Saved to the gallery.
    pub saved: bool,
}

/// One run, as the prompt history lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub id: GenerationId,
    pub request: GenerateRequest,
    /// The service's model that made it, the seed actually used, and the size asked for.
    pub model: Option<String>,
    pub seed: Option<u32>,
    pub width: u32,
    pub height: u32,
    /// The run's job while it is known (a day); None once the queue has forgotten it.
    pub state: Option<JobState>,
    /// 0..1.
    pub progress: f32,
    pub error: Option<String>,
    pub created_at: i64,
    /// Images still kept, in order.
    pub images: Vec<GeneratedImage>,
}

impl Generation {
    pub fn finished(&self) -> bool {
        !matches!(self.state, Some(JobState::Queued | JobState::Running))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> GenerateRequest {
        GenerateRequest {
            provider: "local".into(),
            model: None,
            prompt: "a red fox".into(),
            negative_prompt: "blur".into(),
            aspect: Aspect::Square,
            count: 2,
            seed: Some(7),
            steps: Some(20),
            guidance: Some(7.0),
            style: Some("watercolour".into()),
            reference: None,
        }
    }

    #[test]
    fn requests_are_checked_in_words_and_styles_wrap_the_prompt() {
        assert_eq!(request().check(), Ok(()));
        for (bad, says) in [
            (GenerateRequest { prompt: "  ".into(), ..request() }, "Write a prompt"),
            (GenerateRequest { count: 0, ..request() }, "1 to 4 images"),
            (GenerateRequest { count: 5, ..request() }, "1 to 4 images"),
            (GenerateRequest { steps: Some(0), ..request() }, "Steps"),
            (GenerateRequest { guidance: Some(f32::NAN), ..request() }, "Guidance"),
            (GenerateRequest { style: Some("nope".into()), ..request() }, "Unknown style"),
            (GenerateRequest { prompt: "x".repeat(MAX_PROMPT_CHARS + 1), ..request() }, "at most"),
            (
                GenerateRequest {
                    reference: Some(Reference { photo: PhotoId(uuid::Uuid::nil()), strength: 1.5 }),
                    ..request()
                },
                "strength",
            ),
        ] {
            let error = bad.check().expect_err(says);
            assert!(error.contains(says), "{error}");
        }
        let (prompt, negative) = request().styled();
        assert_eq!(prompt, "watercolour painting of a red fox, soft washes, paper texture, loose brushwork");
        assert_eq!(negative, "blur, photograph, 3d render");
        let plain = GenerateRequest { style: None, negative_prompt: String::new(), ..request() };
        assert_eq!(plain.styled(), ("a red fox".to_string(), String::new()));
    }

    #[test]
    fn aspects_make_multiples_of_64_in_their_shape() {
        for aspect in Aspect::ALL {
            let (w, h) = aspect.size(1024);
            assert!(w % 64 == 0 && h % 64 == 0, "{aspect:?}");
            assert_eq!(Aspect::parse(aspect.key()), Some(*aspect));
        }
        assert_eq!(Aspect::Square.size(512), (512, 512));
        assert_eq!(Aspect::Portrait.size(1024), (832, 1280));
        let (w, h) = Aspect::Wide.size(1024);
        assert!(w > h && (w as f32 / h as f32 - 16.0 / 9.0).abs() < 0.1, "{w}x{h}");
    }

    #[test]
    fn curated_templates_pass_their_own_check() {
        for template in curated_templates() {
            assert_eq!(template.check(), Ok(()), "{}", template.name);
        }
        assert!(PromptTemplate { name: " ".into(), ..curated_templates()[0].clone() }.check().is_err());
    }
}
