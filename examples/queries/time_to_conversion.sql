-- Days from a person's first exposure to their first purchase, for buyers who were exposed first.
WITH first_touch AS (
    SELECT user_key, MIN(ts) AS first_ts FROM impressions GROUP BY user_key
),
first_conversion AS (
    SELECT user_key, MIN(ts) AS conv_ts FROM conversions GROUP BY user_key
)
SELECT CASE
         WHEN date_diff('day', t.first_ts, c.conv_ts) < 1 THEN '0 days'
         WHEN date_diff('day', t.first_ts, c.conv_ts) < 7 THEN '1-6 days'
         WHEN date_diff('day', t.first_ts, c.conv_ts) < 14 THEN '7-13 days'
         ELSE '14+ days'
       END AS time_to_conversion,
       COUNT(*) AS buyers
FROM first_touch t
JOIN first_conversion c ON c.user_key = t.user_key
WHERE c.conv_ts > t.first_ts
GROUP BY time_to_conversion
ORDER BY time_to_conversion
