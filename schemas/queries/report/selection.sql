SELECT threshold, per_class, balance, labels, n_labeled, n_pseudo, n_pseudo_copies, target_precision
FROM selections WHERE round = ?
