-- Pseudo-label accuracy where ground truth exists
SELECT round, sum(correct) AS correct, sum(with_truth) AS with_truth,
       round(sum(correct) / sum(with_truth), 3) AS accuracy
FROM pseudo_label_accuracy
GROUP BY round
ORDER BY round
