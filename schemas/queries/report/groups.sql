WITH g AS (SELECT group_id, scope, count(*) AS size FROM duplicates WHERE round = $round GROUP BY ALL)
SELECT d.group_id, d.scope, d.image_id, d.similarity, d.excluded, g.size,
       (SELECT any_value(path) FROM images i WHERE i.image_id = d.image_id) AS path,
       (SELECT any_value(path) FROM images i WHERE i.image_id = d.duplicate_of) AS other_path
FROM duplicates d JOIN g USING (group_id, scope)
WHERE d.round = $round AND d.kind <> 'exact'
  AND d.group_id IN (SELECT group_id FROM g ORDER BY size DESC, group_id LIMIT $limit)
QUALIFY row_number() OVER (PARTITION BY d.group_id, d.scope ORDER BY d.excluded, d.image_id) <= $members
ORDER BY g.size DESC, d.group_id, d.excluded, d.image_id
