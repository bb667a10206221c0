//! The document's schemas of the workspace's own request types (`EditRecipe`, `ToolRequest`,
//! `ExportSettings`, `Pipeline`, `GenerateRequest`): the API takes them exactly as the pages send
//! them and checks them with the same code, so here they are described (their discriminators and
//! main fields) rather than derived: `app` and `recipe` compile to WebAssembly too and carry no
//! OpenAPI dependency.

use std::borrow::Cow;

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer)
}

/// A field that may be `null` (serialised as such when not set).
fn nullable(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([kind, Type::Null]))
}

fn tagged(tag: &str, values: impl IntoIterator<Item = &'static str>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property(tag, string().enum_values(Some(values)))
        .required(tag)
}

macro_rules! described {
    ($name:ident, $title:literal, $schema:expr) => {
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($title)
            }
        }
    };
}

/// The operations of an edit, as `EditOp`'s `op` tags.
pub const EDIT_OPS: &[&str] = &[
    "crop",
    "rotate",
    "straighten",
    "flip_horizontal",
    "flip_vertical",
    "resize",
    "grayscale",
    "brightness",
    "contrast",
    "saturation",
    "hue",
    "gamma",
    "sharpen",
    "blur",
    "vignette",
    "filter",
    "film_grain",
    "halftone",
    "duotone",
    "posterize",
    "vhs",
    "light_leak",
    "polaroid_frame",
];

described!(
    RecipeSchema,
    "EditRecipe",
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "The editor's recipe: operations applied in order to the full-resolution original, e.g. \
             {\"ops\":[{\"op\":\"rotate\",\"quarter_turns\":1},{\"op\":\"brightness\",\"amount\":20}]}. \
             Each operation is an object tagged by `op` with that operation's fields."
        ))
        .property(
            "ops",
            ArrayBuilder::new().items(tagged("op", EDIT_OPS.iter().copied(), "One edit operation and its fields."))
        )
        .required("ops")
);

described!(
    ToolRequestSchema,
    "ToolRequest",
    tagged(
        "tool",
        app::ai_tools::ToolKind::ALL.iter().map(|tool| tool.name()),
        "An AI tool and its options, tagged by `tool`: remove-background {portrait, backdrop, refine, feather}, \
         upscale {factor, quality}, erase {mask: a PNG data URL, fill}, describe, product-scene {scene}, \
         style-transfer {style, strength}, blur-faces {style, strength, faces}, copy-text."
    )
);

described!(
    ExportSettingsSchema,
    "ExportSettings",
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("How to export; every field is optional (JPEG, quality 85, full size, no metadata)."))
        .property("format", string().enum_values(Some(["jpeg", "png", "webp", "webp-lossless", "avif"])))
        .property("quality", integer().minimum(Some(1)).maximum(Some(100)))
        .property("max_side", integer().minimum(Some(1)))
        .property("target_kb", integer().minimum(Some(1)))
        .property("describe", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("author", string())
        .property("copyright", string())
        .property(
            "preset",
            string().description(Some("A preset's id: its frame, format and weight replace the rest."))
        )
);

described!(
    PipelineSchema,
    "Pipeline",
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "A named list of steps, each tagged by `step`: edit {recipe}, tool {request: a ToolRequest}, \
             export {settings: ExportSettings} (last)."
        ))
        .property("name", string())
        .property("steps", ArrayBuilder::new().items(tagged("step", ["edit", "tool", "export"], "One step.")))
        .required("name")
        .required("steps")
);

described!(
    GenerateRequestSchema,
    "GenerateRequest",
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("One generation run: a configured image service by name, a prompt, how many images."))
        .property("provider", string())
        .property("model", nullable(Type::String))
        .property("prompt", string())
        .property("negative_prompt", string())
        .property("aspect", string().enum_values(Some(["square", "portrait", "landscape", "wide", "tall"])))
        .property("count", integer().minimum(Some(1)))
        .property("seed", nullable(Type::Integer))
        .property("steps", nullable(Type::Integer))
        .property("guidance", nullable(Type::Number))
        .property("style", nullable(Type::String))
        .property(
            "reference",
            nullable(Type::Object)
                .description(Some("Image-to-image: {photo: a photo id, strength: 0 keeps it, 1 ignores it}."))
        )
        .required("provider")
        .required("prompt")
        .required("count")
);

described!(
    Binary,
    "Binary",
    string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Binary)))
);
