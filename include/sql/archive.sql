-- Archive/state database of the talk-log pipeline (connection `lineworks_archive`).
-- Portable SQL: runs on SQLite (default, a local file) and PostgreSQL (production).
-- Times are ISO-8601 UTC text ('2026-11-20T00:05:00Z', sortable); hour buckets are the org's local
-- hour as 'YYYYMMDDHH'. Statements are split on the `-- name:` markers and run by plugins/lineworks_salesforce/archive.
-- The tables themselves are made by the versioned migrations in include/sql/migrations/ (`archive migrate`).

-- name: insert_message
INSERT INTO lw_messages (message_key, domain_id, channel_id, sent_at, sender_raw, sender_kind, sender_name,
                         sender_email, recipients_raw, body, content_kind, source, run_id)
VALUES (:message_key, :domain_id, :channel_id, :sent_at, :sender_raw, :sender_kind, :sender_name,
        :sender_email, :recipients_raw, :body, :content_kind, :source, :run_id)
-- a message first seen in an imported file and then in a Monitoring download is the download's: forgetting
-- the file later keeps it
ON CONFLICT (message_key) DO UPDATE SET source = excluded.source
WHERE lw_messages.source LIKE 'file:%' AND excluded.source LIKE 'monitoring:%';

-- name: upsert_source
INSERT INTO lw_sources (source_id, kind, name, sha256, window_start, window_end, triggered_by, run_id, archived_at)
VALUES (:source_id, :kind, :name, :sha256, :window_start, :window_end, :triggered_by, :run_id, :archived_at)
ON CONFLICT (source_id) DO NOTHING;

-- name: insert_message_source
INSERT INTO lw_message_sources (source_id, message_key) VALUES (:source_id, :message_key)
ON CONFLICT (source_id, message_key) DO NOTHING;

-- name: sources
SELECT s.source_id, s.kind, s.name, s.sha256, s.window_start, s.window_end, s.triggered_by, s.run_id,
       s.archived_at,
       (SELECT COUNT(*) FROM lw_messages m WHERE m.source = s.source_id) AS messages,
       (SELECT COUNT(*) FROM lw_message_sources ms WHERE ms.source_id = s.source_id) AS file_lines,
       (SELECT COUNT(*) FROM lw_quarantine q WHERE q.source = s.source_id) AS quarantined
FROM lw_sources s
WHERE (:kind IS NULL OR s.kind = :kind) AND (:source_id IS NULL OR s.source_id = :source_id)
ORDER BY s.archived_at, s.source_id;

-- name: source_lines
-- the messages a file import delivered, whether it was their first source (own) or not
SELECT m.message_key, m.sent_at, m.channel_id, m.sender_kind, m.sender_name, m.content_kind, m.body,
       m.source = ms.source_id AS own
FROM lw_message_sources ms JOIN lw_messages m ON m.message_key = ms.message_key
WHERE ms.source_id = :source_id
ORDER BY m.sent_at, m.message_key;

-- name: forget_hours
-- the (friend, hour)s a file import's own messages are in: rendered again once the messages are gone
SELECT DISTINCT f.contact_id, f.hour_bucket
FROM lw_message_friends f JOIN lw_messages m ON m.message_key = f.message_key
WHERE m.source = :source_id;

-- name: forget_reassign
-- a message another imported file also delivered stays, as that file's
UPDATE lw_messages SET source = (
    SELECT MIN(ms.source_id) FROM lw_message_sources ms
    WHERE ms.message_key = lw_messages.message_key AND ms.source_id <> :source_id)
WHERE source = :source_id
  AND EXISTS (SELECT 1 FROM lw_message_sources ms
              WHERE ms.message_key = lw_messages.message_key AND ms.source_id <> :source_id);

-- name: source_counts
SELECT (SELECT COUNT(*) FROM lw_messages WHERE source = :source_id) AS messages,
       (SELECT COUNT(*) FROM lw_quarantine WHERE source = :source_id) AS quarantined;

-- name: forget_message_friends
DELETE FROM lw_message_friends
WHERE message_key IN (SELECT message_key FROM lw_messages WHERE source = :source_id);

-- name: forget_resolution_issues
DELETE FROM lw_resolution_issues
WHERE message_key IN (SELECT message_key FROM lw_messages WHERE source = :source_id);

-- name: forget_messages
DELETE FROM lw_messages WHERE source = :source_id;

-- name: forget_message_sources
DELETE FROM lw_message_sources WHERE source_id = :source_id;

