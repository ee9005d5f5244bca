SELECT round, signal, scope, threshold, source, recall, fpr, note
FROM dedup_thresholds WHERE round = (SELECT max(round) FROM dedup_thresholds) ORDER BY signal, scope
