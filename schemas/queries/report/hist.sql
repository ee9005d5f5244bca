SELECT class_id, least(floor(confidence * $bins), $bins - 1)::INTEGER AS bin, count(*) AS n
FROM predictions WHERE round = $round AND split = 'unlabeled' GROUP BY ALL