-- name: forget_quarantine
DELETE FROM lw_quarantine WHERE source = :source_id;

-- name: forget_source
DELETE FROM lw_sources WHERE source_id = :source_id;

-- name: hour_message_count
SELECT COUNT(*) AS n FROM lw_message_friends WHERE contact_id = :contact_id AND hour_bucket = :hour_bucket;

-- name: hour_activities
SELECT activity_key FROM lw_activities WHERE contact_id = :contact_id AND hour_bucket = :hour_bucket;

-- name: delete_outbox_hour
DELETE FROM lw_outbox WHERE contact_id = :contact_id AND hour_bucket = :hour_bucket;

-- name: insert_quarantine
INSERT INTO lw_quarantine (source, row_number, reason, raw, detail, run_id)
VALUES (:source, :row_number, :reason, :raw, :detail, :run_id)
ON CONFLICT (source, row_number, reason) DO NOTHING;

-- name: members
SELECT user_id, email, display_name FROM lw_members;

-- name: friends
SELECT contact_id, display_name, master_user_id, line_user_id, buddy_user_ids FROM lw_friends;

-- name: message_count
SELECT COUNT(*) AS n FROM lw_messages;

-- name: pending_hour_count
SELECT COUNT(*) AS n FROM lw_pending_hours;

-- name: upsert_member
INSERT INTO lw_members (user_id, email, display_name) VALUES (:user_id, :email, :display_name)
ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, display_name = excluded.display_name;

-- name: upsert_friend
INSERT INTO lw_friends (contact_id, display_name, match_name, master_user_id, line_user_id, buddy_user_ids)
VALUES (:contact_id, :display_name, :match_name, :master_user_id, :line_user_id, :buddy_user_ids)
ON CONFLICT (contact_id) DO UPDATE SET display_name = excluded.display_name, match_name = excluded.match_name,
    master_user_id = excluded.master_user_id, line_user_id = excluded.line_user_id,
    buddy_user_ids = excluded.buddy_user_ids;

-- name: messages_to_resolve
SELECT message_key, channel_id, sent_at, sender_raw, sender_kind, sender_name, sender_email, recipients_raw,
       resolution
FROM lw_messages
WHERE resolution = 'new'
   OR (resolution = 'unresolved' AND sent_at >= :retry_since)
   -- resolved for some participants but not all (e.g. a group talk with a friend added later)
   OR (resolution = 'resolved' AND sent_at >= :retry_since
       AND message_key IN (SELECT message_key FROM lw_resolution_issues))
ORDER BY sent_at, message_key;

-- name: message_friends_of
SELECT message_key, contact_id FROM lw_message_friends WHERE message_key IN :keys;

-- name: content_hashes_of
SELECT activity_key, content_hash FROM lw_activities WHERE activity_key IN :keys;

-- name: set_resolution
UPDATE lw_messages SET resolution = :resolution WHERE message_key = :message_key;

-- name: insert_message_friend
INSERT INTO lw_message_friends (message_key, contact_id, hour_bucket) VALUES (:message_key, :contact_id, :hour_bucket)
ON CONFLICT (message_key, contact_id) DO NOTHING;

-- name: insert_resolution_issue
INSERT INTO lw_resolution_issues (message_key, participant, reason, run_id)
VALUES (:message_key, :participant, :reason, :run_id)
ON CONFLICT (message_key, participant) DO UPDATE SET reason = excluded.reason, run_id = excluded.run_id;

-- name: clear_resolution_issue
DELETE FROM lw_resolution_issues WHERE message_key = :message_key;

-- name: insert_pending
INSERT INTO lw_pending_hours (contact_id, hour_bucket) VALUES (:contact_id, :hour_bucket)
ON CONFLICT (contact_id, hour_bucket) DO NOTHING;

-- name: pending_hours_in_range
-- every linked (friend, hour) of [first_hour, end_hour): a re-render after a settings change
INSERT INTO lw_pending_hours (contact_id, hour_bucket)
SELECT DISTINCT contact_id, hour_bucket FROM lw_message_friends
WHERE hour_bucket >= :first_hour AND hour_bucket < :end_hour
ON CONFLICT (contact_id, hour_bucket) DO NOTHING;

-- name: pending_messages
-- grouped by (friend, hour) only: the renderer orders each hour's lines itself (no sort per hour here)
SELECT f.contact_id, f.hour_bucket, m.message_key, m.channel_id, m.sent_at, m.sender_raw, m.recipients_raw,
       m.body, m.content_kind
