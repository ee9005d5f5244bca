SELECT stage, split_part(reason, ':', 1) AS reason, count(*) AS files
FROM rejects GROUP BY ALL ORDER BY files DESC, stage, reason
