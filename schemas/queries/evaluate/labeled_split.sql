SELECT i.image_id, i.path, c.class_id FROM images i JOIN classes c ON i.label = c.name
WHERE i.split = ? ORDER BY i.image_id
