SELECT min(image_id) FILTER (WHERE NOT (isfinite(confidence) AND confidence BETWEEN 0 AND 1))
FROM predictions WHERE round = $round AND split = 'unlabeled'
