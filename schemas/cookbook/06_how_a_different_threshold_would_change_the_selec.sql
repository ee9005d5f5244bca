-- How a different threshold would change the selection
SELECT c.name, t.threshold,
       count(*) FILTER (WHERE p.confidence >= t.threshold) AS would_pass,
       (SELECT count(*) FROM manifests m WHERE m.round = 0 AND m.origin = 'pseudo' AND m.target = c.class_id) AS selected_now
FROM predictions p
JOIN classes c USING (class_id)
CROSS JOIN (VALUES (default_threshold()), (0.5), (0.7), (0.9)) t(threshold)
WHERE p.round = 0 AND p.split = 'unlabeled'
GROUP BY c.name, c.class_id, t.threshold
ORDER BY c.name, t.threshold
