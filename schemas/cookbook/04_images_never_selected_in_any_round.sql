-- Images never selected in any round
SELECT i.image_id, i.path
FROM images i
WHERE i.split = 'unlabeled'
  AND i.image_id NOT IN (SELECT image_id FROM manifests WHERE origin = 'pseudo')
