SELECT image_id, split, path, label, true_label, width, height, mode, format, bytes,
       $ingest_id::VARCHAR AS ingest_id, $now::TIMESTAMPTZ AS ingested_at, shard, member_offset
FROM ranked WHERE is_new ORDER BY seq
