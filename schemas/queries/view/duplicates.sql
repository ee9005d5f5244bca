-- Round $round's duplicate rows with the threshold that decided each (dedup_thresholds), the
-- largest similarity first; $scope picks in-pool groups (unlabeled) or contamination (held_out).
SELECT d.image_id, d.duplicate_of, d.kind, d.scope, d.similarity, d.group_id, d.excluded, t.threshold
FROM duplicates d
LEFT JOIN dedup_thresholds t ON t.round = d.round AND t.signal = d.kind AND t.scope = d.scope
WHERE d.round = $round AND d.scope = $scope
ORDER BY d.similarity DESC NULLS FIRST, d.image_id
LIMIT $limit
