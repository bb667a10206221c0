-- People (issue 21): faces grouped by person. Face descriptors are biometric data, so nothing
-- here is computed until the account's owner switches People on, and switching it off deletes
-- every face and person at once.

-- When the account's owner switched People on (NULL: off, the default).
ALTER TABLE accounts ADD COLUMN people_enabled_at BIGINT;
-- When the photo's faces were looked for (NULL: not yet, or People was switched off since).
ALTER TABLE photos ADD COLUMN faces_scanned_at BIGINT;

-- Every switch on (with the wording agreed to) and off, as evidence of consent (GDPR Art. 9(2)(a)).
CREATE TABLE people_consents (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    action          TEXT NOT NULL CHECK (action IN ('grant', 'withdraw')),
    -- The version of the consent text shown (app::people::CONSENT_VERSION).
    text_version    BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX people_consents_by_account ON people_consents (account_id, created_at);

-- A person: a group of similar faces, named by the owner or not.
CREATE TABLE people (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name        TEXT,
    -- The unit-length mean of its faces' descriptors, as faces.embedding.
    centroid    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX people_by_owner ON people (owner_id, created_at);

-- A face found in a photo: where (fractions of the photo, in ten-thousandths) and its FaceRes
-- descriptor (1024 little-endian f32 in base64); goes with its photo.
CREATE TABLE faces (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    photo_id    TEXT NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    person_id   TEXT REFERENCES people (id) ON DELETE SET NULL,
    box_x       BIGINT NOT NULL,
    box_y       BIGINT NOT NULL,
    box_w       BIGINT NOT NULL,
    box_h       BIGINT NOT NULL,
    embedding   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX faces_by_owner ON faces (owner_id, person_id);
CREATE INDEX faces_by_photo ON faces (photo_id);
CREATE INDEX faces_by_person ON faces (person_id);
