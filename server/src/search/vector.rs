//! Embeddings as the index keeps them: 384 signed bytes scaled by the vector's largest value
//! (a quarter of the floats' size, and the cosine changes by well under 0.01), as text so both
//! databases store them the same way.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use ai::embed::DIMENSIONS;

/// An embedding in its compact form: `scale * bytes[i] / 127` is component i.
#[derive(Clone, Debug, PartialEq)]
pub struct Packed {
    pub scale: f32,
    pub bytes: Vec<i8>,
}

impl Packed {
    pub fn pack(vector: &[f32]) -> Self {
        let scale = vector.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let bytes = vector
            .iter()
            .map(|v| if scale > 0.0 { (v / scale * 127.0).round().clamp(-127.0, 127.0) as i8 } else { 0 })
            .collect();
        Self { scale, bytes }
    }

    /// "scale:base64", the column's text.
    pub fn to_text(&self) -> String {
        let raw: Vec<u8> = self.bytes.iter().map(|b| *b as u8).collect();
        format!("{}:{}", self.scale, STANDARD.encode(raw))
    }

    /// `None` for text that is not a packed embedding of the model's length.
    pub fn from_text(text: &str) -> Option<Self> {
        let (scale, data) = text.split_once(':')?;
        let scale: f32 = scale.parse().ok().filter(|s: &f32| s.is_finite() && *s >= 0.0)?;
        let raw = STANDARD.decode(data).ok()?;
        (raw.len() == DIMENSIONS).then(|| Self { scale, bytes: raw.into_iter().map(|b| b as i8).collect() })
    }

    /// The components it stands for.
    pub fn values(&self) -> Vec<f32> {
        self.bytes.iter().map(|b| f32::from(*b) * self.scale / 127.0).collect()
    }

    /// Cosine with a normalised query vector.
    pub fn similarity(&self, query: &[f32]) -> f32 {
        ai::embed::dot_i8(&self.bytes, query) * self.scale / 127.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_the_cosine() {
        let raw: Vec<f32> = (0..DIMENSIONS).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
        let vector = ai::embed::normalised(raw);
        let packed = Packed::from_text(&Packed::pack(&vector).to_text()).unwrap();
        assert!((packed.similarity(&vector) - 1.0).abs() < 0.01);
        assert_eq!(Packed::from_text("1:AAAA"), None, "a short vector is refused");
        assert_eq!(Packed::from_text("nan:"), None);
        assert_eq!(Packed::from_text("garbage"), None);
    }
}
