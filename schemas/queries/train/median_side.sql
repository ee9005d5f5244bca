-- The median shorter side of the labeled train images, in pixels (null when there are none).
SELECT median(least(width, height)) FROM images WHERE split = 'train'
