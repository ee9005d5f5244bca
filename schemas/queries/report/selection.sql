SELECT threshold, per_class, balance, labels, n_labeled, n_pseudo, n_pseudo_copies FROM selections WHERE round = ?
