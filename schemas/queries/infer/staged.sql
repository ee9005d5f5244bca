CREATE TEMP TABLE staged (image_id VARCHAR)
