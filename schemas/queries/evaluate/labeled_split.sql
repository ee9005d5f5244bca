SELECT i.image_id, i.path, c.class_id, i.shard, i.member_offset, i.bytes FROM images i JOIN classes c ON i.label = c.name
WHERE i.split = $split ORDER BY i.image_id
