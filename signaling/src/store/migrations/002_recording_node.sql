-- The node whose recorder leg writes a recording: at start a node finishes the recordings it left
-- 'recording' when it was killed, and not those another node is still writing.
ALTER TABLE recordings ADD COLUMN node_id text;
CREATE INDEX recordings_unfinished ON recordings (node_id) WHERE state = 'recording';
