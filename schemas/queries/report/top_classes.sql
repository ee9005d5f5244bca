SELECT c.class_id, c.name, coalesce(s.selected, 0) AS selected, coalesce(p.n, 0) AS predicted
FROM classes c
LEFT JOIN (SELECT target AS class_id, count(*) AS selected FROM manifests
           WHERE round = $round AND origin = 'pseudo' GROUP BY 1) s USING (class_id)
LEFT JOIN (SELECT class_id, count(*) AS n FROM predictions
           WHERE round = $round AND split = 'unlabeled' GROUP BY 1) p USING (class_id)
ORDER BY selected DESC, predicted DESC, c.class_id
LIMIT $limit
