SELECT class_a, class_b, name_a, name_b, images FROM class_transitions
WHERE round_a = $round_a AND round_b = $round_b AND split = 'unlabeled'
ORDER BY images DESC, class_a, class_b
