SELECT i.image_id, any_value(i.path ORDER BY i.path) AS path, any_value(f.thumbnail) AS thumbnail,
       any_value(f.colour) AS colour
FROM images i LEFT JOIN fingerprints f USING (image_id)
WHERE i.image_id IN (SELECT image_id FROM wanted)
GROUP BY i.image_id ORDER BY i.image_id
