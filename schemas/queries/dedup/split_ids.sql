SELECT DISTINCT image_id FROM images WHERE split = $split ORDER BY image_id
