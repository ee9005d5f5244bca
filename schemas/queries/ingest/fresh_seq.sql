SELECT seq FROM fresh ORDER BY seq
