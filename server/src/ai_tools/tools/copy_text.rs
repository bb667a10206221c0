//! Copy text: the text in the photo read by PP-OCRv6 (`ai::ocr`), line by line. The job's details
//! carry it to the panel, and `tools::run` keeps it on the photo (`photos.ocr_text`) for search
//! and alt-text.

use async_trait::async_trait;

use super::{Failure, Produced, Tool, Work};

pub struct CopyText;

#[async_trait]
impl Tool for CopyText {
    fn run(&self, work: Work<'_>) -> Result<(Produced, String), Failure> {
        let lines = ai::ocr::read_text(work.engine, &work.image, work.progress)?;
        let method = match lines.len() {
            0 => "no text found by PP-OCRv6".to_string(),
            1 => "1 line read by PP-OCRv6".to_string(),
            n => format!("{n} lines read by PP-OCRv6"),
        };
        Ok((Produced::Text(ai::ocr::joined(&lines)), method))
    }
}
