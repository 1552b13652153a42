-- Migration 3: one LINE user befriended by several members. Each member's contact of that LINE user
-- shares linkedExternalUser.id (line_user_id), and a contact may list several members (buddy_user_ids,
-- space-separated). The resolver links a talk to each such contact whose member takes part. Friends
-- cached before this migration get both on the next directory refresh (every run does one).
ALTER TABLE lw_friends ADD COLUMN line_user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE lw_friends ADD COLUMN buddy_user_ids TEXT NOT NULL DEFAULT '';
