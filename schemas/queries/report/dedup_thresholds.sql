SELECT signal, scope, threshold, source, recall, fpr, note FROM dedup_thresholds WHERE round = $round ORDER BY signal, scope
