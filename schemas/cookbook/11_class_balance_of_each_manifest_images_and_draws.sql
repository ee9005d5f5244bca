-- Class balance of each manifest: images and draws per class
SELECT m.round, c.name, m.origin, count(*) AS images, sum(m.copies) AS draws_per_pass
FROM manifests m JOIN classes c ON c.class_id = m.target
GROUP BY ALL
ORDER BY m.round, c.name, m.origin
