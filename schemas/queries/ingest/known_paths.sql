CREATE OR REPLACE TEMP TABLE known_paths AS
SELECT path FROM images UNION SELECT path FROM aliases
UNION SELECT path FROM rejects WHERE stage = 'ingest'
