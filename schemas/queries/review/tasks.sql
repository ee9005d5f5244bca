-- Per wanted image (in the query's order): where it is read from (its first path; unlabeled rows
-- first: images/first_rows), and round $round's prediction of it with the checkpoint and model that made it.
SELECT w.image_id, s.path, s.shard, s.member_offset, s.bytes, s.format, c.name AS predicted, p.confidence,
       p.checkpoint_id, k.model
FROM wanted w JOIN first_rows() s USING (image_id)
LEFT JOIN predictions p ON p.image_id = w.image_id AND p.round = $round
LEFT JOIN classes c ON c.class_id = p.class_id
LEFT JOIN checkpoints k ON k.checkpoint_id = p.checkpoint_id
ORDER BY w.seq
