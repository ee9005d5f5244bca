-- Whether there is anything for a dedup before any model to search: unlabeled or labeled train images.
SELECT count(*) > 0 FROM images WHERE split IN ('unlabeled', 'train')
