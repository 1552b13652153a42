-- Migration 1: the archive/state schema of the talk-log pipeline (with provenance: lw_sources,
-- lw_message_sources). Written with IF NOT EXISTS, so an archive made before migrations existed (by the
-- old create_schema, which had every table but the two provenance ones) is brought to version 1 as well.
CREATE TABLE IF NOT EXISTS lw_messages (
    message_key    TEXT PRIMARY KEY,          -- DESIGN §3.2: no message id exists, this hash is the id
    domain_id      TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    sent_at        TEXT NOT NULL,
    sender_raw     TEXT NOT NULL,
    sender_kind    TEXT NOT NULL,             -- member | bot | external
    sender_name    TEXT NOT NULL,
    sender_email   TEXT NOT NULL,
    recipients_raw TEXT NOT NULL,
    body           TEXT NOT NULL,
    content_kind   TEXT NOT NULL,
    source         TEXT NOT NULL,             -- lw_sources.source_id it came from (a Monitoring source wins)
    run_id         TEXT NOT NULL,             -- the run that first archived it
    resolution     TEXT NOT NULL DEFAULT 'new' -- new | resolved | internal | bot | unresolved
);
CREATE INDEX IF NOT EXISTS lw_messages_resolution ON lw_messages (resolution, sent_at);
CREATE TABLE IF NOT EXISTS lw_sources (           -- provenance: every download window and imported file
    source_id    TEXT PRIMARY KEY,                -- monitoring:<from>-<to> (UTC) | file:<sha256>
    kind         TEXT NOT NULL,                   -- monitoring | file
    name         TEXT NOT NULL,                   -- the staged file's name / the imported file's name
    sha256       TEXT NOT NULL,                   -- of the file as archived
    window_start TEXT,                            -- monitoring: the download window (ISO UTC)
    window_end   TEXT,
    triggered_by TEXT,                            -- file: the user who triggered the import
    run_id       TEXT NOT NULL,                   -- the run that first archived it
    archived_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lw_message_sources (   -- which file imports delivered which messages
    source_id   TEXT NOT NULL,
    message_key TEXT NOT NULL,
    PRIMARY KEY (source_id, message_key)
);
CREATE INDEX IF NOT EXISTS lw_message_sources_key ON lw_message_sources (message_key);
CREATE TABLE IF NOT EXISTS lw_quarantine (
    source     TEXT NOT NULL,                     -- lw_sources.source_id
    row_number INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    raw        TEXT NOT NULL,
    detail     TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    PRIMARY KEY (source, row_number, reason)
);
CREATE TABLE IF NOT EXISTS lw_members (
    user_id      TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lw_friends (
    contact_id     TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    match_name     TEXT NOT NULL,             -- normalised display name used for matching
    master_user_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lw_friends_match ON lw_friends (match_name);
CREATE TABLE IF NOT EXISTS lw_message_friends (   -- which linked LINE users a message belongs to
    message_key TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    hour_bucket TEXT NOT NULL,
    PRIMARY KEY (message_key, contact_id)
);
CREATE INDEX IF NOT EXISTS lw_message_friends_hour ON lw_message_friends (contact_id, hour_bucket);
CREATE TABLE IF NOT EXISTS lw_resolution_issues (  -- participants that could not be resolved, with why
    message_key TEXT NOT NULL,
    participant TEXT NOT NULL,
    reason      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    PRIMARY KEY (message_key, participant)
);
CREATE TABLE IF NOT EXISTS lw_pending_hours (      -- (friend, hour) to (re)render and load
    contact_id  TEXT NOT NULL,
    hour_bucket TEXT NOT NULL,
    PRIMARY KEY (contact_id, hour_bucket)
);
CREATE TABLE IF NOT EXISTS lw_outbox (             -- rendered records waiting for the load task
    activity_key TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL,
    hour_bucket  TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lw_split_hours (       -- (friend, hour)s last rendered in more than one part
    activity_key TEXT PRIMARY KEY,                -- the hour's first key (LW-<domain>-<contact>-<hour>)
    parts        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lw_stale_parts (       -- parts an hour no longer has: load deletes their Tasks
    activity_key TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lw_activities (         -- what Salesforce has, per activity key
    activity_key  TEXT PRIMARY KEY,
    contact_id    TEXT NOT NULL,
    hour_bucket   TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    sf_id         TEXT,
    status        TEXT NOT NULL,               -- created | updated | rejected
    error_code    TEXT,
    error_message TEXT,
    run_id        TEXT NOT NULL
);
