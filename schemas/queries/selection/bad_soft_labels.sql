-- Stored distributions soft labels would be made of, with a NaN, infinite or negative probability.
SELECT count(*) FILTER (WHERE NOT (coalesce(isfinite(list_sum(prob)) AND list_min(prob) >= 0, true)
                                   AND coalesce(isfinite(list_sum(probs::FLOAT[])) AND list_min(probs::FLOAT[]) >= 0,
                                                 true)))
FROM predictions WHERE round = $round AND split = 'unlabeled'
