SELECT path, reason, 'ingest' AS stage, split, NULL AS image_id, NULL AS round,
       ?::VARCHAR AS source_id, ?::TIMESTAMPTZ AS rejected_at
FROM batch WHERE reason IS NOT NULL ORDER BY seq
