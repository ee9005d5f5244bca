SELECT image_id, split, path, label, $ingest_id::VARCHAR AS ingest_id, $now::TIMESTAMPTZ AS ingested_at
FROM ranked WHERE NOT is_new ORDER BY seq
