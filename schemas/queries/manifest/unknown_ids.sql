SELECT count(*), min(m.image_id) FROM manifest_rows m ANTI JOIN images i USING (image_id)
