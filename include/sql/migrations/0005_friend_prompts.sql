-- Migration 5: the registration bot's prompts. One row per (LINE WORKS contact, member): the queue of
-- lineworks_friends and the state of the conversation. status: queued (to send, and a failed send stays queued),
-- unlinked (its 社外連絡先 link was removed: to offer again), prompted (the three buttons were sent),
-- already_registered (told the contact is on a 社外連絡先), searching (asked for a search word), registered,
-- ignored (対象外). Older versions wrote failed for a failed send, read as queued.
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
