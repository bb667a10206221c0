//! Sentence embeddings for search by meaning: all-MiniLM-L6-v2 (int8 ONNX) over BERT's uncased
//! WordPiece tokens. Two texts that mean the same have embeddings with a high dot product.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use unicode_normalization::UnicodeNormalization;

use crate::{AiError, Engine};

pub const MODEL: &str = "minilm";
pub const VOCAB: &str = "minilm-vocab";
/// Length of every embedding.
pub const DIMENSIONS: usize = 384;
/// The model was trained on at most 256 tokens; longer texts are cut (their start is kept).
const MAX_TOKENS: usize = 256;
/// BERT leaves longer words unknown rather than splitting them.
const MAX_WORD_CHARS: usize = 100;

/// The WordPiece vocabulary: token → id (the line number in the installed file).
pub struct Vocab {
    ids: HashMap<String, i64>,
    unknown: i64,
    first: i64,
    last: i64,
}

impl Vocab {
    pub fn parse(text: &str) -> Result<Self, AiError> {
        let ids: HashMap<String, i64> = text.lines().zip(0..).map(|(token, id)| (token.to_string(), id)).collect();
        let id = |token: &str| {
            ids.get(token).copied().ok_or_else(|| AiError::ModelInvalid {
                model: VOCAB.into(),
                detail: format!("the vocabulary has no {token}"),
            })
        };
        Ok(Self { unknown: id("[UNK]")?, first: id("[CLS]")?, last: id("[SEP]")?, ids })
    }

    /// The ids the model reads for `text`: `[CLS]`, the word pieces, `[SEP]`.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let mut ids = vec![self.first];
        for word in words(text) {
            if ids.len() >= MAX_TOKENS - 1 {
                break;
            }
            self.pieces(&word, &mut ids);
        }
        ids.truncate(MAX_TOKENS - 1);
        ids.push(self.last);
        ids
    }

    /// Greedy longest-match-first WordPiece, as BERT's tokenizer does: a word that cannot be
    /// split into known pieces is one unknown token.
    fn pieces(&self, word: &str, ids: &mut Vec<i64>) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            ids.push(self.unknown);
            return;
        }
        let mut found = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let mut end = chars.len();
            let mut piece = None;
            while start < end {
                let text: String = chars[start..end].iter().collect();
                let key = if start > 0 { format!("##{text}") } else { text };
                if let Some(&id) = self.ids.get(&key) {
                    piece = Some(id);
                    break;
                }
                end -= 1;
            }
            let Some(id) = piece else {
                ids.push(self.unknown);
                return;
            };
            found.push(id);
            start = end;
        }
        ids.extend(found);
    }
}

/// BERT's basic tokenizer (uncased): control characters dropped, lower case, accents stripped,
/// every punctuation mark and CJK character a word of its own. Search reads keywords this way too.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(std::mem::take(current));
        }
    };
    for c in text.chars().flat_map(char::to_lowercase).nfd() {
        if c == '\0' || c == '\u{fffd}' || is_combining(c) || (c.is_control() && !c.is_whitespace()) {
            continue;
        }
        if c.is_whitespace() {
            flush(&mut current, &mut words);
        } else if is_punctuation(c) || is_cjk(c) {
            flush(&mut current, &mut words);
            words.push(c.to_string());
        } else {
            current.push(c);
        }
    }
    flush(&mut current, &mut words);
    words
}

/// The combining marks that NFD separates from letters (BERT drops category Mn).
fn is_combining(c: char) -> bool {
    matches!(c as u32, 0x300..=0x36f | 0x1ab0..=0x1aff | 0x1dc0..=0x1dff | 0x20d0..=0x20ff | 0xfe20..=0xfe2f)
}

/// ASCII symbols count as punctuation for BERT, as do Unicode's punctuation blocks.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c as u32, 0xa1..=0xbf | 0x2010..=0x2027 | 0x2030..=0x205e | 0x3000..=0x303f | 0xff01..=0xff0f)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4e00..=0x9fff | 0x3400..=0x4dbf | 0x20000..=0x2a6df | 0xf900..=0xfaff | 0x2f800..=0x2fa1f)
}

/// The vocabulary is read once per process (it is 230 KB and never changes while running).
static LOADED: Mutex<Option<Arc<Vocab>>> = Mutex::new(None);

pub fn vocab(engine: &Engine) -> Result<Arc<Vocab>, AiError> {
    let mut loaded = LOADED.lock().map_err(|_| AiError::Inference("the vocabulary lock was poisoned".into()))?;
    if let Some(vocab) = loaded.as_ref() {
        return Ok(vocab.clone());
    }
    let bytes = engine.data_file(VOCAB)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| AiError::ModelInvalid { model: VOCAB.into(), detail: "not UTF-8 text".into() })?;
    let vocab = Arc::new(Vocab::parse(&text)?);
    *loaded = Some(vocab.clone());
    Ok(vocab)
}

/// The text's embedding: mean of the token vectors, L2-normalised.
pub fn embed(engine: &Engine, text: &str) -> Result<Vec<f32>, AiError> {
    let ids = vocab(engine)?.encode(text);
    let n = ids.len();
    let shape = vec![1, n];
    let outputs =
        engine.run_i64(MODEL, vec![(shape.clone(), ids), (shape.clone(), vec![1; n]), (shape, vec![0; n])])?;
    let hidden = outputs.first().ok_or_else(|| AiError::Inference("the model returned nothing".into()))?;
    if hidden.data.len() != n * DIMENSIONS {
        return Err(AiError::ModelInvalid {
            model: MODEL.into(),
            detail: format!("output shape {:?}, expected [1,{n},{DIMENSIONS}]", hidden.shape),
        });
    }
    let mut sum = vec![0.0f32; DIMENSIONS];
    for token in hidden.data.chunks_exact(DIMENSIONS) {
        for (s, v) in sum.iter_mut().zip(token) {
            *s += v;
        }
    }
    Ok(normalised(sum))
}

pub fn normalised(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|v| *v /= norm);
    }
    vector
}

/// The dot product of bytes (an embedding stored compactly) with floats: search scores every
/// photo of a workspace this way, so it is here, where the dev build optimises.
pub fn dot_i8(bytes: &[i8], vector: &[f32]) -> f32 {
    bytes.iter().zip(vector).map(|(b, v)| f32::from(*b) * v).sum()
}

/// Cosine similarity of two normalised embeddings.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "un", "##aff", "##able", ",", "cafe", "!"];
        Vocab::parse(&tokens.join("\n")).unwrap()
    }

    #[test]
    fn words_split_punctuation_and_strip_accents() {
        assert_eq!(words("Héllo,  WORLD!\u{7}"), ["hello", ",", "world", "!"]);
        assert_eq!(words("Café"), ["cafe"]);
    }

    #[test]
    fn word_pieces_match_longest_first_and_unknown_words_are_one_token() {
        let v = vocab();
        assert_eq!(v.encode("unaffable, hello"), [2, 6, 7, 8, 9, 4, 3]);
        assert_eq!(v.encode("xyz world"), [2, 1, 5, 3]);
        assert_eq!(v.encode(""), [2, 3]);
    }

    #[test]
    fn long_texts_are_cut_to_the_models_length() {
        let text = "hello ".repeat(1000);
        let ids = vocab().encode(&text);
        assert_eq!(ids.len(), MAX_TOKENS);
        assert_eq!(ids.last(), Some(&3));
    }
}
