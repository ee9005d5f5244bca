-- What round $round's selection decided about an image (decided_now.sql), with its class's threshold.
SELECT d.selected, d.why, t.threshold, t.threshold_source
FROM decided_now($round) d
LEFT JOIN selection_classes t ON t.round = $round AND t.class_id = d.class_id
WHERE d.image_id = $image_id
