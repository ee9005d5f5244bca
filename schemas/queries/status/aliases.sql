SELECT count(*) FROM aliases
