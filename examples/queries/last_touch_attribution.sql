-- Last-touch attribution in SQL: each person's first conversion, credited to the last exposure
-- in the 30 days before it.
WITH first_conversion AS (
    SELECT user_key, MIN(ts) AS conv_ts, ARG_MIN(revenue, ts) AS revenue
    FROM conversions
    GROUP BY user_key
),
touches AS (
    SELECT f.user_key, i.channel, f.revenue,
           ROW_NUMBER() OVER (PARTITION BY f.user_key ORDER BY i.ts DESC, i.channel) AS rn
    FROM first_conversion f
    JOIN impressions i
      ON i.user_key = f.user_key AND i.ts < f.conv_ts AND i.ts >= f.conv_ts - INTERVAL 30 DAY
)
SELECT channel, COUNT(*) AS conversions, ROUND(SUM(revenue), 2) AS revenue
FROM touches
WHERE rn = 1
GROUP BY channel
ORDER BY conversions DESC
