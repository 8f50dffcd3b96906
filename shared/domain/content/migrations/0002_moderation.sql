-- Who hid a post, and which version of it moderation last ruled on.
-- Decisions name the post version they judged (its created_at or
-- updated_at). Applying one moves updated_at forward, so consumers see the
-- change, without making the post a new version for later decisions:
-- while updated_at equals moderated_at, the version moderation judged is
-- moderation_version.
ALTER TABLE posts
    -- 'auto' for the rules, otherwise the reviewing admin's id; '' when not
    -- hidden. An automatic allow restores only what the rules hid.
    ADD COLUMN hidden_by          text        NOT NULL DEFAULT '',
    ADD COLUMN moderated_at       timestamptz,
    ADD COLUMN moderation_version timestamptz;
