-- Migration 4: the bot's callbacks already accepted (SHA-256 of signature and body), so that a replayed
-- copy changes nothing, whichever API server worker receives it. Entries older than a week are dropped.
CREATE TABLE IF NOT EXISTS lw_bot_callbacks (
    digest      TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lw_bot_callbacks_received ON lw_bot_callbacks (received_at);
