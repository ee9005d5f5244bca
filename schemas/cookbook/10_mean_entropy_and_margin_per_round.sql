-- Mean entropy and margin per round
SELECT round, avg(entropy) AS mean_entropy, avg(margin) AS mean_margin, avg(confidence) AS mean_confidence
FROM predictions
WHERE split = 'unlabeled'
GROUP BY round
ORDER BY round
