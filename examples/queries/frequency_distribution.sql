-- How many people saw the campaign once, twice, ... (capped at 10+).
WITH per_person AS (
    SELECT user_key, LEAST(COUNT(*), 10) AS frequency
    FROM impressions
    GROUP BY user_key
)
SELECT frequency, COUNT(*) AS people
FROM per_person
GROUP BY frequency
ORDER BY frequency
