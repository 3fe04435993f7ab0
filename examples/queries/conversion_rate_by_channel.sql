-- Share of exposed people who bought within 7 days of an exposure, by channel.
WITH exposed AS (
    SELECT DISTINCT user_key, channel FROM impressions
),
converted AS (
    SELECT DISTINCT i.user_key, i.channel
    FROM impressions i
    JOIN conversions c ON c.user_key = i.user_key
     AND c.ts > i.ts AND c.ts <= i.ts + INTERVAL 7 DAY
)
SELECT e.channel,
       COUNT(DISTINCT e.user_key) AS exposed_people,
       COUNT(DISTINCT c.user_key) AS converted_people
FROM exposed e
LEFT JOIN converted c ON c.user_key = e.user_key AND c.channel = e.channel
GROUP BY e.channel
ORDER BY e.channel
