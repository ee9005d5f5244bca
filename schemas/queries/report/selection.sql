SELECT threshold, per_class, balance, labels, n_labeled, n_pseudo, n_pseudo_copies, target_precision,
       expected_precision, precision_lower_bound, delta, guarantee, class_share_p
FROM selections WHERE round = $round
