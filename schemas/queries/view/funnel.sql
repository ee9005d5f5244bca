-- Each round's selection funnel, summed over classes: predicted, above the threshold, after
-- dedup, selected (distinct images) and draws.
SELECT round, sum(predicted) AS predicted, sum(above_threshold) AS above_threshold, sum(after_dedup) AS after_dedup,
       sum(selected) AS selected, sum(copies) AS copies
FROM selection_classes
GROUP BY round
ORDER BY round
