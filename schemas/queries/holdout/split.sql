-- The held-out images as a labeled split (selection/held_out first): what calibrate --split
-- holdout fits on.
SELECT DISTINCT h.image_id, i.path, c.class_id, i.shard, i.member_offset, i.bytes
FROM held_out h JOIN images i ON i.image_id = h.image_id AND i.split = 'train' AND i.label = h.label
JOIN classes c ON c.name = h.label
ORDER BY h.image_id
