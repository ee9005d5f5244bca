INSERT INTO known_ids SELECT image_id, split FROM ranked WHERE is_new
