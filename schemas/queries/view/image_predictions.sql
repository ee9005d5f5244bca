-- An image's prediction in every round: class, confidence, margin, the teacher and its top-k
-- (class ids and probabilities).
SELECT round, split, class_id, confidence, margin, checkpoint_id, "index" AS topk_index, prob AS topk_prob
FROM predictions
WHERE image_id = $image_id
ORDER BY round
