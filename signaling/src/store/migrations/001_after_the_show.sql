-- Recordings, shorts, comments and profiles (docs/PROTOCOL.md "After the show").
-- Lists are paged newest first by `seq` (an identity column): the cursor is the last seq seen, so a
-- page is one index range scan however deep it is.

CREATE TABLE users (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  bio         text NOT NULL DEFAULT '',
  tip_url     text,
  avatar_key  text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recordings (
  id           text PRIMARY KEY,
  busk_id      text NOT NULL,
  owner_id     text NOT NULL REFERENCES users (id),
  file         text NOT NULL,          -- path under DATA_DIR/recordings
  content_type text NOT NULL,
  state        text NOT NULL CHECK (state IN ('recording', 'ready', 'failed')),
  started_at   timestamptz NOT NULL DEFAULT now(),
  ended_at     timestamptz,
  duration_s   double precision,
  lat          double precision,
  lng          double precision
);
CREATE INDEX recordings_owner ON recordings (owner_id, started_at DESC);

CREATE TABLE shorts (
  seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  id           text PRIMARY KEY,
  owner_id     text NOT NULL REFERENCES users (id),
  recording_id text,                   -- the recording may be deleted later; the short stays
  title        text NOT NULL,
  hashtags     text[] NOT NULL DEFAULT '{}',
  duration_s   double precision NOT NULL,
  video_key    text NOT NULL,
  poster_key   text NOT NULL,
  views        bigint NOT NULL DEFAULT 0,
  comments     integer NOT NULL DEFAULT 0,
  lat          double precision,
  lng          double precision,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shorts_owner ON shorts (owner_id, seq DESC);
CREATE INDEX shorts_lat ON shorts (lat, seq) WHERE lat IS NOT NULL;

-- One row per (tag, short): the tag feed is a range scan on (tag, seq).
CREATE TABLE short_tags (
  tag      text NOT NULL,
  seq      bigint NOT NULL,
  short_id text NOT NULL REFERENCES shorts (id) ON DELETE CASCADE,
  PRIMARY KEY (tag, seq)
);
CREATE INDEX short_tags_short ON short_tags (short_id);

CREATE TABLE comments (
  seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  id         text PRIMARY KEY,
  short_id   text NOT NULL REFERENCES shorts (id) ON DELETE CASCADE,
  author_id  text NOT NULL REFERENCES users (id),
  text       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_short ON comments (short_id, seq DESC);
