-- Round $round's decisions into the view's snapshot (decided.sql).
INSERT INTO decided SELECT $round, * FROM decisions($round)
