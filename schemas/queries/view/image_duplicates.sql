-- The duplicate rows an image is part of, in any round: as the member or as what it duplicates,
-- with the other image's split, the similarity and the threshold that decided it.
SELECT d.round, d.kind, d.scope, d.similarity, d.excluded, d.group_id,
       CASE WHEN d.image_id = $image_id THEN d.duplicate_of ELSE d.image_id END AS other_id,
       (SELECT any_value(split) FROM images i
        WHERE i.image_id = CASE WHEN d.image_id = $image_id THEN d.duplicate_of ELSE d.image_id END) AS other_split,
       t.threshold
FROM duplicates d
LEFT JOIN dedup_thresholds t ON t.round = d.round AND t.signal = d.kind AND t.scope = d.scope
WHERE d.image_id = $image_id OR d.duplicate_of = $image_id
ORDER BY d.round, d.similarity DESC
