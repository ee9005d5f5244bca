SELECT count(*) FILTER (WHERE NOT (isfinite(confidence) AND confidence BETWEEN 0 AND 1
                                   AND coalesce(isfinite(list_sum(prob)) AND list_min(prob) >= 0, true)
                                   AND coalesce(isfinite(list_sum(probs::FLOAT[])), true))) AS bad,
       min(image_id) FILTER (WHERE NOT isfinite(confidence)) AS example
FROM predictions WHERE round = ? AND split = 'unlabeled'
