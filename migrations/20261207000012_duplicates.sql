-- Near-duplicates (issue 21): each photo's perceptual hash and how sharp and well exposed it is,
-- so the workspace can group copies and bursts and keep the best. Computed when a photo is stored
-- (from its thumbnail), or later on for photos stored before this migration.

-- The 64-bit DCT hash as 16 hex digits (portable: no unsigned 64-bit integer on both databases).
ALTER TABLE photos ADD COLUMN phash TEXT;
-- The variance of the Laplacian, in hundredths, and exposure in thousandths (0 to 1000).
ALTER TABLE photos ADD COLUMN sharpness BIGINT;
ALTER TABLE photos ADD COLUMN exposure BIGINT;
-- When the camera took it (EXIF DateTimeOriginal, seconds, the camera's clock read as UTC), for
-- bursts; NULL when the file did not say.
ALTER TABLE photos ADD COLUMN taken_at BIGINT;
