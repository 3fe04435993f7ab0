-- Reach and frequency by channel: people reached, impressions, average frequency.
SELECT channel,
       COUNT(DISTINCT user_key) AS people,
       COUNT(*) AS impressions,
       ROUND(COUNT(*) / COUNT(DISTINCT user_key), 2) AS avg_frequency
FROM impressions
GROUP BY channel
ORDER BY people DESC
