SELECT image_id, split, path FROM pool ANTI JOIN staged USING (image_id) ORDER BY image_id
