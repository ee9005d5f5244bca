SELECT image_id, split, path, label, ?::VARCHAR AS ingest_id, ?::TIMESTAMPTZ AS ingested_at
FROM ranked WHERE NOT is_new ORDER BY seq
