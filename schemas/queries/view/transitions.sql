-- Images of $split by their class in round $round_a and in round $round_b (the flip matrix).
SELECT a.class_id AS class_a, b.class_id AS class_b, count(*) AS images
FROM predictions a JOIN predictions b USING (image_id)
WHERE a.round = $round_a AND b.round = $round_b AND a.split = $split AND b.split = $split
GROUP BY ALL
ORDER BY images DESC
