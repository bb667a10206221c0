-- Image generation (issue 18): every run a person starts (the prompt history), their saved
-- prompt templates, and which run made a photo.

-- One run: the request as asked (JSON: prompt, negative prompt, aspect, count, style, steps,
-- guidance, reference), the service and model it went to, the seed used and the size asked for.
-- Its job on the queue has the same id and carries the same request; the job lives a day, the
-- run until the person deletes it or the retention sweep removes it with the saved versions'
-- schedule. `prompt` is kept apart (lower-cased copy in `search`) for searching the history.
CREATE TABLE generations (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    request     TEXT NOT NULL,
    search      TEXT NOT NULL,
    provider    TEXT NOT NULL,
    model       TEXT,
    seed        BIGINT,
    width       BIGINT NOT NULL,
    height      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX generations_by_owner ON generations (owner_id, created_at);

-- A person's own prompt templates.
CREATE TABLE prompt_templates (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    negative_prompt  TEXT NOT NULL,
    style            TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX prompt_templates_by_owner ON prompt_templates (owner_id, created_at);

-- A generated image is a photo of the workspace (kept, moderated and deleted like an upload);
-- these say which run made it and with which seed.
ALTER TABLE photos ADD COLUMN generation_id TEXT;
ALTER TABLE photos ADD COLUMN seed BIGINT;
CREATE INDEX photos_by_generation ON photos (generation_id);
