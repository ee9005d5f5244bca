-- Per wanted image (in the query's order): where it is read from (its first path; unlabeled rows
-- first), and round $round's prediction of it with the checkpoint and model that made it.
WITH src AS (
    SELECT image_id,
           arg_min(path, array_position(['unlabeled', 'val', 'test', 'train'], split)) AS path,
           arg_min_null(shard, array_position(['unlabeled', 'val', 'test', 'train'], split)) AS shard,
           arg_min_null(member_offset, array_position(['unlabeled', 'val', 'test', 'train'], split)) AS member_offset,
           arg_min_null(bytes, array_position(['unlabeled', 'val', 'test', 'train'], split)) AS bytes,
           min(format) AS format
    FROM images WHERE image_id IN (SELECT image_id FROM wanted) GROUP BY image_id
)
SELECT w.image_id, s.path, s.shard, s.member_offset, s.bytes, s.format, c.name AS predicted, p.confidence,
       p.checkpoint_id, k.model
FROM wanted w JOIN src s USING (image_id)
LEFT JOIN predictions p ON p.image_id = w.image_id AND p.round = $round
LEFT JOIN classes c ON c.class_id = p.class_id
LEFT JOIN checkpoints k ON k.checkpoint_id = p.checkpoint_id
ORDER BY w.seq
