-- Bluezone health-authority server, schema version 2: publishing that can be checked and
-- repaired, key retention, and one key stored once.

-- The SHA-256 of each published file as written, so a start-up check can prove that every
-- key marked published is in an intact file on disk; a file found missing or altered is
-- withdrawn from the index and its keys are published again.
ALTER TABLE files ADD COLUMN sha256 BLOB;
ALTER TABLE files ADD COLUMN withdrawn_at INTEGER;
CREATE INDEX files_by_created ON files (created_at);

-- A key uploaded again (a second code, a replayed certificate) is stored once.
CREATE INDEX upload_keys_by_key ON upload_keys (key_data);
CREATE INDEX upload_keys_by_file ON upload_keys (file_id);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
CREATE INDEX codes_by_expiry ON codes (expires_at);

-- The key HMAC a token was exchanged for: the same token and HMAC again (a phone retrying
-- after the certificate's answer was lost) get the same certificate back.
ALTER TABLE tokens ADD COLUMN tek_hmac BLOB;
