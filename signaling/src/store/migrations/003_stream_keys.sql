-- Stream keys for WHIP clients such as OBS (docs/PROTOCOL.md "OBS and other WebRTC tools"): one per
-- busker, shown once when made, kept only as a SHA-256 digest. Rotating replaces the row, so the old
-- key stops working at once.
CREATE TABLE stream_keys (
  user_id     text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  key_hash    text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);
