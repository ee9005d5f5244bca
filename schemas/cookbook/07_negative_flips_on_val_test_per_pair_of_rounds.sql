-- Negative flips on val/test per pair of rounds
SELECT round_a, round_b, split, kind, count(*) AS images
FROM negative_flips
GROUP BY ALL
ORDER BY round_a, round_b, kind
