SELECT e.image_id, e.embedding, coalesce(p.confidence, 0) AS confidence
FROM embeddings e LEFT JOIN predictions p ON p.round = e.round AND p.image_id = e.image_id
WHERE e.round = ? AND e.split = ? ORDER BY e.image_id
