SELECT count(*) FROM labeled_rows WHERE $include_labeled
