SELECT image_id, split, path, label, true_label, width, height, mode, format, bytes,
       ?::VARCHAR AS ingest_id, ?::TIMESTAMPTZ AS ingested_at, shard, member_offset
FROM ranked WHERE is_new ORDER BY seq
