-- What sizes the students (plabel/student_sizing.py): the labeled train images and the pool.
SELECT count(*) FILTER (WHERE split = 'train' AND label IS NOT NULL) AS labeled,
       count(*) FILTER (WHERE split = 'unlabeled') AS pool
FROM images
