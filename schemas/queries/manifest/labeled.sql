SELECT * FROM labeled_rows ORDER BY image_id
