-- Classes that lose members from one round to the next
WITH counts AS (
    SELECT round, class_id, count(*) AS images FROM predictions WHERE split = 'unlabeled' GROUP BY ALL
)
SELECT c.name, a.round AS round_a, b.round AS round_b, a.images AS before, coalesce(b.images, 0) AS after,
       coalesce(b.images, 0) - a.images AS change
FROM counts a
LEFT JOIN counts b ON b.class_id = a.class_id AND b.round = a.round + 1
JOIN classes c ON c.class_id = a.class_id
WHERE a.round + 1 IN (SELECT round FROM predictions) AND coalesce(b.images, 0) < a.images
ORDER BY change
