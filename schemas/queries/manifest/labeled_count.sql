SELECT count(*) FROM images WHERE split = 'train' AND label IS NOT NULL
