-- Migration 5: the registration bot's prompts. One row per (LINE WORKS contact, member) with what the bot
-- told that member about that friend: prompted (the three buttons), already_registered (the contact is on
-- a 社外連絡先 already) or failed (the send failed, the next run tries again). A member is prompted once.
CREATE TABLE IF NOT EXISTS lw_friend_prompts (
    contact_id     TEXT NOT NULL,
    member_user_id TEXT NOT NULL,
    display_name   TEXT NOT NULL,             -- the friend's LINE display name (a failed send is retried)
    status         TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    PRIMARY KEY (contact_id, member_user_id)
);
CREATE TABLE IF NOT EXISTS lw_bot_state (   -- small named facts: 'friends_swept' once the first sweep ran
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