FROM lw_pending_hours p
JOIN lw_message_friends f ON f.contact_id = p.contact_id AND f.hour_bucket = p.hour_bucket
JOIN lw_messages m ON m.message_key = f.message_key
ORDER BY f.contact_id, f.hour_bucket;

-- name: pending_contacts
SELECT DISTINCT contact_id FROM lw_pending_hours;

-- name: delete_pending
DELETE FROM lw_pending_hours WHERE contact_id = :contact_id AND hour_bucket = :hour_bucket;

-- name: upsert_outbox
INSERT INTO lw_outbox (activity_key, contact_id, hour_bucket, content_hash, record)
VALUES (:activity_key, :contact_id, :hour_bucket, :content_hash, :record)
ON CONFLICT (activity_key) DO UPDATE SET content_hash = excluded.content_hash, record = excluded.record;

-- name: outbox_slice
SELECT activity_key, contact_id, hour_bucket, content_hash, record FROM lw_outbox WHERE activity_key > :after
ORDER BY activity_key LIMIT :limit;

-- name: delete_outbox
DELETE FROM lw_outbox WHERE activity_key = :activity_key;

-- name: split_hours
SELECT activity_key, parts FROM lw_split_hours;

-- name: upsert_split_hour
INSERT INTO lw_split_hours (activity_key, parts) VALUES (:activity_key, :parts)
ON CONFLICT (activity_key) DO UPDATE SET parts = excluded.parts;

-- name: delete_split_hour
DELETE FROM lw_split_hours WHERE activity_key = :activity_key;

-- name: insert_stale_part
INSERT INTO lw_stale_parts (activity_key, run_id) VALUES (:activity_key, :run_id)
ON CONFLICT (activity_key) DO NOTHING;

-- name: delete_stale_part
DELETE FROM lw_stale_parts WHERE activity_key = :activity_key;

-- name: stale_parts
SELECT s.activity_key, a.sf_id
FROM lw_stale_parts s LEFT JOIN lw_activities a ON a.activity_key = s.activity_key
ORDER BY s.activity_key;

-- name: delete_activity
DELETE FROM lw_activities WHERE activity_key = :activity_key;

-- name: upsert_activity
INSERT INTO lw_activities (activity_key, contact_id, hour_bucket, content_hash, sf_id, status, error_code,
                           error_message, run_id)
VALUES (:activity_key, :contact_id, :hour_bucket, :content_hash, :sf_id, :status, :error_code, :error_message,
        :run_id)
ON CONFLICT (activity_key) DO UPDATE SET content_hash = excluded.content_hash,
    sf_id = COALESCE(excluded.sf_id, lw_activities.sf_id), status = excluded.status,
    error_code = excluded.error_code, error_message = excluded.error_message, run_id = excluded.run_id;

-- name: first_bot_callback
INSERT INTO lw_bot_callbacks (digest, received_at) VALUES (:digest, :received_at)
ON CONFLICT (digest) DO NOTHING;

-- name: forget_old_bot_callbacks
DELETE FROM lw_bot_callbacks WHERE received_at < :before;

-- name: friend_prompt_statuses
SELECT contact_id, member_user_id, display_name, status, updated_at FROM lw_friend_prompts;

-- name: set_friend_prompt
INSERT INTO lw_friend_prompts (contact_id, member_user_id, display_name, status, updated_at, run_id)
VALUES (:contact_id, :member_user_id, :display_name, :status, :updated_at, :run_id)
ON CONFLICT (contact_id, member_user_id) DO UPDATE SET display_name = excluded.display_name,
    status = excluded.status, updated_at = excluded.updated_at, run_id = excluded.run_id;

-- name: bot_state
SELECT value FROM lw_bot_state WHERE name = :name;

-- name: set_bot_state
INSERT INTO lw_bot_state (name, value) VALUES (:name, :value)
ON CONFLICT (name) DO UPDATE SET value = excluded.value;

-- name: friend_prompt
SELECT contact_id, member_user_id, display_name, status, updated_at FROM lw_friend_prompts
WHERE contact_id = :contact_id AND member_user_id = :member_user_id;

-- name: member_searching
SELECT contact_id, display_name FROM lw_friend_prompts
WHERE member_user_id = :member_user_id AND status = 'searching' AND updated_at >= :since
ORDER BY updated_at DESC, contact_id LIMIT 1;
