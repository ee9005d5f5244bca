-- Manifest rows whose image is held out (a val or test image that is not also a labeled train
-- image): how many, and one. No manifest trains on those, however it was made.
SELECT count(*), min(m.image_id)
FROM manifest_rows m
WHERE m.image_id IN (SELECT image_id FROM images WHERE held_out(split))
  AND m.image_id NOT IN (SELECT image_id FROM images WHERE split = 'train' AND label IS NOT NULL)
