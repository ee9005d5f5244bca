WITH g AS (SELECT group_id, scope, count(*) AS size FROM duplicates WHERE round = $round GROUP BY ALL),
-- where each image is read from: its first path (arg_min_null keeps a loose file's NULL shard)
src AS (SELECT image_id, min(path) AS path, arg_min_null(shard, path) AS shard,
               arg_min_null(member_offset, path) AS member_offset, arg_min_null(bytes, path) AS bytes
        FROM images GROUP BY image_id)
SELECT d.group_id, d.scope, d.image_id, d.similarity, d.excluded, g.size,
       a.path, a.shard, a.member_offset, a.bytes, b.path AS other_path, b.shard AS other_shard,
       b.member_offset AS other_offset, b.bytes AS other_bytes
FROM duplicates d JOIN g USING (group_id, scope)
LEFT JOIN src a ON a.image_id = d.image_id LEFT JOIN src b ON b.image_id = d.duplicate_of
WHERE d.round = $round AND d.kind <> 'exact'
  AND d.group_id IN (SELECT group_id FROM g ORDER BY size DESC, group_id LIMIT $limit)
QUALIFY row_number() OVER (PARTITION BY d.group_id, d.scope ORDER BY d.excluded, d.image_id) <= $members
ORDER BY g.size DESC, d.group_id, d.excluded, d.image_id
