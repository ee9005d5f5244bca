SELECT count(*), min(m.image_id) FROM manifest_ids m ANTI JOIN images i USING (image_id)
