-- Text in photos (issue 21): what OCR read in a photo, rows joined by newlines, for search, the
-- "copy text" tool and alt-text. NULL: not read yet; '': read, and no text found.
ALTER TABLE photos ADD COLUMN ocr_text TEXT;
