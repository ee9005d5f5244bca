CREATE OR REPLACE TEMP TABLE ranked AS
SELECT b.*, row_number() OVER (PARTITION BY b.image_id, b.split ORDER BY b.seq) = 1
       AND NOT EXISTS (SELECT 1 FROM known_ids k WHERE k.image_id = b.image_id AND k.split = b.split)
       AS is_new
FROM batch b WHERE b.reason IS NULL
