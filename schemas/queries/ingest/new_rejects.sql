SELECT path, reason, 'ingest' AS stage, split, NULL AS image_id, NULL AS round,
       $ingest_id::VARCHAR AS source_id, $now::TIMESTAMPTZ AS rejected_at
FROM batch WHERE reason IS NOT NULL ORDER BY seq
