-- Round `rnd`'s decisions as a page shows them: the snapshot (decided.sql) with the reviews read
-- now (a review is small and frequent: it never waits for the snapshot). A reviewed image is not
-- selected again: its review is used instead.
CREATE OR REPLACE TEMP MACRO decided_now(rnd) AS TABLE
SELECT d.* REPLACE (CASE WHEN d.selected THEN NULL WHEN r.image_id IS NOT NULL THEN 'reviewed' ELSE d.why END AS why),
       r.image_id IS NOT NULL AS is_reviewed
FROM decided d
LEFT JOIN (SELECT DISTINCT image_id FROM reviews) r USING (image_id)
WHERE d.round = rnd
