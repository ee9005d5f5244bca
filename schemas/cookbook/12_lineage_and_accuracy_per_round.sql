-- Lineage and accuracy per round
SELECT round, teacher_id, predictions, balance, threshold, n_pseudo, student_id,
       teacher_test_top1, student_test_top1
FROM round_summary
ORDER BY round
