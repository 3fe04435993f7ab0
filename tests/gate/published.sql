-- Real clean-room SQL from public sources, adapted to the six datasets of
-- tests/fixtures/policies-published/brand-media-retail.yaml (data: tests/published_data.py).
-- Each query keeps its source's shape and idioms; only table and column names, and dialect
-- (BigQuery / Snowflake / AMC functions to DuckDB), change. Run by tests/gate/test_published.py.
--
-- Header lines before each query:
--   -- name: <id>              starts an entry
--   -- source: <URL or repo:path>
--   -- idiom: <what in it is typical of published clean-room SQL>
--   -- legit                   it should be accepted, every released number equal to raw DuckDB
--   -- refuse: <rule_code>     a refusal is right (-- why: says why)
--   -- currently: refused <codes> | wrong <what>   known failure today (strict xfail in the test)
--   -- people: <SQL>           optional: per output key, how many people stand behind it in raw
--                              DuckDB (key columns first, the count last); rows whose count is at
--                              least min_users_per_row must be released, the others not
--   -- ordered                 compare rows in order
--   -- rounded                 the query rounds float sums of fractional credits: a whole
--                              number may be one off raw DuckDB's where the sum lies within
--                              float error of .5 (summation order is not fixed on either side)
--
-- Mapping of the sources' tables: dsp_impressions / sponsored_ads_traffic / google_ads_impressions
-- -> impressions (ad_product tells DSP from sponsored ads); dsp_clicks / google_ads_clicks ->
-- clicks; a second provider's exposures (Snowflake's provider_exposures, YouTube) ->
-- ctv_exposures; conversions / amazon_attributed_events / 1P transactions -> conversions;
-- audience / CRM tables -> segments; consumer transactions -> retail_sales. AMC money is in
-- millicents or microcents, divided by 1e5 / 1e8; ours is in cents, divided by 100.

-- name: amc_custom_attribution_exploratory_asin
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/cdf597257dcf43b65c1af8dd14480433e4dbe513469575e8b064f62029c94e9b (section 4.1)
-- idiom: SELECT DISTINCT in UNION ALL branches, user_key IS NOT NULL, aggregated CTE LEFT JOINed to a DISTINCT list
-- legit
-- people: column users_that_purchased
WITH traffic AS (
  SELECT DISTINCT campaign, ad_product AS ad_product_type, user_key
  FROM impressions
  WHERE ad_product <> 'dsp' AND user_key IS NOT NULL
  UNION ALL
  SELECT DISTINCT campaign, 'dsp' AS ad_product_type, user_key
  FROM impressions
  WHERE ad_product = 'dsp' AND user_key IS NOT NULL
),
purchase_conversions AS (
  SELECT product_category AS asin, user_key, SUM(conversions) AS purchases
  FROM conversions c
  WHERE event_type = 'purchase' AND c.user_key IS NOT NULL
  GROUP BY 1, 2
),
combined AS (
  SELECT asin, t.campaign, ad_product_type, SUM(purchases) AS purchases,
         COUNT(DISTINCT c.user_key) AS users_that_purchased
  FROM purchase_conversions c
  JOIN traffic t ON c.user_key = t.user_key
  GROUP BY 1, 2, 3
),
dsp_campaign_ids AS (
  SELECT DISTINCT campaign, ad_product FROM impressions WHERE ad_product = 'dsp'
)
SELECT asin, c.campaign, d.ad_product AS dsp_product, ad_product_type, purchases, users_that_purchased
FROM combined c
LEFT JOIN dsp_campaign_ids d ON c.campaign = d.campaign;

-- name: amc_custom_attribution_exploratory_off_amazon
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/cdf597257dcf43b65c1af8dd14480433e4dbe513469575e8b064f62029c94e9b (section 4.2)
-- idiom: DISTINCT per-user traffic CTE joined on user_key, SUM of a 0/1 conversions column
-- legit
-- people: column users_that_converted
WITH traffic AS (
  SELECT DISTINCT campaign, user_key
  FROM impressions
  WHERE ts >= TIMESTAMP '2026-09-01' - INTERVAL 60 DAY AND user_key IS NOT NULL
)
SELECT c.product_category AS off_amazon_id, c.event_type, t.campaign,
       SUM(conversions) AS conversions, COUNT(DISTINCT c.user_key) AS users_that_converted
FROM conversions c
JOIN traffic t ON t.user_key = c.user_key
WHERE c.event_type = 'add_to_cart' AND c.user_key IS NOT NULL
GROUP BY 1, 2, 3;

-- name: amc_custom_attribution_position_based
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/cdf597257dcf43b65c1af8dd14480433e4dbe513469575e8b064f62029c94e9b (section 5)
-- idiom: VALUES campaign lists, IN (SELECT ... FROM values CTE), ROW_NUMBER with CASE priority, IF match_type, SECONDS_BETWEEN, COUNT(DISTINCT) * .3 / * .7 UNION ALL, round()
-- legit
-- people: column users_that_converted
-- why: request_tag (one impression's id) becomes the event's hour; conversion_id becomes (user_key, ts); a row also stands on its campaign's attributed converters (the attribution CTE drops a campaign with fewer than k, and the inner join then has no row for it), so those are its people, not the campaign's reach
WITH dsp_campaigns (campaign) AS (
  VALUES ('dsp_awareness'), ('dsp_consideration'), ('dsp_conversion')
),
dsp_traffic_type (traffic_event_type) AS (
  VALUES ('IMP'), ('CLICK')
),
sp_campaigns (campaign) AS (
  VALUES ('sp_brand_terms'), ('sp_category')
),
sd_campaigns (campaign) AS (
  VALUES ('sd_retargeting')
),
sb_campaigns (campaign) AS (
  VALUES ('sb_video')
),
sp_traffic_type (traffic_event_type) AS (VALUES ('CLICK')),
sd_traffic_type (traffic_event_type) AS (VALUES ('CLICK')),
sb_traffic_type (traffic_event_type) AS (VALUES ('CLICK')),
traffic AS (
  SELECT user_key, 'dsp' AS ad_product_type, campaign, traffic_dt_utc, traffic_event_type, impressions, clicks
  FROM (
    SELECT user_key, campaign, traffic_dt_utc, traffic_event_type, impressions, clicks,
      ROW_NUMBER() OVER (
        PARTITION BY user_key, campaign, request_tag
        ORDER BY
          CASE
            WHEN traffic_event_type = 'CLICK' THEN 1
            WHEN traffic_event_type = 'IMP' THEN 2
            ELSE 3
          END ASC,
          traffic_dt_utc DESC
      ) AS event_priority
    FROM (
      SELECT user_key, campaign, date_trunc('hour', ts) AS request_tag, ts AS traffic_dt_utc,
             'IMP' AS traffic_event_type, impressions, 0 AS clicks
      FROM impressions
      WHERE campaign IN (SELECT campaign FROM dsp_campaigns) AND user_key IS NOT NULL
      UNION ALL
      SELECT user_key, campaign, date_trunc('hour', ts) AS request_tag, ts AS traffic_dt_utc,
             'CLICK' AS traffic_event_type, 0 AS impressions, clicks
      FROM clicks
      WHERE campaign IN (SELECT campaign FROM dsp_campaigns) AND user_key IS NOT NULL
    )
  )
  WHERE event_priority = 1
  UNION ALL
  SELECT user_key, ad_product AS ad_product_type, campaign, ts AS traffic_dt_utc,
         (CASE WHEN clicks < 1 THEN 'IMP' ELSE 'CLICK' END) AS traffic_event_type, 0 AS impressions, clicks
  FROM clicks
  WHERE campaign IN (SELECT campaign FROM sp_campaigns) AND user_key IS NOT NULL
  UNION ALL
  SELECT user_key, ad_product AS ad_product_type, campaign, ts AS traffic_dt_utc,
         (CASE WHEN clicks < 1 THEN 'IMP' ELSE 'CLICK' END) AS traffic_event_type, 0 AS impressions, clicks
  FROM clicks
  WHERE campaign IN (SELECT campaign FROM sd_campaigns) AND user_key IS NOT NULL
  UNION ALL
  SELECT user_key, ad_product AS ad_product_type, campaign, ts AS traffic_dt_utc,
         (CASE WHEN clicks < 1 THEN 'IMP' ELSE 'CLICK' END) AS traffic_event_type, 0 AS impressions, clicks
  FROM clicks
  WHERE campaign IN (SELECT campaign FROM sb_campaigns) AND user_key IS NOT NULL
),
cwr AS (
  SELECT user_key, ts AS event_dt_utc, conversions, units AS total_units_sold, revenue AS total_product_sales
  FROM conversions
  WHERE event_type = 'purchase' AND user_key IS NOT NULL
),
matched AS (
  SELECT t.campaign, c.event_dt_utc,
    IF(t.traffic_event_type = 'CLICK', 1, 2) AS match_type,
    date_diff('second', t.traffic_dt_utc, c.event_dt_utc) AS match_age,
    c.conversions, c.total_units_sold, c.total_product_sales, c.user_key
  FROM cwr c
  JOIN traffic t ON (c.user_key = t.user_key)
  WHERE t.campaign IN (SELECT campaign FROM dsp_campaigns)
    AND t.traffic_event_type IN (SELECT traffic_event_type FROM dsp_traffic_type)
  UNION ALL
  SELECT t.campaign, c.event_dt_utc,
    IF(t.traffic_event_type = 'CLICK', 1, 2) AS match_type,
    date_diff('second', t.traffic_dt_utc, c.event_dt_utc) AS match_age,
    c.conversions, c.total_units_sold, c.total_product_sales, c.user_key
  FROM traffic t
  JOIN cwr c ON (c.user_key = t.user_key)
  WHERE t.campaign IN (SELECT campaign FROM sp_campaigns)
    AND t.traffic_event_type IN (SELECT traffic_event_type FROM sp_traffic_type)
  UNION ALL
  SELECT t.campaign, c.event_dt_utc,
    IF(t.traffic_event_type = 'CLICK', 1, 2) AS match_type,
    date_diff('second', t.traffic_dt_utc, c.event_dt_utc) AS match_age,
    c.conversions, c.total_units_sold, c.total_product_sales, c.user_key
  FROM traffic t
  JOIN cwr c ON (c.user_key = t.user_key)
  WHERE t.campaign IN (SELECT campaign FROM sd_campaigns)
    AND t.traffic_event_type IN (SELECT traffic_event_type FROM sd_traffic_type)
  UNION ALL
  SELECT t.campaign, c.event_dt_utc,
    IF(t.traffic_event_type = 'CLICK', 1, 2) AS match_type,
    date_diff('second', t.traffic_dt_utc, c.event_dt_utc) AS match_age,
    c.conversions, c.total_units_sold, c.total_product_sales, c.user_key
  FROM traffic t
  JOIN cwr c ON (c.user_key = t.user_key)
  WHERE t.campaign IN (SELECT campaign FROM sb_campaigns)
    AND t.traffic_event_type IN (SELECT traffic_event_type FROM sb_traffic_type)
),
ranked AS (
  SELECT campaign,
    ROW_NUMBER() OVER (PARTITION BY user_key, event_dt_utc ORDER BY match_type ASC, match_age DESC) AS first_match_rank,
    ROW_NUMBER() OVER (PARTITION BY user_key, event_dt_utc ORDER BY match_type ASC, match_age ASC) AS last_match_rank,
    conversions, total_units_sold, total_product_sales, user_key
  FROM matched
  WHERE match_age BETWEEN 0 AND 28 * 24 * 60 * 60
),
attributed_conversions AS (
  SELECT r.campaign,
    COUNT(DISTINCT user_key) * .3 AS users_that_converted,
    SUM(r.conversions) * .3 AS conversions,
    SUM(r.total_units_sold) * .3 AS total_units_sold,
    SUM(r.total_product_sales) * .3 AS total_product_sales
  FROM ranked r
  WHERE r.first_match_rank = 1
  GROUP BY 1
  UNION ALL
  SELECT a.campaign,
    COUNT(DISTINCT user_key) * .7 AS users_that_converted,
    SUM(a.conversions) * .7 AS conversions,
    SUM(a.total_units_sold) * .7 AS total_units_sold,
    SUM(a.total_product_sales) * .7 AS total_product_sales
  FROM ranked a
  WHERE a.last_match_rank = 1
  GROUP BY 1
),
total_attributed_conversions AS (
  SELECT campaign,
    SUM(users_that_converted) users_that_converted,
    SUM(conversions) conversions,
    SUM(total_units_sold) total_units_sold,
    SUM(total_product_sales) total_product_sales
  FROM attributed_conversions
  GROUP BY 1
),
traffic_campaigns AS (
  SELECT campaign, ad_product_type,
    COUNT(DISTINCT user_key) user_reach,
    SUM(impressions) AS impressions,
    SUM(clicks) AS clicks
  FROM traffic
  GROUP BY 1, 2
)
SELECT
  'Position Based' AS attribution_model,
  c.campaign,
  t.impressions,
  t.clicks,
  round(t.user_reach) AS user_reach,
  round(c.users_that_converted) AS users_that_converted,
  round(c.conversions) AS conversions,
  c.conversions / t.user_reach AS conversion_rate,
  round(c.total_units_sold) AS total_units_sold,
  round(c.total_product_sales, 2) AS total_product_sales
FROM total_attributed_conversions c
JOIN traffic_campaigns t ON c.campaign = t.campaign;

-- name: amc_sd_sp_overlap_exploratory
-- source: AMC Instructional Query Library, "Sponsored Products and Sponsored Display Overlap", 4.1 Exploratory Query (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: IN list of ad products, SUM of attributed purchases by campaign
-- legit
-- people: SELECT i.campaign, i.ad_product, COUNT(DISTINCT c.user_key) FROM impressions i JOIN conversions c ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY WHERE i.ad_product IN ('sponsored_products', 'sponsored_display') AND c.event_type = 'purchase' GROUP BY 1, 2
-- why: amazon_attributed_events_by_traffic_time becomes purchases within 14 days of an impression
SELECT i.campaign, i.ad_product AS ad_product_type, SUM(c.conversions) AS purchases
FROM impressions i
JOIN conversions c ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
WHERE i.ad_product IN ('sponsored_products', 'sponsored_display') AND c.event_type = 'purchase'
GROUP BY 1, 2;

-- name: amc_sd_sp_overlap
-- source: AMC Instructional Query Library, "Sponsored Products and Sponsored Display Overlap", 4.2 Query Template (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: VALUES lists, SUM(IF(cond, metric, 0)), FULL OUTER JOIN of two per-user CTEs, GROUP BY two user_key columns, nested IF buckets, LEFT JOIN of two aggregates
-- legit
-- people: column unique_reach
-- why: UUID() conversion and impression ids are dropped (they only split groups further)
WITH SD (campaign) AS (
  VALUES ('sd_retargeting')
),
SP (campaign) AS (
  VALUES ('sp_brand_terms'), ('sp_category')
),
purchases AS (
  SELECT c.user_key, c.ts AS conversion_event_dt,
    SUM(IF(i.ad_product = 'sponsored_display', c.conversions, 0)) AS SD_purchases,
    SUM(IF(i.ad_product = 'sponsored_products', c.conversions, 0)) AS search_purchases
  FROM conversions c
  JOIN clicks i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase'
    AND (i.campaign IN (SELECT campaign FROM SD) OR i.campaign IN (SELECT campaign FROM SP))
  GROUP BY 1, 2
),
purchases_last_total AS (
  SELECT user_key,
    MAX(conversion_event_dt) AS conversion_event_dt_last,
    SUM(SD_purchases + search_purchases) AS purchases,
    SUM(SD_purchases) AS SD_purchases,
    SUM(search_purchases) AS search_purchases
  FROM purchases
  WHERE SD_purchases + search_purchases > 0
  GROUP BY 1
),
impressions AS (
  SELECT user_key, ts AS impression_dt, 'SP' AS IMP_ad_type, SUM(impressions) AS impressions
  FROM impressions
  WHERE impressions > 0 AND ad_product = 'sponsored_products'
    AND campaign IN (SELECT campaign FROM SP)
  GROUP BY 1, 2, 3
  UNION ALL
  SELECT user_key, ts AS impression_dt, 'SD' AS IMP_ad_type, SUM(impressions) AS impressions
  FROM impressions
  WHERE impressions > 0 AND ad_product = 'sponsored_display'
    AND campaign IN (SELECT campaign FROM SD)
  GROUP BY 1, 2, 3
),
impressions_first_total AS (
  SELECT user_key, IMP_ad_type, MIN(impression_dt) AS impression_dt_first, SUM(impressions) AS impressions
  FROM impressions
  GROUP BY 1, 2
),
combined AS (
  SELECT imp.user_key AS imp_USER, pur.user_key AS pur_USER, IMP_ad_type, impressions,
    impression_dt_first, purchases, SD_purchases, search_purchases, conversion_event_dt_last,
    CASE
      WHEN conversion_event_dt_last IS NULL THEN 'no purchase'
      WHEN conversion_event_dt_last > impression_dt_first THEN 'pre-purchase'
      WHEN conversion_event_dt_last < impression_dt_first THEN 'post-purchase'
      ELSE 'other'
    END AS impression_timing
  FROM purchases_last_total pur
  FULL OUTER JOIN impressions_first_total imp ON pur.user_key = imp.user_key
),
binned_data AS (
  SELECT imp_USER, pur_USER,
    SUM(IF(impression_timing = 'no purchase' AND IMP_ad_type = 'SD', impressions, 0)) AS no_purch_SD_impressions,
    SUM(IF(impression_timing = 'pre-purchase' AND IMP_ad_type = 'SD', impressions, 0)) AS pre_purch_SD_impressions,
    SUM(IF(impression_timing = 'post-purchase' AND IMP_ad_type = 'SD', impressions, 0)) AS post_purch_SD_impressions,
    SUM(IF(IMP_ad_type = 'SD', impressions, 0)) AS total_SD_impressions,
    SUM(IF(impression_timing = 'no purchase' AND IMP_ad_type = 'SP', impressions, 0)) AS no_purch_SP_impressions,
    SUM(IF(impression_timing = 'pre-purchase' AND IMP_ad_type = 'SP', impressions, 0)) AS pre_purch_SP_impressions,
    SUM(IF(impression_timing = 'post-purchase' AND IMP_ad_type = 'SP', impressions, 0)) AS post_purch_SP_impressions,
    SUM(IF(IMP_ad_type = 'SP', impressions, 0)) AS total_SP_impressions,
    MAX(purchases) AS purchases,
    MAX(SD_purchases) AS SD_purchases,
    MAX(search_purchases) AS search_purchases
  FROM combined
  GROUP BY 1, 2
),
users_purchased AS (
  SELECT imp_USER, pur_USER,
    SUM(no_purch_SD_impressions) AS no_purch_SD_impressions,
    SUM(pre_purch_SD_impressions) AS pre_purch_SD_impressions,
    SUM(no_purch_SP_impressions) AS no_purch_SP_impressions,
    SUM(pre_purch_SP_impressions) AS pre_purch_SP_impressions
  FROM binned_data
  WHERE purchases > 0
  GROUP BY 1, 2
),
users_purchased_exp AS (
  SELECT
    IF((pre_purch_SD_impressions > 0 AND pre_purch_SP_impressions > 0)
         OR (no_purch_SD_impressions > 0 AND no_purch_SP_impressions > 0), 'both',
      IF((pre_purch_SD_impressions > 0 OR no_purch_SD_impressions > 0)
           AND (pre_purch_SP_impressions = 0 AND no_purch_SP_impressions = 0), 'SD',
        IF((pre_purch_SD_impressions = 0 AND no_purch_SD_impressions = 0)
             AND (pre_purch_SP_impressions > 0 OR no_purch_SP_impressions > 0), 'SP',
          IF(pre_purch_SD_impressions = 0 AND no_purch_SD_impressions = 0
               AND pre_purch_SP_impressions = 0 AND no_purch_SP_impressions = 0, 'none', 'NA')))) AS exposure_group,
    COUNT(DISTINCT imp_USER) AS users_that_purchased_with_impressions,
    COUNT(DISTINCT pur_USER) AS users_that_purchased
  FROM users_purchased
  GROUP BY exposure_group
),
users_all_exp AS (
  SELECT
    IF((pre_purch_SD_impressions > 0 AND pre_purch_SP_impressions > 0)
         OR (no_purch_SD_impressions > 0 AND no_purch_SP_impressions > 0), 'both',
      IF((pre_purch_SD_impressions > 0 OR no_purch_SD_impressions > 0)
           AND (pre_purch_SP_impressions = 0 AND no_purch_SP_impressions = 0), 'SD',
        IF((pre_purch_SD_impressions = 0 AND no_purch_SD_impressions = 0)
             AND (pre_purch_SP_impressions > 0 OR no_purch_SP_impressions > 0), 'SP',
          IF(pre_purch_SD_impressions = 0 AND no_purch_SD_impressions = 0
               AND pre_purch_SP_impressions = 0 AND no_purch_SP_impressions = 0, 'none', 'NA')))) AS exposure_group,
    COUNT(DISTINCT imp_USER) AS unique_reach,
    SUM(purchases) AS purchases,
    SUM(SD_purchases) AS SD_purchases,
    SUM(search_purchases) AS search_purchases,
    SUM(total_SD_impressions) AS total_SD_impressions,
    SUM(total_SP_impressions) AS total_SP_impressions
  FROM binned_data
  GROUP BY exposure_group
)
SELECT a.exposure_group, unique_reach, users_that_purchased, purchases
FROM users_all_exp a
LEFT JOIN users_purchased_exp p ON a.exposure_group = p.exposure_group;

-- name: amc_time_of_day_dsp_and_sponsored_ads
-- source: AMC Instructional Query Library, "Time of day performance", 4.1 Query template: Amazon DSP and sponsored ads (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: SUM(total_cost / 100000) inside per-user UNION ALL CTEs, CASE day parts on an hour, EXTRACT(DOW), LEFT JOIN on user_key plus dimensions, ratios of aggregates
-- legit
-- people: column unique_reach
-- why: amazon_attributed_events_by_conversion_time becomes purchases within 14 days of a click
WITH impressions AS (
  SELECT user_key, SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend,
    hour(ts) AS impression_hour, CAST(ts AS DATE) AS impression_date, ts AS impression_dt_utc, campaign
  FROM impressions
  WHERE ad_product = 'dsp'
  GROUP BY user_key, impression_hour, impression_date, impression_dt_utc, campaign
  UNION ALL
  SELECT user_key, SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend,
    hour(ts) AS impression_hour, CAST(ts AS DATE) AS impression_date, ts AS impression_dt_utc, campaign
  FROM impressions
  WHERE ad_product <> 'dsp'
  GROUP BY user_key, impression_hour, impression_date, ts, campaign
),
conversions AS (
  SELECT c.user_key, SUM(c.revenue) AS product_sales, SUM(c.conversions) AS purchases,
    SUM(c.units) AS units_sold, i.campaign, i.ad_product AS ad_product_type,
    SUM(c.revenue) AS total_product_sales,
    hour(i.ts) AS impression_hour, CAST(i.ts AS DATE) AS impression_date
  FROM conversions c
  JOIN clicks i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase' AND c.user_key IS NOT NULL
  GROUP BY c.user_key, impression_hour, impression_date, i.campaign, i.ad_product
),
assembled_with_imp_conv AS (
  SELECT b.campaign,
    (CASE
      WHEN b.impression_hour <= 8 THEN 'Early Morning'
      WHEN b.impression_hour <= 12 THEN 'Morning'
      WHEN b.impression_hour <= 16 THEN 'Afternoon'
      WHEN b.impression_hour <= 20 THEN 'Late Afternoon'
      WHEN b.impression_hour <= 23 THEN 'Evening'
      ELSE 'Unknown'
    END) AS day_part,
    EXTRACT(DOW FROM b.impression_date) AS day_of_week,
    b.impression_hour, b.impression_date, c.ad_product_type,
    SUM(b.impressions) AS impressions,
    SUM(b.ad_spend) AS ad_spend,
    COUNT(DISTINCT b.user_key) AS unique_reach,
    COUNT(DISTINCT c.user_key) AS users_that_purchased,
    SUM(c.product_sales) AS sales_amount,
    SUM(c.purchases) AS purchases,
    SUM(c.units_sold) AS units_sold,
    SUM(c.total_product_sales) AS sales_amount_brand
  FROM impressions b
  LEFT JOIN conversions c ON b.user_key = c.user_key
    AND b.impression_hour = c.impression_hour
    AND b.impression_date = c.impression_date
    AND b.campaign = c.campaign
  GROUP BY b.impression_hour, b.impression_date, b.campaign, day_part, day_of_week, c.ad_product_type
)
SELECT campaign,
  CASE WHEN ad_product_type IS NULL THEN 'DSP' ELSE ad_product_type END AS ad_product_type,
  impression_hour, impression_date, day_part, day_of_week, unique_reach, impressions, ad_spend,
  (ad_spend / sales_amount) * 100 AS ACOS,
  (sales_amount / ad_spend) AS ROAS,
  users_that_purchased, sales_amount, sales_amount_brand, purchases, units_sold,
  (purchases / unique_reach) AS purchase_rate
FROM assembled_with_imp_conv;

-- name: amc_time_of_day_sponsored_ads_by_day_part
-- source: AMC Instructional Query Library, "Time of day performance", 4.2 Query template: Sponsored ads only (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: SUM(spend / 100000000) per user and hour, LEFT JOIN with WHERE on the right side, CASE day parts, EXTRACT(DOW)
-- legit
-- people: column unique_reach
-- why: attributed events become purchases within 14 days of a click; impression_date is left out of the final grouping (day parts by weekday) so that groups stand on enough people
WITH impressions AS (
  SELECT user_key, hour(ts) AS impression_hour, CAST(ts AS DATE) AS impression_date, campaign,
    SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend
  FROM impressions
  WHERE ad_product LIKE 'sponsored%'
  GROUP BY user_key, impression_hour, impression_date, campaign
),
conversions AS (
  SELECT c.user_key, SUM(c.revenue) AS product_sales, SUM(c.conversions) AS purchases,
    i.campaign, i.ad_product AS ad_product_type,
    hour(i.ts) AS impression_hour, CAST(i.ts AS DATE) AS impression_date
  FROM conversions c
  JOIN clicks i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase' AND c.user_key IS NOT NULL AND i.ad_product IS NOT NULL
  GROUP BY c.user_key, impression_hour, impression_date, i.campaign, i.ad_product
),
assembled_with_imp_conv AS (
  SELECT
    (CASE
      WHEN b.impression_hour <= 8 THEN 'Early Morning'
      WHEN b.impression_hour <= 12 THEN 'Morning'
      WHEN b.impression_hour <= 16 THEN 'Afternoon'
      WHEN b.impression_hour <= 20 THEN 'Late Afternoon'
      WHEN b.impression_hour <= 23 THEN 'Evening'
      ELSE 'Unknown'
    END) AS day_part,
    EXTRACT(DOW FROM b.impression_date) AS day_of_week,
    c.ad_product_type,
    SUM(b.impressions) AS impressions,
    SUM(b.ad_spend) AS ad_spend,
    COUNT(DISTINCT b.user_key) AS unique_reach,
    COUNT(DISTINCT c.user_key) AS users_that_purchased,
    SUM(c.product_sales) AS sales_amount,
    SUM(c.purchases) AS purchases
  FROM impressions b
  LEFT JOIN conversions c ON b.user_key = c.user_key
    AND b.impression_hour = c.impression_hour
    AND b.impression_date = c.impression_date
    AND b.campaign = c.campaign
  WHERE c.ad_product_type IS NOT NULL
  GROUP BY day_part, day_of_week, c.ad_product_type
)
SELECT ad_product_type, day_part, day_of_week, unique_reach, impressions, ad_spend,
  (ad_spend / sales_amount) * 100 AS ACOS,
  (sales_amount / ad_spend) AS ROAS,
  users_that_purchased, sales_amount, purchases,
  (purchases / unique_reach) AS purchase_rate
FROM assembled_with_imp_conv;

-- name: amc_stddev_pop_var_pop
-- source: AMC SQL reference, "How to use STDDEV_POP() and VAR_POP()" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/reference/sql-functions)
-- idiom: CTE dividing a metric by a constant, STDDEV_POP / VAR_POP by ad product
-- legit
WITH click_spend AS (
  SELECT ad_product AS ad_product_type, cost / 100 AS spend
  FROM clicks
  WHERE clicks > 0 AND ad_product LIKE 'sponsored%'
)
SELECT ad_product_type,
  STDDEV_POP(spend) AS STDDEV_POP_click_cost,
  VAR_POP(spend) AS VAR_POP_click_cost
FROM click_spend
GROUP BY 1;

-- name: amc_stddev_variance_of_values
-- source: AMC SQL reference, "How to use STDDEV(), VARIANCE()" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/reference/sql-functions)
-- idiom: a constant VALUES table in a CTE with a column list, no dataset at all
-- legit
-- why: the numbers come from the query text only; nothing about anyone is read
WITH test_data(test) AS (
  VALUES (20), (45), (30), (66), (50), (60), (85), (70)
)
SELECT STDDEV(test) AS STDDEV_sample_stardard_deviation,
  VARIANCE(test) AS VARIANCE_sample_variance
FROM test_data;

-- name: amc_skewness
-- source: AMC SQL reference, "How to use SKEWNESS" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/reference/sql-functions)
-- idiom: SKEWNESS of a metric scaled by a constant in a CTE
-- legit
WITH click_spend AS (
  SELECT ad_product AS ad_product_type, cost / 100 AS spend
  FROM clicks
  WHERE clicks > 0
)
SELECT ad_product_type, SKEWNESS(spend) AS SKEWNESS_click_cost
FROM click_spend
GROUP BY 1;

-- name: amc_percentile_median
-- source: AMC SQL reference, "How to use PERCENTILE(), APPROX_PERCENTILE() and MEDIAN()" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/reference/sql-functions)
-- idiom: PERCENTILE(spend, .1) / (.9) and MEDIAN by ad product
-- legit
-- why: APPROX_PERCENTILE is left out (not deterministic). AMC releases order statistics under its aggregation threshold; Ads Data Hub refuses APPROX_QUANTILES across users and AWS Clean Rooms' aggregation rule allows only COUNT, SUM and AVG. The gate releases a quantile only when at least k people hold the value it returns: exact spends do not tie, so these cells come back withheld (null, row partial); quantile_cont(round(spend, 2), .1) ties and stands
WITH click_spend AS (
  SELECT ad_product AS ad_product_type, cost / 100 AS spend
  FROM clicks
  WHERE clicks > 0
)
SELECT ad_product_type,
  quantile_cont(spend, .1) AS PERCENTILE10_click_cost,
  quantile_cont(spend, .9) AS PERCENTILE90_click_cost,
  MEDIAN(spend) AS MEDIAN_click_cost
FROM click_spend
GROUP BY 1;

-- name: amc_off_amazon_conversions_by_ad_product_exposure
-- source: AMC Instructional Query Library, "Off-Amazon conversions by ad product exposure", 4.2.1 Amazon DSP and sponsored ads (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: two-column VALUES grouping joined INNER and LEFT, COALESCE(group, 'Amazon DSP'), SECONDS_BETWEEN window, ROW_NUMBER last touch, IF(product, cost / 1e5, cost / 1e8), ARRAY_SORT(COLLECT(DISTINCT)) path, MAX(IF(...,1,0))
-- legit
-- people: column audience_reach
-- why: first_party_conversions_table becomes retail_sales (the retailer's in-store sales); the path is a sorted list of groups; both cost units are cents here, so both IF branches divide by 100
WITH campaign_group (campaign, campaign_group) AS (
  VALUES ('dsp_awareness', 'Upper funnel'), ('dsp_consideration', 'Upper funnel')
),
dsp_campaigns (campaign) AS (
  VALUES ('dsp_awareness'), ('dsp_consideration'), ('dsp_conversion')
),
impressions AS (
  SELECT COALESCE(campaign_group, 'Amazon DSP') AS campaign_group, 'DSP' AS product_type, user_key,
    MIN(ts) AS impression_dt, SUM(impressions) AS impressions, SUM(cost) AS total_cost
  FROM impressions i
  INNER JOIN dsp_campaigns dsp ON dsp.campaign = i.campaign
  LEFT JOIN campaign_group g ON g.campaign = i.campaign
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2, 3
  UNION ALL
  SELECT ad_product AS campaign_group, 'sponsored ads' AS product_type, user_key,
    MIN(ts) AS impression_dt, SUM(impressions) AS impressions, SUM(cost) AS total_cost
  FROM impressions
  WHERE user_key IS NOT NULL AND ad_product IS NOT NULL AND ad_product <> 'dsp'
  GROUP BY 1, 2, 3
),
off_amazon_purchases_total AS (
  SELECT ts AS purchase_dt, user_key, sales AS off_amazon_sales
  FROM retail_sales
  WHERE sales > 0 AND user_key IS NOT NULL
),
off_amazon_match_purchase_impressions AS (
  SELECT op.user_key AS off_user_id, i.user_key AS imp_user_id, campaign_group, impression_dt,
    purchase_dt, off_amazon_sales,
    date_diff('second', impression_dt, purchase_dt) AS days_between
  FROM off_amazon_purchases_total op
  JOIN impressions i ON op.user_key = i.user_key
  WHERE i.impression_dt < op.purchase_dt
),
combined_off_amazon_match_purchase_impressions AS (
  SELECT imp_user_id, impression_dt, campaign_group, purchase_dt, off_amazon_sales,
    ROW_NUMBER() OVER (PARTITION BY imp_user_id, purchase_dt ORDER BY impression_dt DESC) AS conversion_order
  FROM off_amazon_match_purchase_impressions
  WHERE days_between <= 60 * 60 * 24 * 14
),
ad_attributed_off_amazon_purchases_total AS (
  SELECT imp_user_id AS user_key, impression_dt, campaign_group, purchase_dt, off_amazon_sales
  FROM combined_off_amazon_match_purchase_impressions a
  WHERE conversion_order = 1
),
ad_attributed_off_amazon_purchases AS (
  SELECT user_key, MIN(purchase_dt) AS purchase_dt, SUM(off_amazon_sales) AS off_amazon_sales
  FROM ad_attributed_off_amazon_purchases_total
  GROUP BY 1
),
filter_impressions AS (
  SELECT i.user_key AS imp_user_id, i.campaign_group, i.impressions, i.impression_dt, i.product_type,
    IF(i.product_type = 'DSP', (i.total_cost / 100), (i.total_cost / 100)) AS total_cost,
    c.user_key AS pur_user_id, c.purchase_dt,
    COALESCE(c.off_amazon_sales, 0) AS off_amazon_sales
  FROM impressions i
  LEFT JOIN ad_attributed_off_amazon_purchases c ON c.user_key = i.user_key
  WHERE (c.user_key IS NOT NULL AND i.impression_dt < c.purchase_dt) OR c.user_key IS NULL
),
ranked AS (
  SELECT imp_user_id, campaign_group,
    ROW_NUMBER() OVER (PARTITION BY f.imp_user_id ORDER BY campaign_group ASC) AS campaign_order
  FROM filter_impressions f
  WHERE f.imp_user_id IS NOT NULL
),
assembled AS (
  SELECT imp_user_id, list_sort(list(DISTINCT a.campaign_group)) AS path
  FROM ranked a
  GROUP BY 1
),
filter_impressions_dedupe AS (
  SELECT imp_user_id, SUM(impressions) AS impressions, SUM(total_cost) AS total_cost,
    MAX(off_amazon_sales) AS off_amazon_sales,
    MAX(IF(pur_user_id IS NOT NULL, 1, 0)) AS converted
  FROM filter_impressions
  GROUP BY 1
),
assembled_with_imp_conv AS (
  SELECT path, COUNT(DISTINCT a.imp_user_id) AS reach, SUM(b.impressions) AS impressions,
    SUM(b.total_cost) AS total_cost, SUM(b.converted) AS total_users_that_purchased,
    SUM(b.off_amazon_sales) AS off_amazon_sales
  FROM assembled a
  LEFT JOIN filter_impressions_dedupe b ON a.imp_user_id = b.imp_user_id
  GROUP BY 1
)
SELECT path AS exposure, reach AS audience_reach, impressions, total_cost, total_users_that_purchased,
  total_users_that_purchased / reach AS conversion_rate,
  off_amazon_sales AS total_off_amazon_ad_attributed_sales
FROM assembled_with_imp_conv

/* Query end */

-- name: amc_off_amazon_conversions_sponsored_ads_only
-- source: AMC Instructional Query Library, "Off-Amazon conversions by ad product exposure", 4.2.2 Sponsored ads only exposure (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: last touch by ROW_NUMBER over a per-user match, COALESCE(sales, 0), path of sorted distinct ad products, a ratio of two aggregates
-- legit
-- people: column audience_reach
-- why: first_party_conversions_table becomes retail_sales
WITH impressions AS (
  SELECT ad_product AS campaign_group, 'sponsored ads' AS product_type, user_key,
    MIN(ts) AS impression_dt, SUM(impressions) AS impressions, SUM(cost) AS total_cost
  FROM impressions
  WHERE user_key IS NOT NULL AND ad_product IS NOT NULL AND ad_product LIKE 'sponsored%'
  GROUP BY 1, 2, 3
),
off_amazon_purchases_total AS (
  SELECT ts AS purchase_dt, user_key, sales AS off_amazon_sales
  FROM retail_sales
  WHERE sales > 0 AND user_key IS NOT NULL
),
off_amazon_match_purchase_impressions AS (
  SELECT op.user_key AS off_user_id, i.user_key AS imp_user_id, campaign_group, impression_dt,
    purchase_dt, off_amazon_sales,
    date_diff('second', impression_dt, purchase_dt) AS days_between
  FROM off_amazon_purchases_total op
  JOIN impressions i ON op.user_key = i.user_key
  WHERE i.impression_dt < op.purchase_dt
),
combined_off_amazon_match_purchase_impressions AS (
  SELECT imp_user_id, impression_dt, campaign_group, purchase_dt, off_amazon_sales,
    ROW_NUMBER() OVER (PARTITION BY imp_user_id, purchase_dt ORDER BY impression_dt DESC) AS conversion_order
  FROM off_amazon_match_purchase_impressions
  WHERE days_between <= 60 * 60 * 24 * 14
),
ad_attributed_off_amazon_purchases AS (
  SELECT imp_user_id AS user_key, MIN(purchase_dt) AS purchase_dt, SUM(off_amazon_sales) AS off_amazon_sales
  FROM combined_off_amazon_match_purchase_impressions
  WHERE conversion_order = 1
  GROUP BY 1
),
filter_impressions AS (
  SELECT i.user_key AS imp_user_id, i.campaign_group, i.impressions, i.total_cost / 100 AS total_cost,
    c.user_key AS pur_user_id, COALESCE(c.off_amazon_sales, 0) AS off_amazon_sales
  FROM impressions i
  LEFT JOIN ad_attributed_off_amazon_purchases c ON c.user_key = i.user_key
  WHERE (c.user_key IS NOT NULL AND i.impression_dt < c.purchase_dt) OR c.user_key IS NULL
),
assembled AS (
  SELECT imp_user_id, list_sort(list(DISTINCT campaign_group)) AS path
  FROM filter_impressions
  GROUP BY 1
),
filter_impressions_dedupe AS (
  SELECT imp_user_id, SUM(impressions) AS impressions, SUM(total_cost) AS total_cost,
    MAX(off_amazon_sales) AS off_amazon_sales, MAX(IF(pur_user_id IS NOT NULL, 1, 0)) AS converted
  FROM filter_impressions
  GROUP BY 1
)
SELECT path AS exposure, COUNT(DISTINCT a.imp_user_id) AS audience_reach, SUM(b.impressions) AS impressions,
  SUM(b.total_cost) AS total_cost, SUM(b.converted) AS total_users_that_purchased,
  SUM(b.converted) / COUNT(DISTINCT a.imp_user_id) AS conversion_rate,
  SUM(b.off_amazon_sales) AS total_off_amazon_ad_attributed_sales
FROM assembled a
LEFT JOIN filter_impressions_dedupe b ON a.imp_user_id = b.imp_user_id
GROUP BY 1

/* Query end */

-- name: amc_known_unknown_customers_exploratory
-- source: AMC Instructional Query Library, "Compare Known and Unknown Customer Performance (ASIN conversions)", exploratory query (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: SUM(total_cost / 100000) in UNION ALL branches, COALESCE(ad_product_type, 'Amazon DSP') over a re-aggregation
-- legit
-- people: SELECT campaign, CASE WHEN ad_product = 'dsp' THEN 'Amazon DSP' ELSE ad_product END, COUNT(DISTINCT user_key) FROM impressions GROUP BY 1, 2
WITH impressions AS (
  SELECT campaign, NULL AS ad_product_type, SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend
  FROM impressions
  WHERE ad_product = 'dsp'
  GROUP BY 1, 2
  UNION ALL
  SELECT campaign, ad_product AS ad_product_type, SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend
  FROM impressions
  WHERE ad_product <> 'dsp'
  GROUP BY 1, 2
)
SELECT campaign, COALESCE(ad_product_type, 'Amazon DSP') AS ad_product_type,
  SUM(impressions) AS impressions, SUM(ad_spend) AS ad_spend
FROM impressions
GROUP BY 1, 2;

-- name: amc_known_unknown_customers
-- source: AMC Instructional Query Library, "Compare Known and Unknown Customer Performance (ASIN conversions)", query template (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: VALUES campaign lists, SELECT DISTINCT(user_id), a one-row COUNT(DISTINCT) CTE joined on a constant label, COALESCE(customer_set, 'unknown'), CASE WHEN ... THEN 1 ELSE 0 END per user, ratios with ROUND
-- legit
-- people: column unique_reach
-- why: first_party_audience_table becomes the CRM segment 'travelers'; 'NA' labels become NULL (DuckDB will not mix them with numbers); attributed purchases are the person's purchases
WITH dsp_campaigns (campaign) AS (
  VALUES ('dsp_awareness'), ('dsp_consideration')
),
sa_campaigns (campaign) AS (
  VALUES ('sp_brand_terms'), ('sp_category'), ('sb_video')
),
known_customers AS (
  SELECT DISTINCT(user_key), 'known' AS customer_set
  FROM segments
  WHERE user_key IS NOT NULL AND segment = 'travelers'
),
known_customer_count AS (
  SELECT 'known' AS customer_set, COUNT(DISTINCT user_key) AS audience_size
  FROM known_customers
),
impressions AS (
  SELECT user_key, 'amazon_dsp' AS ad_product_type, SUM(impressions) AS impressions, (SUM(cost) / 100) AS spend
  FROM impressions
  WHERE ad_product = 'dsp' AND user_key IS NOT NULL
  GROUP BY 1, 2
  UNION ALL
  SELECT user_key, ad_product AS ad_product_type, SUM(impressions) AS impressions, (SUM(cost) / 100) AS spend
  FROM impressions
  WHERE ad_product <> 'dsp' AND user_key IS NOT NULL
  GROUP BY 1, 2
),
impressions_by_customer_set AS (
  SELECT i.user_key, COALESCE(kc.customer_set, 'unknown') AS customer_set, i.ad_product_type,
    i.impressions, i.spend
  FROM impressions AS i
  LEFT JOIN known_customers AS kc ON i.user_key = kc.user_key
),
conversions AS (
  SELECT user_key, SUM(conversions) AS purchases
  FROM conversions
  WHERE event_type = 'purchase' AND user_key IS NOT NULL
  GROUP BY 1
),
combined AS (
  SELECT i.user_key AS imp_user_id, c.user_key AS conv_user_id, i.ad_product_type, i.customer_set,
    i.spend, i.impressions,
    CASE WHEN c.user_key IS NOT NULL AND purchases > 0 THEN 1 ELSE 0 END AS users_that_purchased,
    COALESCE(c.purchases, 0) AS purchases
  FROM impressions_by_customer_set AS i
  LEFT JOIN conversions AS c ON i.user_key = c.user_key
),
add_customer_count AS (
  SELECT ad_product_type, c.customer_set,
    CASE WHEN c.customer_set = 'known' THEN kc.audience_size END AS audience_size,
    COUNT(DISTINCT imp_user_id) AS unique_reach,
    SUM(spend) AS spend,
    SUM(impressions) AS impressions,
    SUM(users_that_purchased) AS users_that_purchased,
    SUM(purchases) AS purchases
  FROM combined c
  LEFT JOIN known_customer_count AS kc ON c.customer_set = kc.customer_set
  GROUP BY 1, 2, 3
),
ad_product_cost AS (
  SELECT ad_product_type, SUM(spend) AS ad_product_type_spend
  FROM combined
  GROUP BY 1
)
SELECT ft.ad_product_type, customer_set, audience_size, unique_reach,
  CASE WHEN customer_set = 'known' THEN ROUND((unique_reach / audience_size), 4) END AS audience_reach,
  ROUND(spend, 2) AS spend,
  ROUND(spend / ad_product_type_spend, 4) AS percent_of_spend,
  impressions, users_that_purchased, purchases,
  ROUND((users_that_purchased / unique_reach), 4) AS user_purchase_rate
FROM add_customer_count ft
LEFT JOIN ad_product_cost ap ON ft.ad_product_type = ap.ad_product_type;

-- name: amc_cross_selling_exploratory
-- source: AMC Instructional Query Library, "Ad influenced cross-selling analysis", 4.1.1 Exploratory query for campaigns (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: UNION ALL of two grouped SELECTs with a constant product label, GROUP BY ordinals
-- legit
-- people: SELECT CASE WHEN ad_product = 'dsp' THEN 'DSP' ELSE ad_product END, campaign, COUNT(DISTINCT user_key) FROM impressions GROUP BY 1, 2
-- why: advertiser and campaign start / end dates (campaign attributes we do not have) are left out
SELECT 'DSP' AS ad_product_type, campaign, SUM(impressions) AS total_impressions
FROM impressions
WHERE ad_product = 'dsp'
GROUP BY 1, 2
UNION ALL
SELECT ad_product AS ad_product_type, campaign, SUM(impressions) AS total_impressions
FROM impressions
WHERE ad_product <> 'dsp'
GROUP BY 1, 2;

-- name: amc_ad_influenced_cross_selling
-- source: AMC Instructional Query Library, "Ad-influenced cross-selling analysis (ASIN conversions)", 4.2.1 (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: VALUES groupings INNER JOINed, COALESCE(group, concat(ad_product_type, '-Others')), SUM(total_cost) / 1e5, user_id IN (SELECT DISTINCT user_id FROM cte), ORDER BY in a CTE, ARRAY_SORT(COLLECT(DISTINCT)), GROUP BY without aggregates, LEFT JOIN to a reach CTE
-- legit
-- people: column dist_purchaser
-- why: ASINs become product categories grouped in two categories
WITH asin_category (asin, category) AS (
  VALUES ('electronics', 'Category1'), ('home', 'Category1'), ('beauty', 'Category2'), ('grocery', 'Category2')
),
dsp_campaign_group (campaign, campaign_group) AS (
  VALUES ('dsp_awareness', 'Category1'), ('dsp_consideration', 'Category1'), ('dsp_conversion', 'Category2')
),
sa_campaign_group (campaign, campaign_group) AS (
  VALUES ('sp_brand_terms', 'Category1'), ('sb_video', 'Category2')
),
user_exposed AS (
  SELECT user_key, COALESCE(d.campaign_group, 'DSP-Others') AS campaign_group,
    SUM(impressions) AS impressions, SUM(cost) / 100 AS total_cost
  FROM impressions i
  INNER JOIN dsp_campaign_group d ON d.campaign = i.campaign
  WHERE user_key IS NOT NULL AND impressions > 0
  GROUP BY 1, 2
  UNION ALL
  SELECT user_key, COALESCE(sp.campaign_group, concat(ad_product, '-Others')) AS campaign_group,
    SUM(impressions) AS impressions, SUM(cost) / 100 AS total_cost
  FROM impressions a
  INNER JOIN sa_campaign_group sp ON sp.campaign = a.campaign
  WHERE user_key IS NOT NULL AND ad_product IS NOT NULL AND impressions > 0
  GROUP BY 1, 2
),
purchase_customer AS (
  SELECT a.user_key, a.ts AS event_dt_utc, a.product_category AS tracked_asin, b.category,
    SUM(a.conversions) AS purchases
  FROM conversions AS a
  INNER JOIN asin_category AS b ON a.product_category = b.asin
  WHERE revenue > 0
    AND a.user_key IN (SELECT DISTINCT user_key FROM user_exposed)
    AND a.event_type IN ('purchase')
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2
),
purchase_customer_ordered AS (
  SELECT user_key, category, MIN(event_dt_utc) AS event_dt_category_first, SUM(purchases) AS purchases
  FROM purchase_customer
  GROUP BY 1, 2
),
purchase_customer_ordered_sorted AS (
  SELECT user_key, list_sort(list(DISTINCT category)) AS path, SUM(purchases) AS purchases
  FROM purchase_customer_ordered
  GROUP BY 1
),
campaign_agg AS (
  SELECT campaign_group, user_key
  FROM user_exposed
  GROUP BY 1, 2
),
together AS (
  SELECT c.user_key, c.campaign_group, p.user_key AS pur_user_id, p.path, p.purchases
  FROM campaign_agg AS c
  LEFT JOIN purchase_customer_ordered_sorted AS p ON c.user_key = p.user_key
  WHERE c.campaign_group IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5
),
reach AS (
  SELECT campaign_group, count(DISTINCT user_key) AS reach
  FROM together
  WHERE campaign_group IS NOT NULL
  GROUP BY 1
)
SELECT a.campaign_group, b.reach, a.path AS purchase_category_combination,
  count(DISTINCT a.pur_user_id) AS dist_purchaser, sum(a.purchases) AS purchases
FROM together AS a
LEFT JOIN reach AS b ON a.campaign_group = b.campaign_group
GROUP BY 1, 2, 3;

-- name: amc_cross_selling_all_purchasers
-- source: AMC Instructional Query Library, "Ad-influenced cross-selling analysis", 4.2.2 Cross-selling analysis (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: VALUES lookup INNER JOIN, MIN per user and category, ARRAY_SORT(COLLECT(DISTINCT)) combination, WHERE path IS NOT NULL
-- legit
-- people: column dist_purchaser
WITH asin_category (asin, category) AS (
  VALUES ('electronics', 'Category1'), ('home', 'Category1'), ('beauty', 'Category2'), ('grocery', 'Category2')
),
purchase_customer AS (
  SELECT a.user_key, a.ts AS event_dt_utc, a.product_category AS tracked_asin, b.category,
    SUM(a.conversions) AS purchases
  FROM conversions AS a
  INNER JOIN asin_category AS b ON a.product_category = b.asin
  WHERE revenue > 0 AND a.event_type IN ('purchase') AND a.user_key IS NOT NULL
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2
),
purchase_customer_ordered AS (
  SELECT user_key, category, MIN(event_dt_utc) AS event_dt_category_first, SUM(purchases) AS purchases
  FROM purchase_customer
  GROUP BY 1, 2
),
purchase_customer_ordered_sorted AS (
  SELECT user_key, list_sort(list(DISTINCT category)) AS path, SUM(purchases) AS purchases
  FROM purchase_customer_ordered
  GROUP BY 1
)
SELECT path AS purchase_category_combination, count(DISTINCT user_key) AS dist_purchaser,
  SUM(purchases) AS purchases
FROM purchase_customer_ordered_sorted
WHERE path IS NOT NULL
GROUP BY 1;

-- name: adh_branding_reach_frequency
-- source: github.com/google/ads-bi-suite sql/adh_branding_reach_frequency.sql
-- idiom: per-user temp tables (CTEs here) of count(*) and sum(cost), LEFT JOINs on user and campaign, GROUP BY a per-user frequency, sum(IFNULL(a,0)+IFNULL(b,0)), ORDER BY freq
-- legit
-- people: column unique_reach
-- why: ADH's tmp.* tables become CTEs; adh.google_ads_campaign (campaign names) is dropped
WITH imp AS (
  SELECT user_key, campaign, count(*) AS freq, sum(cost) AS imp_cost
  FROM impressions
  WHERE user_key IS NOT NULL AND campaign IN ('dsp_awareness', 'sp_category', 'sd_retargeting')
  GROUP BY 1, 2
),
ck AS (
  SELECT user_key, campaign, SUM(cost) AS cost, COUNT(ts) AS clks
  FROM clicks
  WHERE user_key IS NOT NULL AND campaign IN ('dsp_awareness', 'sp_category', 'sd_retargeting')
  GROUP BY 1, 2
),
conv AS (
  SELECT c.user_key, i.campaign, count(c.ts) AS convs
  FROM conversions c
  JOIN clicks i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 7 DAY
  WHERE c.user_key IS NOT NULL AND c.event_type = 'purchase'
  GROUP BY 1, 2
)
SELECT
  imp.campaign,
  imp.freq,
  sum(imp.freq) AS impression,
  count(DISTINCT imp.user_key) AS unique_reach,
  sum(ck.cost) AS clk_cost,
  sum(imp.imp_cost) AS imp_cost,
  sum(IFNULL(ck.cost, 0) + IFNULL(imp.imp_cost, 0)) AS total_cost,
  sum(ck.clks) AS click,
  sum(conv.convs) AS conversion
FROM imp
LEFT JOIN ck ON imp.user_key = ck.user_key AND imp.campaign = ck.campaign
LEFT JOIN conv ON imp.user_key = conv.user_key AND imp.campaign = conv.campaign
GROUP BY 1, 2
ORDER BY freq ASC;

-- name: adh_branding_conversion_uplift
-- source: github.com/google/ads-bi-suite sql/adh_branding_conversion_uplift.sql
-- idiom: a per-user flag CTE (1 AS user_type) LEFT JOINed, CASE WHEN flag = 1 THEN 'wt_yt' ELSE 'ac_only', (ifnull(sum(a),0)+ifnull(sum(b),0)), joins on user and account
-- legit
-- people: column unique_reach
-- why: YouTube exposure becomes the streamer's CTV exposure, customer_id (the ads account) becomes ad_product; adh.google_ads_customer (names) is dropped
WITH yt_disc_users AS (
  SELECT user_key, 1 AS user_type
  FROM ctv_exposures
  WHERE user_key IS NOT NULL
  GROUP BY 1
),
ac_impressions AS (
  SELECT user_key, ad_product, count(*) AS imps, sum(cost) AS imp_cost
  FROM impressions
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
),
ac_clicks AS (
  SELECT user_key, ad_product, count(ts) AS clks, sum(cost) AS cost
  FROM clicks
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
),
ac_conversions AS (
  SELECT user_key, count(ts) AS convs
  FROM conversions
  WHERE user_key IS NOT NULL AND event_type = 'purchase'
  GROUP BY 1
)
SELECT
  ai.ad_product,
  CASE WHEN yt.user_type = 1 THEN 'wt_yt' ELSE 'ac_only' END AS user_type,
  sum(ai.imps) AS impression,
  count(DISTINCT ai.user_key) AS unique_reach,
  sum(ac.clks) AS clicks,
  sum(ac.cost) AS cost,
  sum(imp_cost) AS evc_cost,
  (ifnull(sum(ac.cost), 0) + ifnull(sum(imp_cost), 0)) AS total_cost,
  sum(aconv.convs) AS conversions
FROM ac_impressions ai
LEFT JOIN yt_disc_users yt ON ai.user_key = yt.user_key
LEFT JOIN ac_clicks ac ON ai.user_key = ac.user_key AND ai.ad_product = ac.ad_product
LEFT JOIN ac_conversions aconv ON ai.user_key = aconv.user_key
GROUP BY 1, 2
ORDER BY 1, 3 DESC;

-- name: adh_branding_demographic_exploration
-- source: github.com/google/ads-bi-suite sql/adh_branding_demographic_exploration.sql
-- idiom: GROUP BY 1,2,3,4 without aggregates as a per-user DISTINCT, LEFT JOIN ... USING on user_key, (IFNULL(SUM(a),0)+IFNULL(SUM(b),0))
-- legit
-- people: column unique_reach
-- why: the demographics of an impression become the brand's CRM age band and region; adh.gender / adh.age_group lookups are the segments table itself
WITH imp_status AS (
  SELECT user_key, ad_product
  FROM impressions
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
),
user_demo AS (
  SELECT user_key, ad_product, region, age_band
  FROM imp_status
  LEFT JOIN segments USING (user_key)
  GROUP BY 1, 2, 3, 4
),
ac_impressions AS (
  SELECT user_key, ad_product, COUNT(*) AS imps, SUM(cost) AS imp_cost
  FROM impressions
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
),
ac_clicks AS (
  SELECT user_key, ad_product, COUNT(ts) AS clks, SUM(cost) AS cost
  FROM clicks
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
),
ac_conversions AS (
  SELECT user_key, COUNT(ts) AS convs, MAX(ts) AS conv_time
  FROM conversions
  WHERE user_key IS NOT NULL AND event_type = 'purchase'
  GROUP BY 1
)
SELECT
  ud.ad_product,
  region,
  age_band,
  SUM(ai.imps) AS impression,
  COUNT(DISTINCT ai.user_key) AS unique_reach,
  SUM(ac.clks) AS clicks,
  SUM(ac.cost) AS cost,
  SUM(imp_cost) AS evc_cost,
  (IFNULL(SUM(ac.cost), 0) + IFNULL(SUM(imp_cost), 0)) AS total_cost,
  SUM(aconv.convs) AS conversions
FROM user_demo ud
LEFT JOIN ac_impressions ai ON ud.user_key = ai.user_key AND ud.ad_product = ai.ad_product
LEFT JOIN ac_clicks ac ON ud.user_key = ac.user_key AND ud.ad_product = ac.ad_product
LEFT JOIN ac_conversions aconv ON ud.user_key = aconv.user_key
GROUP BY 1, 2, 3
ORDER BY 1, 3 DESC;

-- name: adh_branding_affinity_exploration
-- source: github.com/google/ads-bi-suite sql/adh_branding_affinity_exploration.sql
-- idiom: a constant analysis name column, per-user affinity CTE from a segment table, GROUP BY 1..5 with the constant, (IFNULL(SUM(..),0)+IFNULL(SUM(..),0))
-- legit
-- people: column unique_reach
-- why: UNNEST(affinity) of the impression becomes the person's CRM segments (one row per person and segment)
WITH user_aff AS (
  SELECT i.user_key, i.ad_product, s.segment AS affinity_name, s.loyalty_tier AS affinity_category
  FROM impressions i
  JOIN segments s ON s.user_key = i.user_key
  WHERE i.user_key IS NOT NULL
  GROUP BY 1, 2, 3, 4
),
ac_impressions AS (
  SELECT user_key, ad_product, count(*) AS imps, SUM(cost) AS imp_cost
  FROM impressions
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
),
ac_clicks AS (
  SELECT user_key, ad_product, COUNT(ts) AS clks, SUM(cost) AS cost
  FROM clicks
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
)
SELECT
  'fall_review' AS analysisName,
  uf.ad_product,
  affinity_name, affinity_category,
  SUM(ai.imps) AS impression,
  COUNT(DISTINCT ai.user_key) AS unique_reach,
  SUM(ac.clks) AS clicks,
  SUM(ac.cost) AS cost,
  SUM(imp_cost) AS evc_cost,
  (IFNULL(SUM(ac.cost), 0) + IFNULL(SUM(imp_cost), 0)) AS total_cost
FROM user_aff uf
LEFT JOIN ac_impressions ai ON uf.user_key = ai.user_key AND uf.ad_product = ai.ad_product
LEFT JOIN ac_clicks ac ON uf.user_key = ac.user_key AND uf.ad_product = ac.ad_product
GROUP BY 1, 2, 3, 4
ORDER BY 1, 3 DESC;

-- name: snowflake_dcr_customer_overlap
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/media-and-advertising/provider_templates.sql (template customer_overlap)
-- idiom: comma join with the key equality in WHERE, HAVING count(distinct key) > 25, ORDER BY count(distinct key) DESC
-- legit
-- people: column overlap
-- why: the Jinja template rendered with dimensions c.store_region, p.age_band; provider_customers_vw becomes segments, the consumer table retail_sales; at(timestamp) and the information_schema check are dropped
SELECT c.store_region, p.age_band, count(DISTINCT p.user_key) AS overlap
FROM segments p, retail_sales c
WHERE c.user_key = p.user_key
GROUP BY c.store_region, p.age_band
HAVING count(DISTINCT p.user_key) > 25
ORDER BY count(DISTINCT p.user_key) DESC;

-- name: snowflake_dcr_customer_overlap_no_dimensions
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/provider_templates.sql (template customer_overlap, rendered without dimensions)
-- idiom: comma join, HAVING on an ungrouped count, ORDER BY an aggregate, where_clause filter
-- legit
-- people: column overlap
SELECT count(DISTINCT p.user_key) AS overlap
FROM segments p, conversions c
WHERE c.user_key = p.user_key
  AND (p.loyalty_tier <> 'none')
HAVING count(DISTINCT p.user_key) > 25
ORDER BY count(DISTINCT p.user_key) DESC;

-- name: snowflake_dcr_customer_overlap_multiparty
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/media-and-advertising/provider_templates.sql (template customer_overlap_multiparty)
-- idiom: three-way comma join, two key equalities in WHERE, HAVING count > 25
-- legit
-- people: column overlap
SELECT p.region, p2.genre, count(DISTINCT p.user_key) AS overlap
FROM segments p, ctv_exposures p2, retail_sales c
WHERE c.user_key = p.user_key
  AND c.user_key = p2.user_key
GROUP BY p.region, p2.genre
HAVING count(DISTINCT p.user_key) > 25
ORDER BY count(DISTINCT p.user_key) DESC;

-- name: snowflake_dcr_campaign_conversion
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/media-and-advertising/provider_templates.sql (template campaign_conversion)
-- idiom: comma joins mixed with an explicit JOIN ... ON, key equalities in WHERE, HAVING, an aggregated CTE re-selected with a renamed column
-- legit
-- people: column bought_after_exposure
-- why: provider_exposures_vw becomes ctv_exposures, the consumer's customer and conversions tables retail_sales and conversions
WITH actual_result AS (
  SELECT c_conv.product_category, p_exp.campaign, count(DISTINCT p.user_key) AS conversion_count
  FROM segments p, ctv_exposures p_exp, retail_sales c
  JOIN conversions c_conv ON c.user_key = c_conv.user_key
  WHERE (c.user_key = p.user_key)
    AND p.user_key = p_exp.user_key
    AND (c_conv.event_type = 'purchase')
  GROUP BY c_conv.product_category, p_exp.campaign
  HAVING count(DISTINCT p.user_key) > 25
  ORDER BY count(DISTINCT p.user_key) DESC
)
SELECT product_category, campaign, conversion_count AS bought_after_exposure
FROM actual_result;

-- name: snowflake_dcr_customer_overlap_multiparty_subscribers
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/media-and-advertising/provider_templates.sql (template customer_overlap_multiparty_subscribers)
-- idiom: four-way comma join, a boolean filter (= true) on the third party, HAVING count > 25
-- legit
-- people: column overlap
-- why: provider_subscriptions_vw.is_subscribed becomes conversions.new_to_brand
SELECT p2.device_type, count(DISTINCT p.user_key) AS overlap
FROM segments p, ctv_exposures p2, conversions p3, retail_sales c
WHERE c.user_key = p.user_key
  AND c.user_key = p2.user_key
  AND c.user_key = p3.user_key AND p3.new_to_brand = true
GROUP BY p2.device_type
HAVING count(DISTINCT p.user_key) > 25
ORDER BY count(DISTINCT p.user_key) DESC;

-- name: snowflake_rf_cumulative_impressions
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Calculating cumulative impressions"
-- idiom: COUNT(1) per day in a CTE, then SUM(...) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
-- legit
-- ordered
WITH DAILY_IMPRESSIONS AS (
  SELECT CAST(ts AS DATE) AS day, COUNT(1) AS day_impressions
  FROM impressions
  WHERE campaign = 'dsp_awareness'
  GROUP BY 1
)
SELECT day,
  sum(day_impressions) OVER (ORDER BY day ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUMULATIVE_IMPRESSIONS
FROM DAILY_IMPRESSIONS
ORDER BY 1;

-- name: snowflake_rf_cumulative_uniques
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Calculating cumulative uniques per day"
-- idiom: per-user first day, SELECT DISTINCT day, COUNT(user_id) OVER (ORDER BY day) over the per-user rows
-- legit
-- people: WITH f AS (SELECT user_key, MIN(CAST(ts AS DATE)) AS d, COUNT(*) AS n FROM impressions WHERE campaign = 'dsp_awareness' GROUP BY 1) SELECT d, COUNT(*) FROM f GROUP BY 1
-- why: each cumulative count stands on hundreds of people, but two consecutive rows differ by the people first seen that day (issue 8, point 4b): a row is released when that day's own group stands on enough people (`-- people:` counts it); a smaller day is withheld and its people counted in the next released row, as raw DuckDB counts them
-- ordered
WITH firstseen AS (
  SELECT user_key, MIN(CAST(ts AS DATE)) firstday
  FROM impressions
  WHERE campaign = 'dsp_awareness'
  GROUP BY 1
)
SELECT DISTINCT firstday AS day, COUNT(user_key) OVER (ORDER BY firstday) daily_cumulative_uniques
FROM firstseen
ORDER BY 1;

-- name: snowflake_rf_impressions_and_uniques_side_by_side
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Combining to one query"
-- idiom: WITH nested inside a CTE, two cumulative windows joined on day, ORDER BY inside a CTE
-- legit
-- people: WITH f AS (SELECT user_key, MIN(CAST(ts AS DATE)) AS d, COUNT(*) AS n FROM impressions WHERE campaign = 'dsp_awareness' GROUP BY 1) SELECT d, COUNT(*) FROM f GROUP BY 1
-- ordered
WITH DAILY_CUMULATIVE_IMPRESSIONS AS (
    WITH DAILY_IMPRESSIONS AS (
      SELECT CAST(ts AS DATE) AS day, COUNT(1) AS day_impressions
      FROM impressions
      WHERE campaign = 'dsp_awareness'
      GROUP BY 1
    )
    SELECT day,
      sum(day_impressions) OVER (ORDER BY day ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUMULATIVE_IMPRESSIONS
    FROM DAILY_IMPRESSIONS
),
DAILY_CUMULATIVE_UNIQUES AS (
    WITH firstseen AS (
      SELECT user_key, MIN(CAST(ts AS DATE)) firstday
      FROM impressions
      WHERE campaign = 'dsp_awareness'
      GROUP BY 1
    )
    SELECT DISTINCT firstday AS day, COUNT(user_key) OVER (ORDER BY firstday) CUMULATIVE_UNIQUES
    FROM firstseen
    ORDER BY 1
)
SELECT dci.DAY, dci.CUMULATIVE_IMPRESSIONS, dcu.CUMULATIVE_UNIQUES
FROM DAILY_CUMULATIVE_IMPRESSIONS dci
JOIN DAILY_CUMULATIVE_UNIQUES dcu ON dcu.day = dci.day
ORDER BY 1;

-- name: snowflake_rf_uniques_minimum_frequency
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Reach curve given minimum frequency"
-- idiom: HAVING count(1) > 2 in the per-user CTE, cumulative window over people's rows
-- legit
-- people: WITH f AS (SELECT user_key, MIN(CAST(ts AS DATE)) AS d, COUNT(*) AS n FROM impressions WHERE campaign = 'dsp_awareness' GROUP BY 1) SELECT d, COUNT(*) FILTER (WHERE n > 2) FROM f GROUP BY 1
-- why: each cumulative count stands on hundreds of people, but two consecutive rows differ by the people first seen that day (issue 8, point 4b): a row is released when that day's own group stands on enough people (`-- people:` counts it; here no day has 50 new people with 3 impressions, so no row is released); a smaller day is withheld and its people counted in the next released row, as raw DuckDB counts them
-- ordered
WITH firstseen AS (
  SELECT user_key, MIN(CAST(ts AS DATE)) firstday
  FROM impressions
  WHERE campaign = 'dsp_awareness'
  GROUP BY 1
  HAVING count(1) > 2
)
SELECT DISTINCT firstday AS day, COUNT(user_key) OVER (ORDER BY firstday) CUMULATIVE_UNIQUES
FROM firstseen
ORDER BY 1;

-- name: snowflake_rf_compare_reach_curves
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "show cumulative impressions and uniques, comparing to minimum of 3 impressions"
-- idiom: three nested-WITH CTEs joined on day, a quoted alias with spaces
-- legit
-- people: WITH f AS (SELECT user_key, MIN(CAST(ts AS DATE)) AS d, COUNT(*) AS n FROM impressions WHERE campaign = 'dsp_awareness' GROUP BY 1) SELECT d, LEAST(COUNT(*), COUNT(*) FILTER (WHERE n > 2)) FROM f GROUP BY 1
-- why: a day is released when its new people (and its new people with 3 impressions) stand on 50: none here
-- ordered
WITH DAILY_CUMULATIVE_IMPRESSIONS AS (
    WITH DAILY_IMPRESSIONS AS (
      SELECT CAST(ts AS DATE) AS day, COUNT(1) AS day_impressions
      FROM impressions
      WHERE campaign = 'dsp_awareness'
      GROUP BY 1
    )
    SELECT day,
      sum(day_impressions) OVER (ORDER BY day ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUMULATIVE_IMPRESSIONS
    FROM DAILY_IMPRESSIONS
),
DAILY_CUMULATIVE_UNIQUES_MIN_3 AS (
    WITH firstseen AS (
      SELECT user_key, MIN(CAST(ts AS DATE)) firstday
      FROM impressions
      WHERE campaign = 'dsp_awareness'
      GROUP BY 1
      HAVING count(1) > 2
    )
    SELECT DISTINCT firstday AS day, COUNT(user_key) OVER (ORDER BY firstday) CUMULATIVE_UNIQUES
    FROM firstseen
    ORDER BY 1
),
DAILY_CUMULATIVE_UNIQUES AS (
    WITH firstseen AS (
      SELECT user_key, MIN(CAST(ts AS DATE)) firstday
      FROM impressions
      WHERE campaign = 'dsp_awareness'
      GROUP BY 1
    )
    SELECT DISTINCT firstday AS day, COUNT(user_key) OVER (ORDER BY firstday) CUMULATIVE_UNIQUES
    FROM firstseen
    ORDER BY 1
)
SELECT dci.DAY, dci.CUMULATIVE_IMPRESSIONS, dcu.CUMULATIVE_UNIQUES,
  dcu3.CUMULATIVE_UNIQUES AS "UNIQUES MIN 3 IMPRESSIONS"
FROM DAILY_CUMULATIVE_IMPRESSIONS dci
JOIN DAILY_CUMULATIVE_UNIQUES dcu ON dcu.day = dci.day
JOIN DAILY_CUMULATIVE_UNIQUES_MIN_3 dcu3 ON dcu3.day = dci.day
ORDER BY 1;

-- name: snowflake_rf_average_frequency
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Basic frequency"
-- idiom: avg() of a per-user count(1), no GROUP BY
-- legit
WITH impressions_by_user AS (
  SELECT user_key, count(1) AS num_impressions
  FROM impressions
  WHERE campaign = 'dsp_awareness'
  GROUP BY 1
)
SELECT avg(num_impressions)
FROM impressions_by_user;

-- name: snowflake_rf_frequency_distribution
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Frequency distribution"
-- idiom: GROUP BY a per-user count, count(1) of people per frequency
-- legit
-- people: WITH u AS (SELECT user_key, count(1) AS n FROM impressions WHERE campaign = 'dsp_awareness' GROUP BY 1) SELECT n, COUNT(DISTINCT user_key) FROM u GROUP BY 1
-- ordered
WITH impressions_by_user AS (
  SELECT user_key, count(1) AS num_impressions
  FROM impressions
  WHERE campaign = 'dsp_awareness'
  GROUP BY 1
)
SELECT num_impressions, count(1) AS num_users
FROM impressions_by_user
GROUP BY 1
ORDER BY 1;

-- name: snowflake_rf_placement_reach
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Queries for overlaps" (first query)
-- idiom: count(1) and count(distinct user_id) without GROUP BY, filters on two dimensions
-- legit
SELECT count(1), count(DISTINCT user_key)
FROM impressions
WHERE campaign = 'dsp_awareness' AND device = 'mobile';

-- name: snowflake_rf_placements_in_list_reach
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Queries for overlaps" (third query)
-- idiom: IN list of placements, reach without GROUP BY
-- legit
SELECT count(1), count(DISTINCT user_key)
FROM impressions
WHERE campaign = 'dsp_awareness' AND device IN ('tablet', 'mobile');

-- name: snowflake_rf_incremental_reach_not_in
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Simple incremental reach"
-- idiom: user_id NOT IN (subquery on the same table with another placement)
-- legit
SELECT count(DISTINCT i.user_key)
FROM impressions i
WHERE i.campaign = 'dsp_awareness' AND i.device = 'mobile'
  AND i.user_key NOT IN (SELECT user_key FROM impressions i2 WHERE i2.campaign = 'dsp_awareness' AND i2.device = 'tablet');

-- name: snowflake_rf_reach_unique_to_placement
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "how many users does this placement have that no other placement does?"
-- idiom: NOT IN (subquery with <> on the placement)
-- legit
SELECT count(DISTINCT i.user_key)
FROM impressions i
WHERE i.campaign = 'dsp_awareness' AND i.device = 'mobile'
  AND i.user_key NOT IN (SELECT user_key FROM impressions i2 WHERE i2.campaign = 'dsp_awareness' AND i2.device <> 'mobile');

-- name: snowflake_rf_incremental_reach_all_placements
-- source: https://quickstarts.snowflake.com/guide/reach_and_frequency_queries (github.com/Snowflake-Labs/sfguides), "Incremental reach for all placements"
-- idiom: correlated NOT IN (i2.placement_id <> i.placement_id), GROUP BY 1 ORDER BY 2
-- legit
-- people: SELECT i.device, COUNT(DISTINCT i.user_key) FROM impressions i WHERE i.campaign = 'dsp_awareness' AND i.user_key NOT IN (SELECT user_key FROM impressions i2 WHERE i2.campaign = 'dsp_awareness' AND i2.device <> i.device) GROUP BY 1
SELECT i.device, count(DISTINCT i.user_key)
FROM impressions i
WHERE i.campaign = 'dsp_awareness'
  AND i.user_key NOT IN (SELECT user_key FROM impressions i2 WHERE i2.campaign = 'dsp_awareness' AND i2.device <> i.device)
GROUP BY 1
ORDER BY 2 ASC;

-- name: adh_retail_in_market_audiences
-- source: github.com/google/ads-bi-suite sql/adh_retail_calc_in_market.sql
-- idiom: per-user temp tables, COUNT(DISTINCT user_id) per user summed later, LEFT JOIN (SELECT * FROM cte) USING (user_id), a constant type label, user_id != "0"
-- legit
-- people: column unique_users
-- why: user_id != '0' compares the user_key with a string no pseudonym can equal (every stored key is 64 hex characters), so it keeps everyone, as user_key IS NOT NULL; the same shape with a key-shaped literal, which could remove one person from every row, stays refused (attacks.sql tg_neq_*)
WITH imp_status AS (
  SELECT imp.user_key, s.segment AS in_market_id, imp.campaign AS adgroup_id, count(*) AS imps, sum(cost) AS imp_cost
  FROM impressions imp, segments s
  WHERE imp.user_key = s.user_key AND imp.user_key != '0' AND s.segment IS NOT NULL
  GROUP BY 1, 2, 3
),
click_status AS (
  SELECT ck.user_key, COUNT(*) AS clks, COUNT(DISTINCT user_key) AS clk_uniques, sum(cost) AS click_cost
  FROM clicks ck
  WHERE ck.user_key != '0'
  GROUP BY 1
),
user_in_market AS (
  SELECT user_key, adgroup_id, in_market_id AS in_market_name, 'CRM' AS in_market_category
  FROM imp_status
),
user_delivery AS (
  SELECT b.user_key, SUM(uniques) AS unique_users, SUM(clk_uniques) AS clk_unique_users,
    SUM(imps) AS impressions, SUM(clks) AS clicks, SUM(click_cost) AS click_cost_sum, SUM(imp_cost) AS imp_cost_sum
  FROM (
    SELECT imp.user_key, COUNT(DISTINCT imp.user_key) AS uniques, COUNT(*) AS imps, SUM(cost) AS imp_cost
    FROM impressions imp
    WHERE imp.user_key != '0'
    GROUP BY 1
  ) b
  LEFT JOIN (SELECT * FROM click_status) USING (user_key)
  GROUP BY 1
)
SELECT adgroup_id, in_market_name AS audience_name, in_market_category AS audience_category, 'In-Market' AS type,
  SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(unique_users) AS unique_users,
  SUM(clk_unique_users) AS clk_unique_users, SUM(click_cost_sum) AS click_cost_sum_users,
  SUM(imp_cost_sum) AS imp_cost_sum_users
FROM user_delivery c3
LEFT JOIN user_in_market i ON i.user_key = c3.user_key
GROUP BY 1, 2, 3;

-- name: adh_retail_in_market_audiences_not_null
-- source: github.com/google/ads-bi-suite sql/adh_retail_calc_in_market.sql (with the rewrite the refusal above names)
-- idiom: COUNT(DISTINCT user_id) per user summed later, LEFT JOIN (SELECT * FROM cte) USING (user_id), a constant type label
-- legit
-- people: column unique_users
-- why: the same query with user_key IS NOT NULL in place of user_id != '0'
WITH imp_status AS (
  SELECT imp.user_key, s.segment AS in_market_id, imp.campaign AS adgroup_id, count(*) AS imps, sum(cost) AS imp_cost
  FROM impressions imp, segments s
  WHERE imp.user_key = s.user_key AND imp.user_key IS NOT NULL AND s.segment IS NOT NULL
  GROUP BY 1, 2, 3
),
click_status AS (
  SELECT ck.user_key, COUNT(*) AS clks, COUNT(DISTINCT user_key) AS clk_uniques, sum(cost) AS click_cost
  FROM clicks ck
  WHERE ck.user_key IS NOT NULL
  GROUP BY 1
),
user_in_market AS (
  SELECT user_key, adgroup_id, in_market_id AS in_market_name, 'CRM' AS in_market_category
  FROM imp_status
),
user_delivery AS (
  SELECT b.user_key, SUM(uniques) AS unique_users, SUM(clk_uniques) AS clk_unique_users,
    SUM(imps) AS impressions, SUM(clks) AS clicks, SUM(click_cost) AS click_cost_sum, SUM(imp_cost) AS imp_cost_sum
  FROM (
    SELECT imp.user_key, COUNT(DISTINCT imp.user_key) AS uniques, COUNT(*) AS imps, SUM(cost) AS imp_cost
    FROM impressions imp
    WHERE imp.user_key IS NOT NULL
    GROUP BY 1
  ) b
  LEFT JOIN (SELECT * FROM click_status) USING (user_key)
  GROUP BY 1
)
SELECT adgroup_id, in_market_name AS audience_name, in_market_category AS audience_category, 'In-Market' AS type,
  SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(unique_users) AS unique_users,
  SUM(clk_unique_users) AS clk_unique_users, SUM(click_cost_sum) AS click_cost_sum_users,
  SUM(imp_cost_sum) AS imp_cost_sum_users
FROM user_delivery c3
LEFT JOIN user_in_market i ON i.user_key = c3.user_key
GROUP BY 1, 2, 3;

-- name: dbt_attribution_playbook_touches_model
-- source: github.com/astronomer/astronomer-cosmos examples/dbt/attribution-playbook/models/attribution_touches.sql (dbt Labs' attribution playbook)
-- idiom: select * CTEs, LEFT JOIN ... USING (customer_id), count(*) / row_number() OVER (PARTITION BY customer), interval '-30 day', CASE points, revenue * (CASE ...), select * from with_points
-- refuse: user_key_output
-- why: the model itself is a per-session table: select * returns every person's user_key and sessions; the playbook aggregates it afterwards (next entries)
with sessions as (
    select * from clicks
),
customer_conversions as (
    select user_key, min(ts) as converted_at, sum(revenue) as revenue
    from conversions
    where event_type = 'purchase'
    group by 1
),
sessions_before_conversion as (
    select
        *,
        count(*) over (partition by user_key) as total_sessions,
        row_number() over (partition by user_key order by sessions.ts) as session_index
    from sessions
    left join customer_conversions using (user_key)
    where sessions.ts <= customer_conversions.converted_at
        and sessions.ts >= (customer_conversions.converted_at + interval '-30 day')
),
with_points as (
    select
        *,
        case when session_index = 1 then 1.0 else 0.0 end as first_touch_points,
        case when session_index = total_sessions then 1.0 else 0.0 end as last_touch_points,
        case
            when total_sessions = 1 then 1.0
            when total_sessions = 2 then 0.5
            when session_index = 1 then 0.4
            when session_index = total_sessions then 0.4
            else 0.2 / (total_sessions - 2)
        end as forty_twenty_forty_points,
        1.0 / total_sessions as linear_points
    from sessions_before_conversion
)
select * from with_points;

-- name: dbt_attribution_playbook_points_by_source
-- source: github.com/astronomer/astronomer-cosmos examples/dbt/attribution-playbook/models/attribution_touches.sql, aggregated by utm_source as in the playbook's write-up (blog.getdbt.com/modeling-marketing-attribution)
-- idiom: select * CTEs, LEFT JOIN USING, window counts per customer, interval '-30 day', 40/20/40 CASE weights, revenue * (CASE ...) weights, SUM of the points by source
-- legit
-- people: column customers
-- why: sessions become clicks (utm_source = ad_product), customer_conversions a person's first purchase time and purchase revenue. forty_twenty_forty_revenue is summed with the parts of its definition (its inputs are passed on beside it); cells whose people differ from the row's by 1 to 49 (the difference check) or with a part under 50 people come back withheld
with sessions as (
    select * from clicks
),
customer_conversions as (
    select user_key, min(ts) as converted_at, sum(revenue) as revenue
    from conversions
    where event_type = 'purchase'
    group by 1
),
sessions_before_conversion as (
    select
        *,
        count(*) over (partition by user_key) as total_sessions,
        row_number() over (partition by user_key order by sessions.ts) as session_index
    from sessions
    left join customer_conversions using (user_key)
    where sessions.ts <= customer_conversions.converted_at
        and sessions.ts >= (customer_conversions.converted_at + interval '-30 day')
),
with_points as (
    select
        *,
        case when session_index = 1 then 1.0 else 0.0 end as first_touch_points,
        case when session_index = total_sessions then 1.0 else 0.0 end as last_touch_points,
        case
            when total_sessions = 1 then 1.0
            when total_sessions = 2 then 0.5
            when session_index = 1 then 0.4
            when session_index = total_sessions then 0.4
            else 0.2 / (total_sessions - 2)
        end as forty_twenty_forty_points,
        1.0 / total_sessions as linear_points,
        revenue * (case when session_index = 1 then 1.0 else 0.0 end) as first_touch_revenue,
        revenue * (case when session_index = total_sessions then 1.0 else 0.0 end) as last_touch_revenue,
        revenue * (case
            when total_sessions = 1 then 1.0
            when total_sessions = 2 then 0.5
            when session_index = 1 then 0.4
            when session_index = total_sessions then 0.4
            else 0.2 / (total_sessions - 2)
        end) as forty_twenty_forty_revenue,
        revenue * (1.0 / total_sessions) as linear_revenue
    from sessions_before_conversion
)
select
    ad_product as utm_source,
    count(distinct user_key) as customers,
    sum(first_touch_points) as first_touch_points,
    sum(last_touch_points) as last_touch_points,
    sum(forty_twenty_forty_points) as forty_twenty_forty_points,
    sum(linear_points) as linear_points,
    sum(first_touch_revenue) as first_touch_revenue,
    sum(last_touch_revenue) as last_touch_revenue,
    sum(forty_twenty_forty_revenue) as forty_twenty_forty_revenue,
    sum(linear_revenue) as linear_revenue
from with_points
group by 1
order by 1;

-- name: dbt_attribution_playbook_linear_revenue_by_campaign
-- source: github.com/astronomer/astronomer-cosmos examples/dbt/attribution-playbook/models/attribution_touches.sql, aggregated by utm_campaign and month as in the playbook's write-up (blog.getdbt.com/modeling-marketing-attribution)
-- idiom: the model's CTE with every model's points (0.4 / 0.2 weights left unused downstream), linear points 1.0 / total_sessions, revenue * (1.0 / total_sessions), date_trunc('month', converted_at)
-- legit
-- people: column customers
with sessions as (
    select * from clicks
),
customer_conversions as (
    select user_key, min(ts) as converted_at, sum(revenue) as revenue
    from conversions
    where event_type = 'purchase'
    group by 1
),
sessions_before_conversion as (
    select
        *,
        count(*) over (partition by user_key) as total_sessions,
        row_number() over (partition by user_key order by sessions.ts) as session_index
    from sessions
    left join customer_conversions using (user_key)
    where sessions.ts <= customer_conversions.converted_at
        and sessions.ts >= (customer_conversions.converted_at + interval '-30 day')
),
with_points as (
    select
        *,
        case when session_index = 1 then 1.0 else 0.0 end as first_touch_points,
        case when session_index = total_sessions then 1.0 else 0.0 end as last_touch_points,
        case
            when total_sessions = 1 then 1.0
            when total_sessions = 2 then 0.5
            when session_index = 1 then 0.4
            when session_index = total_sessions then 0.4
            else 0.2 / (total_sessions - 2)
        end as forty_twenty_forty_points,
        1.0 / total_sessions as linear_points,
        revenue * (case when session_index = 1 then 1.0 else 0.0 end) as first_touch_revenue,
        revenue * (case when session_index = total_sessions then 1.0 else 0.0 end) as last_touch_revenue,
        revenue * (case
            when total_sessions = 1 then 1.0
            when total_sessions = 2 then 0.5
            when session_index = 1 then 0.4
            when session_index = total_sessions then 0.4
            else 0.2 / (total_sessions - 2)
        end) as forty_twenty_forty_revenue,
        revenue * (1.0 / total_sessions) as linear_revenue
    from sessions_before_conversion
)
select
    date_trunc('month', converted_at) as conversion_month,
    campaign as utm_campaign,
    count(distinct user_key) as customers,
    sum(linear_points) as conversions,
    sum(linear_revenue) as revenue
from with_points
group by 1, 2
order by 1, 2;

-- name: fractribution_channel_counts
-- source: github.com/google/fractribution py/fractribution_data/templates/channel_counts.sql
-- idiom: COUNT(*) by four dimensions, ORDER BY a dimension then the count DESC
-- legit
SELECT ad_product AS channel, campaign, COUNT(*) AS number_of_events
FROM clicks
GROUP BY ad_product, campaign
ORDER BY channel, number_of_events DESC;

-- name: fractribution_path_summary
-- source: github.com/google/fractribution py/fractribution_data/templates/paths_to_conversion.sql, paths_to_non_conversion.sql and path_summary.sql
-- idiom: STRING_AGG(channel, ' > ') OVER (PARTITION BY visitor, conversion ORDER BY time), ROW_NUMBER pathRecency = 1, lookback in seconds, IFNULL(path, 'Unmatched Channel'), FULL JOIN ... USING(path) with IFNULL(Rp.path, Ncp.path)
-- legit
-- people: WITH c AS (SELECT Conv.user_key, ROW_NUMBER() OVER (PARTITION BY Conv.user_key, Conv.ts ORDER BY S.ts DESC) AS r, STRING_AGG(S.ad_product, ' > ') OVER (PARTITION BY Conv.user_key, Conv.ts ORDER BY S.ts) AS path FROM conversions Conv JOIN clicks S ON Conv.user_key = S.user_key AND Conv.ts >= S.ts AND date_diff('second', S.ts, Conv.ts) <= 30 * 24 * 60 * 60 WHERE Conv.event_type = 'purchase'), n AS (SELECT user_key, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts DESC) AS r, STRING_AGG(ad_product, ' > ') OVER (PARTITION BY user_key ORDER BY ts) AS path FROM clicks WHERE user_key NOT IN (SELECT user_key FROM conversions WHERE event_type = 'purchase')), cp AS (SELECT path, COUNT(DISTINCT user_key) AS k FROM c WHERE r = 1 GROUP BY 1), np AS (SELECT path, COUNT(DISTINCT user_key) AS k FROM n WHERE r = 1 GROUP BY 1) SELECT path, GREATEST(COALESCE(cp.k, 0), COALESCE(np.k, 0)) FROM cp FULL JOIN np USING (path)
-- why: the STRUCT / ARRAY_AGG / UNNEST round trip of the BigQuery templates is flattened; sessions are clicks, conversions purchases
WITH
  PathsToConversion AS (
    SELECT
      Conv.user_key,
      Conv.endpoint_datetime,
      ROW_NUMBER() OVER (PARTITION BY Conv.user_key, Conv.endpoint_datetime ORDER BY S.visitStartTime DESC) AS pathRecency,
      STRING_AGG(S.channel, ' > ') OVER (PARTITION BY Conv.user_key, Conv.endpoint_datetime ORDER BY S.visitStartTime) AS path
    FROM (SELECT user_key, ts AS endpoint_datetime FROM conversions WHERE event_type = 'purchase') AS Conv
    INNER JOIN (SELECT user_key, ad_product AS channel, ts AS visitStartTime FROM clicks) AS S
      ON Conv.user_key = S.user_key
      AND Conv.endpoint_datetime >= S.visitStartTime
      AND date_diff('second', S.visitStartTime, Conv.endpoint_datetime) <= (30 * 24 * 60 * 60)
  ),
  PathsToNonConversion AS (
    SELECT
      S.user_key,
      ROW_NUMBER() OVER (PARTITION BY S.user_key ORDER BY S.ts DESC) AS pathRecency,
      STRING_AGG(S.ad_product, ' > ') OVER (PARTITION BY S.user_key ORDER BY S.ts) AS path
    FROM clicks AS S
    WHERE S.user_key NOT IN (SELECT user_key FROM conversions WHERE event_type = 'purchase')
  ),
  ConversionPaths AS (
    SELECT IFNULL(path, 'Unmatched Channel') AS path, COUNT(*) AS total_conversions
    FROM PathsToConversion
    WHERE pathRecency = 1
    GROUP BY path
  ),
  NonConversionPaths AS (
    SELECT path, COUNT(*) AS total_non_conversions
    FROM PathsToNonConversion
    WHERE pathRecency = 1
    GROUP BY path
  )
SELECT
  IFNULL(Rp.path, Ncp.path) AS path,
  IFNULL(Rp.total_conversions, 0) AS total_conversions,
  IFNULL(Ncp.total_non_conversions, 0) AS total_non_conversions
FROM ConversionPaths AS Rp
FULL JOIN NonConversionPaths AS Ncp
  USING(path)
ORDER BY total_conversions DESC;

-- name: ga4_time_to_conversion_by_day
-- source: github.com/Shardenov99/User-Behavior-Analysis SQL-code/Time_to_conversion_query.sql
-- idiom: per-user-and-day MIN timestamps in two CTEs, TIMESTAMP_DIFF(..., MINUTE), join on user and date, COUNT(DISTINCT) / AVG / median by date, ROUND(..., 2)
-- legit
-- why: GA4 raw events become impressions (arrivals) and conversions (purchases); APPROX_QUANTILES(x, 2)[OFFSET(1)] becomes median(x). Most days stand on fewer than 50 converters: those rows must be withheld. A median of minutes is released only when at least k people hold it (else its cell is withheld)
-- people: WITH a AS (SELECT user_key, CAST(ts AS DATE) AS d FROM impressions GROUP BY 1, 2), p AS (SELECT user_key, CAST(ts AS DATE) AS d FROM conversions WHERE event_type = 'purchase' GROUP BY 1, 2) SELECT a.d, COUNT(DISTINCT a.user_key) FROM a JOIN p ON a.user_key = p.user_key AND a.d = p.d GROUP BY 1
-- ordered
WITH first_arrival AS (
  SELECT user_key, CAST(ts AS DATE) AS event_date, MIN(ts) AS first_event_ts
  FROM impressions
  GROUP BY user_key, event_date
),
first_purchase AS (
  SELECT user_key, CAST(ts AS DATE) AS event_date, MIN(ts) AS first_purchase_ts
  FROM conversions
  WHERE event_type = 'purchase'
  GROUP BY user_key, event_date
),
difference AS (
  SELECT fa.event_date, fa.user_key, fa.first_event_ts AS first_event_time, fp.first_purchase_ts AS first_purchase_time,
    date_diff('minute', fa.first_event_ts, fp.first_purchase_ts) AS difference_in_minutes
  FROM first_arrival AS fa
  JOIN first_purchase AS fp ON fa.user_key = fp.user_key AND fa.event_date = fp.event_date
)
SELECT event_date,
  COUNT(DISTINCT user_key) AS users_with_purchase,
  ROUND(AVG(difference_in_minutes), 2) AS avg_conversion_delay_minutes,
  ROUND(median(difference_in_minutes), 2) AS median_conversion_delay_minutes
FROM difference
GROUP BY event_date
ORDER BY event_date;

-- name: ga4_funnel_event_extract
-- source: github.com/BasnMyk/SQL-Final-Project-Ads-GA4-Analysis ga4_events_2021.sql
-- idiom: a row-level event extract: user_pseudo_id, timestamp, event name, traffic source, IN list of funnel events
-- refuse: user_key_output
-- why: it returns every event with the person's id: a row-level export, not an aggregate
SELECT ts AS event_timestamp, user_key AS user_pseudo_id, event_type AS event_name, product_category AS campaign
FROM conversions
WHERE event_type IN ('detail_page_view', 'add_to_cart', 'purchase');

-- name: ga4_conversions_by_channel
-- source: github.com/BasnMyk/SQL-Final-Project-Ads-GA4-Analysis ga4_conversions_by_channel.sql
-- idiom: SELECT DISTINCT session CTEs, LEFT JOIN ... USING (user_pseudo_id, session_id), COUNT(DISTINCT CONCAT(user, '-', session)), SAFE_DIVIDE of COUNT(DISTINCT IF(...))
-- legit
-- people: SELECT ad_product, campaign, COUNT(DISTINCT user_key) FROM clicks GROUP BY 1, 2
-- why: a session is a person's clicks of one day (session_id = the date); event_date is left out of the grouping so that groups stand on enough people; add_to_cart / detail_page_view / purchase stand for cart / checkout / purchase
WITH sessions AS (
  SELECT DISTINCT user_key, CAST(ts AS DATE) AS session_id, ad_product AS source, campaign
  FROM clicks
),
cart AS (
  SELECT DISTINCT user_key, CAST(ts AS DATE) AS session_id FROM conversions WHERE event_type = 'add_to_cart'
),
checkout AS (
  SELECT DISTINCT user_key, CAST(ts AS DATE) AS session_id FROM conversions WHERE event_type = 'detail_page_view'
),
purchase AS (
  SELECT DISTINCT user_key, CAST(ts AS DATE) AS session_id FROM conversions WHERE event_type = 'purchase'
)
SELECT
  s.source, s.campaign,
  COUNT(DISTINCT CONCAT(s.user_key, '-', s.session_id)) AS user_sessions_count,
  COUNT(DISTINCT IF(c.user_key IS NOT NULL, CONCAT(s.user_key, '-', s.session_id), NULL))
    / NULLIF(COUNT(DISTINCT CONCAT(s.user_key, '-', s.session_id)), 0) AS visit_to_cart,
  COUNT(DISTINCT IF(ch.user_key IS NOT NULL, CONCAT(s.user_key, '-', s.session_id), NULL))
    / NULLIF(COUNT(DISTINCT CONCAT(s.user_key, '-', s.session_id)), 0) AS visit_to_checkout,
  COUNT(DISTINCT IF(p.user_key IS NOT NULL, CONCAT(s.user_key, '-', s.session_id), NULL))
    / NULLIF(COUNT(DISTINCT CONCAT(s.user_key, '-', s.session_id)), 0) AS visit_to_purchase
FROM sessions s
LEFT JOIN cart c USING (user_key, session_id)
LEFT JOIN checkout ch USING (user_key, session_id)
LEFT JOIN purchase p USING (user_key, session_id)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: ga4_engagement_purchase_correlation
-- source: github.com/BasnMyk/SQL-Final-Project-Ads-GA4-Analysis ga4_engagement_correlation.sql
-- idiom: a session key CONCAT(user_pseudo_id, session), MAX(CAST(... AS INT)) and SUM(COALESCE(x, 0)) per session, SELECT DISTINCT ..., True AS flag, CORR(x, IF(flag, 1, 0)) over a LEFT JOIN
-- legit
-- currently: refused function_not_allowed member_aggregate metric_transform user_key_transform
-- why: sessions are a person's CTV viewing days; engaged means more than 10 seconds viewed
WITH Hm_1 AS (
  SELECT CONCAT(user_key, CAST(CAST(ts AS DATE) AS VARCHAR)) AS user_sessions_id,
    MAX(CAST(seconds_viewed > 10 AS INT)) AS session_engaged,
    SUM(COALESCE(seconds_viewed, 0)) AS engagement_time
  FROM ctv_exposures
  GROUP BY user_sessions_id
),
Hm_2 AS (
  SELECT DISTINCT CONCAT(user_key, CAST(CAST(ts AS DATE) AS VARCHAR)) AS user_sessions_id, True AS purchase_happened
  FROM conversions
  WHERE event_type IN ('purchase')
)
SELECT
  CORR(session_engaged, IF(purchase_happened, 1, 0)) AS corr_engaged_purchase,
  CORR(engagement_time, IF(purchase_happened, 1, 0)) AS corr_time_purchase
FROM Hm_1 AS H_1
LEFT JOIN Hm_2 AS H_2 ON H_1.user_sessions_id = H_2.user_sessions_id;

-- name: aws_clean_rooms_dp_matches_union
-- source: https://docs.aws.amazon.com/clean-rooms/latest/userguide/dp-query-tips-examples.html (first example)
-- idiom: a CTE of two join branches UNION ALL that keep user_id, timestamp comparison across tables, COUNT(DISTINCT user_id) GROUP BY a column not in the SELECT, ORDER BY COUNT(DISTINCT) DESC LIMIT 5
-- legit
-- why: the two branches match sales by e-mail and by phone; here by the in-store and the online sales
WITH matches_table AS (
  SELECT si.user_key, si.campaign, s.sales AS sale_price
  FROM impressions si
  JOIN segments su ON su.user_key = si.user_key
  JOIN retail_sales s ON s.user_key = su.user_key
  WHERE s.ts > si.ts
  UNION ALL
  SELECT si.user_key, si.campaign, s.revenue AS sale_price
  FROM impressions si
  JOIN segments su ON su.user_key = si.user_key
  JOIN conversions s ON s.user_key = su.user_key
  WHERE s.ts > si.ts
)
SELECT COUNT(DISTINCT user_key) AS unique_users
FROM matches_table
GROUP BY campaign
ORDER BY COUNT(DISTINCT user_key) DESC
LIMIT 5;

-- name: snowflake_dcr_campaign_conversion_where_clause
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/provider_templates.sql (campaign_conversion, rendered as in its test comment: one dimension and where_clause pets <> 'BIRD')
-- idiom: comma joins plus JOIN ... ON, a where_clause on the consumer's column, HAVING count > 25, ORDER BY inside a CTE
-- legit
-- people: column bought_after_exposure
WITH actual_result AS (
  SELECT c_conv.product_category, count(DISTINCT p.user_key) AS conversion_count
  FROM segments p, ctv_exposures p_exp, retail_sales c
  JOIN conversions c_conv ON c.user_key = c_conv.user_key
  WHERE (c.user_key = p.user_key)
    AND p.user_key = p_exp.user_key
    AND (c.category <> 'grocery')
  GROUP BY c_conv.product_category
  HAVING count(DISTINCT p.user_key) > 25
  ORDER BY count(DISTINCT p.user_key) DESC
)
SELECT product_category, conversion_count AS bought_after_exposure
FROM actual_result;

-- name: amc_tentpole_exploratory_asin
-- source: AMC Instructional Query Library, "Tentpole Phase Overlap", 4.1.1 Exploratory query for ASIN conversions (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: UNION ALL with -1 AS campaign_id, SUM(total_cost / 100000), LEFT JOIN to attributed events on campaign, ARRAY_SORT(COLLECT(DISTINCT)) of a dimension
-- legit
-- people: SELECT campaign, CASE WHEN ad_product = 'dsp' THEN 1 ELSE -1 END, COUNT(DISTINCT user_key) FROM impressions GROUP BY 1, 2
-- why: campaign start and end dates (campaign attributes we do not have) are left out; attributed events become purchases within 14 days of a click, by campaign
WITH impressions AS (
  SELECT campaign, 1 AS campaign_id, SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend
  FROM impressions
  WHERE ad_product = 'dsp'
  GROUP BY 1, 2
  UNION ALL
  SELECT campaign, -1 AS campaign_id, SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend
  FROM impressions
  WHERE ad_product <> 'dsp'
  GROUP BY 1, 2
),
attributed AS (
  SELECT k.campaign, k.ad_product AS ad_product_type, c.product_category AS tracked_asin,
    SUM(c.revenue) AS product_sales, SUM(c.revenue) AS total_product_sales
  FROM clicks k
  JOIN conversions c ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase'
  GROUP BY 1, 2, 3
),
initial_aggregation AS (
  SELECT I.campaign, I.campaign_id, C.ad_product_type, C.tracked_asin AS tracked_asins,
    SUM(I.impressions) AS impressions, SUM(C.product_sales) AS promoted_sales,
    SUM(C.total_product_sales) AS total_sales, SUM(I.ad_spend) AS ad_spend
  FROM impressions I
  LEFT JOIN attributed C ON I.campaign = C.campaign
  GROUP BY 1, 2, 3, 4
)
SELECT IA.campaign, IA.campaign_id, IA.ad_product_type,
  list_sort(list(DISTINCT IA.tracked_asins)) AS tracked_asins,
  SUM(IA.impressions) AS impressions, SUM(IA.promoted_sales) AS promoted_sales,
  SUM(IA.total_sales) AS total_sales, SUM(IA.ad_spend) AS ad_spend
FROM initial_aggregation IA
GROUP BY 1, 2, 3;

-- name: amc_custom_attribution_linear
-- rounded
-- source: AMC Instructional Query Library, "Custom Attribution - Linear Touch", query template (advertising.amazon.com/marketing-cloud/instructional-queries/95212a0253ea4d060cd94db10de7d3dfd542232fa786e1d74852ae3d8bd58139)
-- idiom: VALUES campaign and traffic-type lists, SECONDS_BETWEEN match age, ROW_NUMBER per conversion and campaign, COUNT(conversions) OVER (PARTITION BY conversion), SUM(metric / total_match_count), round()
-- legit
-- people: column users_that_converted
-- why: DSP and sponsored products sections kept (the SD / SB / ST sections repeat them); conversion_id becomes (user_key, ts); a row also stands on its campaign's attributed converters (the attribution CTE drops a campaign with fewer than k, and the inner join then has no row for it), so those are its people, not the campaign's reach
WITH dsp_campaigns (campaign) AS (
  VALUES ('dsp_awareness'), ('dsp_consideration'), ('dsp_conversion')
),
dsp_traffic_type (traffic_event_type) AS (
  VALUES ('IMP'), ('CLICK')
),
sp_campaigns (campaign) AS (
  VALUES ('sp_brand_terms'), ('sp_category')
),
sp_traffic_type (traffic_event_type) AS (
  VALUES ('CLICK')
),
traffic AS (
  SELECT user_key, 'dsp' AS ad_product_type, campaign, ts AS traffic_dt_utc, 'IMP' AS traffic_event_type, impressions, 0 AS clicks
  FROM impressions
  WHERE campaign IN (SELECT campaign FROM dsp_campaigns) AND user_key IS NOT NULL
  UNION ALL
  SELECT user_key, 'dsp' AS ad_product_type, campaign, ts AS traffic_dt_utc, 'CLICK' AS traffic_event_type, 0 AS impressions, clicks
  FROM clicks
  WHERE campaign IN (SELECT campaign FROM dsp_campaigns) AND user_key IS NOT NULL
  UNION ALL
  SELECT user_key, ad_product AS ad_product_type, campaign, ts AS traffic_dt_utc,
    (CASE WHEN clicks < 1 THEN 'IMP' ELSE 'CLICK' END) AS traffic_event_type, 0 AS impressions, clicks
  FROM clicks
  WHERE campaign IN (SELECT campaign FROM sp_campaigns) AND user_key IS NOT NULL
),
cwr AS (
  SELECT user_key, ts AS event_dt_utc, conversions, units AS total_units_sold, revenue AS total_product_sales
  FROM conversions
  WHERE event_type = 'purchase' AND user_key IS NOT NULL
),
matched AS (
  SELECT c.event_dt_utc, t.campaign,
    IF(t.traffic_event_type = 'CLICK', 1, 2) AS match_type,
    date_diff('second', t.traffic_dt_utc, c.event_dt_utc) AS match_age,
    c.conversions, c.total_units_sold, c.total_product_sales, c.user_key
  FROM cwr c
  JOIN traffic t ON (c.user_key = t.user_key)
  WHERE t.campaign IN (SELECT campaign FROM dsp_campaigns)
    AND t.traffic_event_type IN (SELECT traffic_event_type FROM dsp_traffic_type)
  UNION ALL
  SELECT c.event_dt_utc, t.campaign,
    IF(t.traffic_event_type = 'CLICK', 1, 2) AS match_type,
    date_diff('second', t.traffic_dt_utc, c.event_dt_utc) AS match_age,
    c.conversions, c.total_units_sold, c.total_product_sales, c.user_key
  FROM traffic t
  JOIN cwr c ON (c.user_key = t.user_key)
  WHERE t.campaign IN (SELECT campaign FROM sp_campaigns)
    AND t.traffic_event_type IN (SELECT traffic_event_type FROM sp_traffic_type)
),
filtered AS (
  SELECT event_dt_utc, campaign, match_age, match_type,
    ROW_NUMBER() OVER (PARTITION BY user_key, event_dt_utc, campaign ORDER BY match_type ASC, match_age ASC) AS match_rank,
    user_key, conversions, total_units_sold, total_product_sales
  FROM matched
  WHERE match_age BETWEEN 0 AND 28 * 24 * 60 * 60
),
deduplicated AS (
  SELECT event_dt_utc, campaign, conversions, total_units_sold, total_product_sales, user_key
  FROM filtered
  WHERE match_rank = 1
),
pruned AS (
  SELECT campaign, conversions, total_units_sold, total_product_sales,
    COUNT(conversions) OVER (PARTITION BY user_key, event_dt_utc) AS total_match_count,
    user_key
  FROM deduplicated
),
attributed_conversions AS (
  SELECT campaign,
    COUNT(DISTINCT user_key) AS users_that_converted,
    SUM(conversions / total_match_count) AS conversions,
    SUM(total_units_sold / total_match_count) AS total_units_sold,
    SUM(total_product_sales / total_match_count) AS total_product_sales
  FROM pruned
  GROUP BY 1
),
traffic_campaigns AS (
  SELECT campaign, ad_product_type, COUNT(DISTINCT user_key) user_reach,
    SUM(impressions) AS impressions, SUM(clicks) AS clicks
  FROM traffic
  GROUP BY 1, 2
)
SELECT 'Linear' AS attribution_model, c.campaign, t.impressions, t.clicks,
  round(t.user_reach) AS user_reach,
  round(users_that_converted) AS users_that_converted,
  round(c.conversions) AS conversions,
  c.conversions / t.user_reach AS conversion_rate,
  round(c.total_units_sold) AS total_units_sold,
  round(c.total_product_sales, 2) AS total_product_sales
FROM attributed_conversions c
JOIN traffic_campaigns t ON c.campaign = t.campaign;

-- name: amc_time_of_day_dsp_only
-- source: AMC Instructional Query Library, "Time of day performance", 4.3 Query template: Amazon DSP only (advertising.amazon.com/marketing-cloud/instructional-queries)
-- idiom: LEFT JOIN on user_key plus hour, date and the traffic timestamp, CASE WHEN ad_product_type IS NULL THEN 'DSP', EXTRACT(DOW), ratios of aggregates
-- legit
-- people: column unique_reach
-- why: attributed events become purchases within 14 days of a DSP click (the click's own time is the traffic timestamp)
WITH impressions AS (
  SELECT user_key, SUM(impressions) AS impressions, SUM(cost / 100) AS ad_spend,
    hour(ts) AS impression_hour, CAST(ts AS DATE) AS impression_date, date_trunc('hour', ts) AS impression_dt_utc, campaign
  FROM impressions
  WHERE ad_product = 'dsp'
  GROUP BY user_key, impression_hour, impression_date, impression_dt_utc, campaign
),
conversions AS (
  SELECT c.user_key, SUM(c.revenue) AS product_sales, SUM(c.conversions) AS purchases, SUM(c.units) AS units_sold,
    i.campaign, NULL AS ad_product_type, SUM(c.revenue) AS total_product_sales,
    hour(i.ts) AS impression_hour, CAST(i.ts AS DATE) AS impression_date, date_trunc('hour', i.ts) AS traffic_event_dt_utc
  FROM conversions c
  JOIN clicks i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase' AND c.user_key IS NOT NULL AND i.ad_product = 'dsp'
  GROUP BY c.user_key, impression_hour, impression_date, traffic_event_dt_utc, i.campaign, ad_product_type
),
assembled_with_imp_conv AS (
  SELECT b.campaign,
    (CASE
      WHEN b.impression_hour <= 8 THEN 'Early Morning'
      WHEN b.impression_hour <= 12 THEN 'Morning'
      WHEN b.impression_hour <= 16 THEN 'Afternoon'
      WHEN b.impression_hour <= 20 THEN 'Late Afternoon'
      WHEN b.impression_hour <= 23 THEN 'Evening'
      ELSE 'Unknown'
    END) AS day_part,
    EXTRACT(DOW FROM b.impression_date) AS day_of_week,
    b.impression_hour, b.impression_date, c.ad_product_type,
    SUM(b.impressions) AS impressions, SUM(b.ad_spend) AS ad_spend,
    COUNT(DISTINCT b.user_key) AS unique_reach, COUNT(DISTINCT c.user_key) AS users_that_purchased,
    SUM(c.product_sales) AS sales_amount, SUM(c.purchases) AS purchases, SUM(c.units_sold) AS units_sold,
    SUM(c.total_product_sales) AS sales_amount_brand
  FROM impressions b
  LEFT JOIN conversions c ON b.user_key = c.user_key
    AND b.impression_hour = c.impression_hour
    AND b.impression_date = c.impression_date
    AND b.impression_dt_utc = c.traffic_event_dt_utc
    AND b.campaign = c.campaign
  GROUP BY b.impression_hour, b.impression_date, b.campaign, day_part, day_of_week, c.ad_product_type
)
SELECT campaign,
  CASE WHEN ad_product_type IS NULL THEN 'DSP' ELSE ad_product_type END AS ad_product_type,
  impression_hour, impression_date, day_part, day_of_week, unique_reach, impressions, ad_spend,
  (ad_spend / sales_amount) * 100 AS ACOS,
  (sales_amount / ad_spend) AS ROAS,
  users_that_purchased, sales_amount, sales_amount_brand, purchases, units_sold,
  (purchases / unique_reach) AS purchase_rate
FROM assembled_with_imp_conv;

-- name: snowflake_audience_overlap_count
-- source: https://quickstarts.snowflake.com/guide/secure_audience_overlaps (github.com/Snowflake-Labs/sfguides), "Querying the shared data"
-- idiom: the one statement a row access policy allows: count(distinct c.email) over an INNER JOIN on the key
-- legit
select count(distinct c.user_key) from segments r
 inner join retail_sales c on c.user_key = r.user_key;

-- name: snowflake_audience_overlap_join_rows
-- source: https://quickstarts.snowflake.com/guide/secure_audience_overlaps (github.com/Snowflake-Labs/sfguides), "Querying the shared data" (the statements the policy blocks)
-- idiom: select * over an INNER JOIN of two parties' customer lists
-- refuse: user_key_output
-- why: the quickstart shows it as what the clean room must not answer: it returns the matched people's keys row by row
select * from segments r
 inner join retail_sales c on c.user_key = r.user_key;

-- name: snowflake_multiparty_overlap_rendered
-- source: https://quickstarts.snowflake.com/guide/build_a_multiparty_clean_room_in_snowflake (github.com/Snowflake-Labs/sfguides), Demo 3, the rendered customer_overlap_multiparty query
-- idiom: identifier('p.age_band') rendered, three-way comma join with two key equalities, HAVING count(distinct) > 25, ORDER BY count DESC
-- legit
-- people: column overlap
select
    p.age_band
    , count(distinct p.user_key) as overlap
from
    segments p,
    ctv_exposures p2,
    conversions c
where
    c.user_key = p.user_key
    and c.user_key = p2.user_key
group by
    p.age_band
having count(distinct p.user_key)  > 25
order by count(distinct p.user_key) desc;

-- name: ga4_conversion_time_by_channel
-- source: github.com/julio-data/ga4-conversion-timing.sql conversion_time_by_channel.sql
-- idiom: min(IF(event = x, ts, null)) per user and channel, TIMESTAMP_DIFF(..., MINUTE), IS NOT NULL filters, round(avg(...), 2) by channel, ORDER BY the average
-- legit
-- why: GA4 events become a person's clicks (session starts, by ad product as the traffic source) joined with their conversions
-- people: WITH u AS (SELECT k.user_key, k.ad_product, min(k.ts) AS s, min(IF(c.event_type = 'purchase', c.ts, NULL)) AS p FROM clicks k LEFT JOIN conversions c ON c.user_key = k.user_key GROUP BY 1, 2) SELECT ad_product, COUNT(DISTINCT user_key) FROM u WHERE s IS NOT NULL AND p IS NOT NULL GROUP BY 1
with user_first_touch as (
select
k.user_key,
k.ad_product as channel,
min(k.ts) as first_session,
min(IF(c.event_type = 'purchase', c.ts, null)) as first_purchase
from clicks k
left join conversions c on c.user_key = k.user_key
group by k.user_key, k.ad_product
)
,conversion_time as (
select
channel,
date_diff('minute', first_session, first_purchase) AS time_to_convert_minutes
from user_first_touch
WHERE first_session IS NOT NULL AND first_purchase IS NOT NULL
)
select
channel,
round(avg(time_to_convert_minutes), 2) as avg_time_to_convert_minute
from conversion_time
group by channel
order by avg_time_to_convert_minute desc;

-- name: snowplow_fractribution_path_summary
-- source: github.com/snowplow/dbt-snowplow-fractribution models/snowplow_fractribution_paths_to_conversion.sql and models/snowplow_fractribution_path_summary.sql
-- idiom: string_agg(channel, ' > ' ORDER BY visit start) grouped per conversion, datediff('day') lookback in the join, count(*) and sum(revenue) by path, FULL JOIN ... ON with coalesce(c.path, n.path) and coalesce(count, 0)
-- legit
-- why: the path transforms macro (unique / exposure / first ...) is the identity here; sessions are clicks, conversions purchases, the lookback 30 days
-- people: WITH c AS (SELECT c.user_key, c.ts, string_agg(s.ad_product, ' > ' ORDER BY s.ts) AS path FROM conversions c JOIN clicks s ON c.user_key = s.user_key AND date_diff('day', s.ts, c.ts) >= 0 AND date_diff('day', s.ts, c.ts) <= 30 WHERE c.event_type = 'purchase' GROUP BY 1, 2), n AS (SELECT s.user_key, string_agg(s.ad_product, ' > ' ORDER BY s.ts) AS path FROM clicks s WHERE s.user_key NOT IN (SELECT user_key FROM conversions WHERE event_type = 'purchase') GROUP BY 1), cp AS (SELECT path, COUNT(DISTINCT user_key) AS k FROM c GROUP BY 1), np AS (SELECT path, COUNT(DISTINCT user_key) AS k FROM n GROUP BY 1) SELECT path, GREATEST(COALESCE(cp.k, 0), COALESCE(np.k, 0)) FROM cp FULL JOIN np USING (path)
with paths_to_conversion_rows as (
  select
    c.user_key,
    c.ts as conversion_tstamp,
    c.revenue,
    string_agg(s.ad_product, ' > ' order by s.ts) as transformed_path
  from conversions c
  inner join clicks s
  on c.user_key = s.user_key
    and date_diff('day', s.ts, c.ts) >= 0
    and date_diff('day', s.ts, c.ts) <= 30
  where c.event_type = 'purchase'
  group by 1, 2, 3
)
, paths_to_non_conversion_rows as (
  select
    s.user_key,
    string_agg(s.ad_product, ' > ' order by s.ts) as transformed_path
  from clicks s
  where s.user_key not in (select user_key from conversions where event_type = 'purchase')
  group by 1
)
, paths_to_conversion as (
  select
    transformed_path,
    count(*) as conversions,
    sum(revenue) as revenue
  from paths_to_conversion_rows
  group by 1
)
, paths_to_non_conversion as (
  select
    transformed_path,
    count(*) as non_conversions
  from paths_to_non_conversion_rows
  group by 1
)
select
  coalesce(c.transformed_path, n.transformed_path) as transformed_path,
  coalesce(c.conversions, 0) as conversions,
  coalesce(n.non_conversions, 0) as non_conversions,
  c.revenue
from paths_to_conversion c
full join paths_to_non_conversion n
  on c.transformed_path = n.transformed_path;

-- name: snowplow_fractribution_channel_counts
-- source: github.com/snowplow/dbt-snowplow-fractribution models/snowplow_fractribution_channel_counts.sql
-- idiom: group by 1,2,3 with count(*) of sessions, order by channel then count desc
-- legit
-- people: SELECT device_type, campaign, genre, COUNT(DISTINCT user_key) FROM ctv_exposures GROUP BY 1, 2, 3
-- why: sessions are the streamer's CTV exposures: channel = device type, source = genre
select
  device_type as channel,
  campaign,
  genre as source,
  count(*) as number_of_sessions
from ctv_exposures
group by 1, 2, 3
order by channel, number_of_sessions desc;

-- name: adh_branding_conversion_uplift_media_plan
-- source: github.com/google/ads-bi-suite sql/adh_branding_conversion_uplift_MH.sql
-- idiom: a per-device flag CTE from reserved media plans (media_plan_id IN (...)), CASE flag THEN 'wt_yt' ELSE 'ac_only', (IFNULL(SUM(a),0)+IFNULL(SUM(b),0)), ORDER BY 1, 4 DESC
-- legit
-- people: column unique_reach
-- why: the YouTube reserve media plan becomes the streamer's ctv_sports campaign; device ids are the user_key
WITH mh_disc_users AS (
  SELECT user_key, 1 AS user_type
  FROM ctv_exposures
  WHERE campaign IN (
    'ctv_sports'
  )
  AND user_key IS NOT NULL
  GROUP BY 1
),
ac_impressions AS (
  SELECT user_key, ad_product, COUNT(*) AS imps, SUM(cost) AS imp_cost
  FROM impressions
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
),
ac_clicks AS (
  SELECT user_key, ad_product, COUNT(ts) AS clks, SUM(cost) AS cost
  FROM clicks
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2
)
SELECT
  ai.ad_product,
  CASE WHEN yt.user_type = 1 THEN 'wt_yt' ELSE 'ac_only' END AS user_type,
  SUM(ai.imps) AS impression,
  COUNT(DISTINCT ai.user_key) AS unique_reach,
  SUM(ac.clks) AS clicks,
  SUM(ac.cost) AS cost,
  SUM(imp_cost) AS evc_cost,
  (IFNULL(SUM(ac.cost), 0) + IFNULL(SUM(imp_cost), 0)) AS total_cost
FROM ac_impressions ai
LEFT JOIN mh_disc_users yt ON ai.user_key = yt.user_key
LEFT JOIN ac_clicks ac ON ai.user_key = ac.user_key AND ai.ad_product = ac.ad_product
GROUP BY 1, 2
ORDER BY 1, 4 DESC;

-- name: aws_lab_members_by_attributes
-- source: github.com/richardfan1126/aws-clean-rooms-lab 01-create-simple-collaboration/README.md
-- idiom: quoted "table"."column" identifiers, COUNT(DISTINCT key) AS member_count by several dimensions, ORDER BY the count DESC
-- legit
-- people: column member_count
SELECT
	COUNT(DISTINCT "segments"."user_key") as member_count,
	"segments"."region",
	"segments"."loyalty_tier",
	"segments"."age_band"
FROM "segments"
GROUP BY
	"segments"."region",
	"segments"."loyalty_tier",
	"segments"."age_band"
ORDER BY member_count DESC;

-- name: aws_lab_members_row_level
-- source: github.com/richardfan1126/aws-clean-rooms-lab 01-create-simple-collaboration/README.md (the query the analysis rule refuses)
-- idiom: a plain projection of a dimension and a metric
-- refuse: metric_output
-- why: it lists every person's value; the lab shows it refused by the aggregation analysis rule
SELECT store_region, sales
FROM retail_sales;

-- name: aws_lab_aggregate_by_month
-- source: github.com/richardfan1126/aws-clean-rooms-lab 02-joining-tables/docs/aggregate.md (first query)
-- idiom: COUNT(DISTINCT "t"."key") with the grouping columns after the aggregate, a metric filter in WHERE, ORDER BY the groups
-- legit
-- people: SELECT year(ts), month(ts), COUNT(DISTINCT user_key) FROM retail_sales WHERE items > 0 GROUP BY 1, 2
-- ordered
SELECT year("retail_sales"."ts") AS "year", month("retail_sales"."ts") AS "month",
   COUNT(DISTINCT "retail_sales"."user_key")
FROM "retail_sales"
WHERE "retail_sales"."items" > 0
GROUP BY year("retail_sales"."ts"), month("retail_sales"."ts")
ORDER BY 1, 2;

-- name: aws_lab_aggregate_by_month_joined
-- source: github.com/richardfan1126/aws-clean-rooms-lab 02-joining-tables/docs/aggregate.md (second query)
-- idiom: INNER JOIN of the two parties' tables on the key, quoted identifiers, COUNT(DISTINCT) by year and month
-- legit
-- people: SELECT year(r.ts), month(r.ts), COUNT(DISTINCT r.user_key) FROM retail_sales r JOIN segments s ON r.user_key = s.user_key WHERE r.items > 0 GROUP BY 1, 2
-- ordered
SELECT year("retail_sales"."ts") AS "year", month("retail_sales"."ts") AS "month",
   COUNT(DISTINCT "retail_sales"."user_key")
FROM "retail_sales"
   INNER JOIN "segments" ON "retail_sales"."user_key" = "segments"."user_key"
WHERE "retail_sales"."items" > 0
GROUP BY year("retail_sales"."ts"), month("retail_sales"."ts")
ORDER BY 1, 2;

-- name: aws_lab_average_by_city
-- source: github.com/richardfan1126/aws-clean-rooms-lab 02-joining-tables/docs/aggregate.md (third query)
-- idiom: AVG of the other party's metric by a dimension of ours, filters on date parts, ORDER BY the average DESC
-- legit
-- why: points_redeemed becomes in-store sales, the city the CRM region, year 2017 / month 1 the September sales
-- people: SELECT s.region, COUNT(DISTINCT r.user_key) FROM retail_sales r JOIN segments s ON r.user_key = s.user_key WHERE year(r.ts) = 2026 AND month(r.ts) = 9 GROUP BY 1
SELECT "segments"."region",
   AVG("retail_sales"."sales") AS avg_sales
FROM "retail_sales"
INNER JOIN "segments" ON "retail_sales"."user_key" = "segments"."user_key"
WHERE year("retail_sales"."ts") = 2026
   AND month("retail_sales"."ts") = 9
GROUP BY "segments"."region"
ORDER BY avg_sales DESC;

-- name: aws_lab_list_distinct_attributes
-- source: github.com/richardfan1126/aws-clean-rooms-lab 02-joining-tables/docs/list.md (first query)
-- idiom: SELECT DISTINCT of a partner's attribute columns (a list analysis)
-- legit
-- why: in an aggregation-threshold clean room a DISTINCT list is a GROUP BY: each combination must stand on enough people
-- people: SELECT region, loyalty_tier, age_band, COUNT(DISTINCT user_key) FROM segments GROUP BY 1, 2, 3
SELECT DISTINCT "segments"."region",
      "segments"."loyalty_tier",
      "segments"."age_band"
FROM "segments";

-- name: aws_lab_list_with_metric
-- source: github.com/richardfan1126/aws-clean-rooms-lab 02-joining-tables/docs/list.md (second query)
-- idiom: SELECT DISTINCT attributes and a metric over an INNER JOIN, filtered on the metric (points_redeemed > 850)
-- refuse: metric_group_key
-- why: the metric's own values reach the output row by row (DISTINCT makes the metric a group key); the lab's third query (= 850) then pins one member
SELECT DISTINCT
   "segments"."loyalty_tier",
   "segments"."region",
   "retail_sales"."store_region",
   "retail_sales"."sales"
FROM "retail_sales"
INNER JOIN "segments"
   ON "retail_sales"."user_key" = "segments"."user_key"
WHERE
   "retail_sales"."sales" > 450;

-- name: aws_lab_dp_member_count
-- source: github.com/richardfan1126/aws-clean-rooms-lab 03-differential-privacy/README.md (first query of the differencing pair)
-- idiom: COUNT(DISTINCT key) over a whole table, no GROUP BY
-- legit
SELECT COUNT(DISTINCT "user_key")
FROM "segments";

-- name: aws_lab_dp_member_count_excluding_small_town
-- source: github.com/richardfan1126/aws-clean-rooms-lab 03-differential-privacy/README.md (second query of the differencing pair)
-- idiom: COUNT(DISTINCT key) WHERE dimension <> a small group
-- legit
-- why: each query alone stands on thousands; together with the one above it gives the small group's size: the lab's case for differential privacy (required mode), which threshold mode leaves open across queries
SELECT COUNT(DISTINCT "user_key")
FROM "segments"
WHERE "segment" <> 'luxury_shoppers';

-- name: aws_lab_dp_average
-- source: github.com/richardfan1126/aws-clean-rooms-lab 03-differential-privacy/README.md
-- idiom: AVG of a metric over the whole table
-- legit
SELECT AVG("retail_sales"."sales")
FROM "retail_sales";

-- ---------------------------------------------------------------------------------------------
-- Second corpus (wt-corpus2): sources not used above. AMC instructional queries from the IQ
-- library (advertising.amazon.com/marketing-cloud/instructional-queries/<id>), third-party AMC
-- build guides (github.com/neverMEH/amazon-helper scripts/seed_*_guide.py), Ads Data Hub's sample
-- queries (developers.google.com/ads-data-hub/samples/writing-queries) and an agency's ADH
-- starter queries (adswerve.com), Snowflake's custom clean-room template reference, GA4
-- attribution SQL from public repositories. Mapping as above; AMC's line_item_price_type ->
-- device, campaign_id_string -> ad_product (one per campaign), a sponsored-ads "clicks" column on
-- the traffic table -> viewable (our clicks live in their own table), {{parameters}} filled in.

-- name: amc_sd_views_viewability
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/a55dd3eaf3d877edb7e3f5ea80fd0fc238f4b816f074b5820cdecd4da21bb04d (section 4.1)
-- idiom: DISTINCT campaign list CTE, campaign IN (SELECT ...), ratio of two SUMs
-- legit
WITH campaigns_with_views_measured AS (
  SELECT
    DISTINCT campaign
  FROM
    impressions
  WHERE
    ad_product = 'sponsored_display'
    AND device = 'desktop'
) -- only vCPM campaigns measure views
SELECT
  campaign,
  ad_product AS campaign_id_string,
  SUM(impressions) AS impressions,
  SUM(viewable) AS viewable_impressions,
  SUM(viewable) / SUM(impressions) AS viewability_rate
FROM
  impressions
WHERE
  campaign IN (
    SELECT
      campaign
    FROM
      campaigns_with_views_measured
  )
GROUP BY
  1, 2;

-- name: amc_sd_cost_by_price_type
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/a55dd3eaf3d877edb7e3f5ea80fd0fc238f4b816f074b5820cdecd4da21bb04d (section 5.1)
-- idiom: SUM(spend / 100000000) (a metric scaled before summing), lower-case sum(), GROUP BY 1,2, 3
-- legit
-- people: SELECT campaign, ad_product, device, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product = 'sponsored_display' GROUP BY 1, 2, 3
SELECT
    campaign,
    ad_product AS campaign_id_string,
    device AS line_item_price_type,
    sum(impressions) as imp,
    sum(viewable) as view_imp,
    SUM(cost / 100) AS spend
FROM impressions
WHERE
    ad_product = 'sponsored_display'
GROUP BY
    1,2, 3;

-- name: amc_sa_traffic_union_attributed
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/f292ef87c4d2628bf56814973ad7657dfd29116b78a0370d3f5ce71c962c8668 (section 4.1)
-- idiom: VALUES list of ad products, IN (select ... from values CTE), zero-filled metric columns in UNION ALL branches summed at the end
-- legit
-- people: SELECT campaign, ad_product, ad_product, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product <> 'dsp' GROUP BY 1, 2, 3
WITH ad_products (ad_product_type) AS (
  VALUES
  /*OPTIONAL UPDATE: Remove ad product(s) to focus on just one or two Sponsored Ads ad products.*/
    ('sponsored_products'),
    ('sponsored_brands'),
    ('sponsored_display'),
    ('sponsored_tv')
),

traffic AS (
  SELECT
    campaign,
    ad_product AS campaign_id_string,
    ad_product AS ad_product_type,
    SUM(impressions) AS impressions,
    SUM(viewable) AS clicks,
    0 AS purchases,
    0 AS new_to_brand_purchases
  FROM
    impressions
  WHERE
    ad_product in (select ad_product_type from ad_products)
  GROUP BY
    1,
    2,
    3
),
attributed_events AS (
  SELECT
    i.campaign,
    i.ad_product AS campaign_id_string,
    i.ad_product AS ad_product_type,
    0 AS impressions,
    0 AS clicks,
    SUM(c.conversions) AS purchases,
    SUM(CASE WHEN c.new_to_brand THEN c.conversions ELSE 0 END) AS new_to_brand_purchases
  FROM
    conversions c
    JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE
    i.ad_product in (select ad_product_type from ad_products)
    AND c.event_type = 'purchase'
  GROUP BY
    1,
    2,
    3
),
combined AS (
  SELECT
    campaign,
    campaign_id_string,
    ad_product_type,
    impressions,
    clicks,
    purchases,
    new_to_brand_purchases
  FROM
    traffic
  UNION ALL
  SELECT
    campaign,
    campaign_id_string,
    ad_product_type,
    impressions,
    clicks,
    purchases,
    new_to_brand_purchases
  FROM
    attributed_events
)
SELECT
  campaign,
  campaign_id_string,
  ad_product_type,
  SUM(impressions) AS impressions,
  SUM(clicks) AS clicks,
  SUM(purchases) AS purchases,
  SUM(new_to_brand_purchases) AS new_to_brand_purchases
FROM
  combined
GROUP BY
  1,
  2,
  3;

-- name: amc_sa_traffic_full_outer_join_attributed
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/f292ef87c4d2628bf56814973ad7657dfd29116b78a0370d3f5ce71c962c8668 (section 4.2; joined on campaign, our tables have no event_id)
-- idiom: two aggregated CTEs FULL OUTER JOINed, COALESCE(t.x, a.x) keys, COALESCE(SUM(m), 0)
-- legit
-- people: SELECT campaign, ad_product, ad_product, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product <> 'dsp' GROUP BY 1, 2, 3
WITH ad_products (ad_product_type) AS (
  VALUES
  /*OPTIONAL UPDATE: Remove one ad product type to only focus on one.*/
    ('sponsored_products'),
    ('sponsored_brands'),
    ('sponsored_display'),
    ('sponsored_tv')
),

traffic AS (
  SELECT
    campaign,
    ad_product AS campaign_id_string,
    ad_product AS ad_product_type,
    SUM(impressions) AS impressions,
    SUM(viewable) AS clicks
  FROM
    impressions
  WHERE
      ad_product in (select ad_product_type from ad_products)
  GROUP BY
    1,
    2,
    3
)
,
attributed_events AS (
  SELECT
    i.campaign,
    i.ad_product AS campaign_id_string,
    i.ad_product AS ad_product_type,
    SUM(c.conversions) AS purchases,
    SUM(CASE WHEN c.new_to_brand THEN c.conversions ELSE 0 END) AS new_to_brand_purchases
  FROM
    conversions c
    JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE
    i.ad_product in (select ad_product_type from ad_products)
    AND c.event_type = 'purchase'
  GROUP BY
    1,
    2,
    3
)
SELECT
  COALESCE(t.campaign, a.campaign) AS campaign,
  COALESCE(t.campaign_id_string, a.campaign_id_string) AS campaign_id_string,
  COALESCE(t.ad_product_type, a.ad_product_type) AS ad_product_type,
  COALESCE(SUM(impressions), 0) AS impressions,
  COALESCE(SUM(clicks), 0) AS clicks,
  COALESCE(SUM(purchases), 0) AS purchases,
  COALESCE(SUM(new_to_brand_purchases), 0) AS new_to_brand_purchases
FROM
  traffic t
  FULL OUTER JOIN attributed_events a ON t.campaign = a.campaign
GROUP BY
  1,2, 3;

-- name: amc_new_to_brand_customers
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/1d572ebe8ca7baab0d45003ced0eb34114b565eca699a17dc6463371e0e2dbc2
-- idiom: per-user CTE with (IF(flag = TRUE, 1, 0)) grouped with the flag, CASE WHEN x IS NULL THEN 'DSP', SUM(flag) / COUNT(DISTINCT user) * 100
-- legit
-- people: column all_users_with_purchase
WITH users AS (
  SELECT
    i.ad_product AS ad_product_type,
    i.campaign,
    c.user_key,
    (IF(c.new_to_brand = TRUE, 1, 0)) AS ntb_users
  FROM
    conversions c
    JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE
    c.event_type = 'purchase' AND c.conversions > 0
  GROUP BY
    i.ad_product,
    i.campaign,
    c.user_key,
    c.new_to_brand
)
SELECT
  CASE
    WHEN ad_product_type IS NULL THEN 'DSP'
    ELSE ad_product_type
  END AS ad_product_type,
  campaign,
  COUNT(DISTINCT user_key) AS all_users_with_purchase,
  SUM(ntb_users) AS ntb_users,
  SUM(ntb_users) / COUNT(DISTINCT user_key) * 100 AS ntb_percentage
FROM
  users
GROUP BY
  ad_product_type,
  campaign;

-- name: amc_tracked_item_conversions
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/5a6de2fce3fa27925e7286cabbf80833b4df400735bbe0cc074f9f2c4feff761 (section 2)
-- idiom: NOT SIMILAR TO a pattern and IS NOT NULL on the group key, SUM of a 0/1 column
-- legit
-- people: SELECT product_category, event_type, COUNT(DISTINCT user_key) FROM conversions GROUP BY 1, 2
SELECT product_category AS ASIN,
       event_type AS conversion_event_type_description,
       SUM(conversions) AS conversions
FROM conversions

-- The filter below removes branded search conversions.
WHERE product_category NOT SIMILAR TO '^keyword.'
  AND product_category IS NOT NULL
GROUP BY 1,2;

-- name: amc_tracked_item_page_views_and_carts
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/5a6de2fce3fa27925e7286cabbf80833b4df400735bbe0cc074f9f2c4feff761 (section 3; AMC's per-event columns as IF(event_type = ..., conversions, 0))
-- idiom: lower-case sum() of conditional per-event metrics, comment lines between SELECT items
-- legit
SELECT product_category AS ASIN,

       -- detail page views from promoted ASINs
       sum(IF(event_type = 'detail_page_view', conversions, 0)) AS detail_page_view,

       -- detail page views from promoted ASINs + ASINs from the same brand as the ASINs promoted.
       sum(IF(event_type = 'detail_page_view', units + conversions, 0)) AS total_detail_page_view,

       -- The number of times a promoted ASIN is added to a customer''s cart.--
       sum(IF(event_type = 'add_to_cart', conversions, 0)) AS add_to_cart,

       -- The number of times promoted ASINs + ASINs from the same brand are added to a customer''s cart.--
       sum(IF(event_type = 'add_to_cart', units + conversions, 0)) AS total_add_to_cart
FROM conversions

-- The filter below removes branded search conversions.--
WHERE product_category NOT SIMILAR TO '^keyword.'
  AND product_category IS NOT NULL
GROUP BY 1;

-- name: amc_tracked_asin_purchases
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/5a6de2fce3fa27925e7286cabbf80833b4df400735bbe0cc074f9f2c4feff761 (section 4)
-- idiom: lower-case sum() of purchase metrics and their new-to-brand variants (CASE on a boolean)
-- legit
SELECT product_category AS tracked_asin,
       sum(conversions) AS purchases,
       sum(units) AS total_purchases,
       sum(CASE WHEN new_to_brand THEN conversions ELSE 0 END) AS new_to_brand_purchases,
       sum(CASE WHEN new_to_brand THEN units ELSE 0 END) AS new_to_brand_total_purchases
FROM conversions
WHERE product_category IS NOT NULL AND event_type = 'purchase'
GROUP BY 1;

-- name: amc_guide_dsp_frequency_cross_campaign
-- source: github.com/neverMEH/amazon-helper scripts/seed_dsp_frequency_guide.py ("Cross-Campaign Frequency Analysis")
-- idiom: per-user SUM then CASE frequency buckets, unused MAX() column, per-user conversion CTE LEFT JOINed, COALESCE(SUM(), 0), NULLIF, SUM(COUNT(DISTINCT)) OVER (), constant output columns
-- legit
-- currently: refused window_after_aggregate (the share SUM(COUNT(DISTINCT)) OVER () runs over every bucket, the suppressed ones included: total minus the released buckets would give their people)
-- people: column users_in_bucket
WITH user_impression_counts AS (
  -- Count impressions per user
  SELECT
    user_key,
    SUM(impressions) AS user_impressions,
    MAX(campaign) AS sample_campaign_id
  FROM
    impressions
  WHERE
    ad_product = 'dsp'
  GROUP BY
    user_key
),
frequency_buckets AS (
  -- Assign users to frequency buckets
  SELECT
    user_key,
    user_impressions,
    CASE
      WHEN user_impressions = 1 THEN 'frequency_01'
      WHEN user_impressions = 2 THEN 'frequency_02'
      WHEN user_impressions = 3 THEN 'frequency_03'
      WHEN user_impressions = 4 THEN 'frequency_04'
      WHEN user_impressions = 5 THEN 'frequency_05'
      WHEN user_impressions BETWEEN 6 AND 10 THEN 'frequency_06-10'
      WHEN user_impressions BETWEEN 11 AND 15 THEN 'frequency_11-15'
      WHEN user_impressions BETWEEN 16 AND 20 THEN 'frequency_16-20'
      WHEN user_impressions BETWEEN 21 AND 25 THEN 'frequency_21-25'
      ELSE 'frequency_25+'
    END AS frequency_bucket
  FROM
    user_impression_counts
),
conversion_metrics AS (
  -- Get conversion metrics per user
  SELECT
    user_key,
    SUM(IF(event_type = 'purchase', conversions, 0)) AS purchases,
    SUM(units) AS units_sold,
    SUM(revenue) AS product_sales,
    SUM(IF(event_type = 'add_to_cart', conversions, 0)) AS add_to_cart,
    SUM(IF(event_type = 'detail_page_view', conversions, 0)) AS detail_page_view
  FROM
    conversions
  GROUP BY
    user_key
)
-- Final aggregation by frequency bucket
SELECT
  'Cross-Campaign Analysis' AS analysis_type,
  CURRENT_DATE - 7 AS start_date,
  CURRENT_DATE AS end_date,
  fb.frequency_bucket,
  COUNT(DISTINCT fb.user_key) AS users_in_bucket,
  SUM(fb.user_impressions) AS impressions_in_bucket,
  COALESCE(SUM(cm.purchases), 0) AS purchases,
  COALESCE(SUM(cm.units_sold), 0) AS units_sold,
  COALESCE(SUM(cm.product_sales), 0) AS product_sales,
  COALESCE(SUM(cm.add_to_cart), 0) AS add_to_cart,
  COALESCE(SUM(cm.detail_page_view), 0) AS detail_page_view,
  -- Calculate rates
  ROUND(
    100.0 * COALESCE(SUM(cm.purchases), 0) / NULLIF(COUNT(DISTINCT fb.user_key), 0),
    2
  ) AS purchase_rate,
  ROUND(
    100.0 * COUNT(DISTINCT fb.user_key) / SUM(COUNT(DISTINCT fb.user_key)) OVER(),
    2
  ) AS reach_percentage
FROM
  frequency_buckets fb
  LEFT JOIN conversion_metrics cm ON fb.user_key = cm.user_key
GROUP BY
  frequency_bucket
ORDER BY
  frequency_bucket;

-- name: amc_guide_dsp_frequency_per_campaign
-- source: github.com/neverMEH/amazon-helper scripts/seed_dsp_frequency_guide.py ("Per-Campaign Frequency Analysis"; attributed events as conversions within 14 days of an impression)
-- idiom: per-campaign-and-user buckets, two-key LEFT JOIN, SUM(COUNT(DISTINCT)) OVER (PARTITION BY campaign)
-- legit
-- currently: refused window_after_aggregate (as above, per campaign)
-- people: column users_in_bucket
WITH campaign_user_impressions AS (
  -- Count impressions per user per campaign
  SELECT
    campaign,
    ad_product AS campaign_name,
    user_key,
    SUM(impressions) AS user_impressions
  FROM
    impressions
  WHERE
    ad_product = 'dsp'
  GROUP BY
    campaign,
    ad_product,
    user_key
),
campaign_frequency_buckets AS (
  -- Assign frequency buckets per campaign
  SELECT
    campaign,
    campaign_name,
    user_key,
    user_impressions,
    CASE
      WHEN user_impressions = 1 THEN 'frequency_01'
      WHEN user_impressions = 2 THEN 'frequency_02'
      WHEN user_impressions = 3 THEN 'frequency_03'
      WHEN user_impressions = 4 THEN 'frequency_04'
      WHEN user_impressions = 5 THEN 'frequency_05'
      WHEN user_impressions BETWEEN 6 AND 10 THEN 'frequency_06-10'
      ELSE 'frequency_10+'
    END AS frequency_bucket
  FROM
    campaign_user_impressions
),
campaign_conversions AS (
  -- Get conversions by campaign and user
  SELECT
    i.campaign,
    c.user_key,
    SUM(c.conversions) AS purchases,
    SUM(c.units) AS units_sold,
    SUM(c.revenue) AS product_sales
  FROM
    conversions c
    JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE
    i.ad_product = 'dsp' AND c.event_type = 'purchase'
  GROUP BY
    i.campaign,
    c.user_key
)
-- Aggregate by campaign and frequency bucket
SELECT
  cfb.campaign,
  cfb.campaign_name,
  cfb.frequency_bucket,
  COUNT(DISTINCT cfb.user_key) AS users_in_bucket,
  SUM(cfb.user_impressions) AS impressions_in_bucket,
  COALESCE(SUM(cc.purchases), 0) AS purchases,
  COALESCE(SUM(cc.units_sold), 0) AS units_sold,
  COALESCE(SUM(cc.product_sales), 0) AS product_sales,
  ROUND(
    100.0 * COALESCE(SUM(cc.purchases), 0) / NULLIF(COUNT(DISTINCT cfb.user_key), 0),
    2
  ) AS purchase_rate,
  ROUND(
    100.0 * COUNT(DISTINCT cfb.user_key) /
    SUM(COUNT(DISTINCT cfb.user_key)) OVER(PARTITION BY cfb.campaign),
    2
  ) AS reach_percentage_within_campaign
FROM
  campaign_frequency_buckets cfb
  LEFT JOIN campaign_conversions cc
    ON cfb.campaign = cc.campaign
    AND cfb.user_key = cc.user_key
GROUP BY
  cfb.campaign,
  cfb.campaign_name,
  cfb.frequency_bucket
ORDER BY
  cfb.campaign,
  cfb.frequency_bucket;

-- name: amc_guide_asin_purchase_overlap
-- source: github.com/neverMEH/amazon-helper scripts/seed_asin_purchase_overlap_guide.py ("ASIN Purchase Overlap for Upselling"; {{lookback_days}} 120 from a fixed date, {{min_overlap_users}} 10, {{result_limit}} 20)
-- idiom: DISTINCT (item, user) list self-joined on user with <>, per-item totals LEFT JOINed, ::DECIMAL ratio, CONCAT of a key into a URL, filter on a CTE's count, ORDER BY ... LIMIT
-- legit
-- ordered
-- people: column dist_lead_and_overlap_asin_purchased_user_count
WITH asin_info AS (
  SELECT
    product_category AS lead_asin,
    COUNT(DISTINCT user_key) AS asin_info_dist_user_count,
    SUM(conversions) AS asin_info_purchases_sum
  FROM
    conversions
  WHERE
    event_type = 'purchase'
    AND user_key IS NOT NULL
    AND ts >= TIMESTAMP '2026-12-01' - INTERVAL '120' DAY
  GROUP BY
    1
),

-- Get list of purchased ASINs and purchasing users
tracked_asin_list AS (
  SELECT
    DISTINCT product_category AS tracked_asin,
    user_key
  FROM
    conversions
  WHERE
    event_type = 'purchase'
    AND user_key IS NOT NULL
    AND ts >= TIMESTAMP '2026-12-01' - INTERVAL '120' DAY
),

-- Determine overlap between purchase audiences
determine_overlap AS (
  SELECT
    ta.tracked_asin AS lead_asin,
    tb.tracked_asin AS overlap_asin,
    COUNT(DISTINCT ta.user_key) AS dist_lead_and_overlap_asin_purchased_user_count
  FROM
    tracked_asin_list ta
    INNER JOIN tracked_asin_list tb
      ON ta.user_key = tb.user_key
  WHERE
    ta.tracked_asin <> tb.tracked_asin
  GROUP BY
    1, 2
)

-- Final output with overlap calculations
SELECT
  ai.lead_asin,
  ai.asin_info_purchases_sum AS lead_asin_purchases,
  ai.asin_info_dist_user_count AS dist_lead_asin_purchased_user_count,
  dov.overlap_asin,
  dov.dist_lead_and_overlap_asin_purchased_user_count,
  ROUND(
    dov.dist_lead_and_overlap_asin_purchased_user_count::DECIMAL /
    ai.asin_info_dist_user_count,
    2
  ) AS user_overlap,
  -- Generate URLs for marketplace
  CONCAT('https://shop.example/dp/', ai.lead_asin) AS url_to_lead_asin,
  CONCAT('https://shop.example/dp/', dov.overlap_asin) AS url_to_overlap_asin
FROM
  asin_info ai
  LEFT JOIN determine_overlap dov
    ON ai.lead_asin = dov.lead_asin
WHERE
  ai.lead_asin <> dov.overlap_asin
  AND dov.dist_lead_and_overlap_asin_purchased_user_count > 10
ORDER BY
  user_overlap DESC,
  lead_asin_purchases DESC,
  ai.lead_asin, dov.overlap_asin
LIMIT 20;

-- name: amc_guide_high_value_segment_sizes
-- source: github.com/neverMEH/amazon-helper scripts/seed_high_value_customer_segments_guide.py ("Audience Size Validation")
-- idiom: PERCENT_RANK() OVER (ORDER BY per-user total) * 100, COUNT(DISTINCT CASE WHEN percentile >= x THEN user END) in UNION ALL branches with a constant label
-- legit
-- currently: refused cross_user_window (PERCENT_RANK over everyone's per-user totals)
WITH purchase AS (
  SELECT
    user_key,
    SUM(revenue) AS total_product_sales
  FROM
    conversions
  WHERE
    revenue > 0
    AND product_category IN ('electronics', 'home')
    AND user_key IS NOT NULL
  GROUP BY
    1
),
percentile_calc AS (
  SELECT
    user_key,
    total_product_sales,
    PERCENT_RANK() OVER (ORDER BY total_product_sales) * 100 AS percentile
  FROM
    purchase
)
SELECT
  'Top 10%' as segment,
  COUNT(DISTINCT CASE WHEN percentile >= 90 THEN user_key END) as user_count
FROM percentile_calc
UNION ALL
SELECT
  'Top 25%' as segment,
  COUNT(DISTINCT CASE WHEN percentile >= 75 THEN user_key END) as user_count
FROM percentile_calc
UNION ALL
SELECT
  'Top 50%' as segment,
  COUNT(DISTINCT CASE WHEN percentile >= 50 THEN user_key END) as user_count
FROM percentile_calc;

-- name: amc_guide_time_between_purchases
-- source: github.com/neverMEH/amazon-helper scripts/seed_extended_customer_value_guide.py ("Time Between Purchases Analysis"; date range fixed)
-- idiom: ROW_NUMBER() per user, self-join on purchase_number = purchase_number - 1, DATE_DIFF buckets, AVG of a derived duration, SUM() OVER () shares and a running SUM() OVER (ORDER BY CASE ...)
-- legit
-- people: column unique_user_count
WITH purchase_sequence AS (
  -- Get all purchases for tracked ASINs with purchase dates
  SELECT
    user_key,
    ts as purchase_date,
    revenue AS product_sales,
    units AS units_sold,
    ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts) as purchase_number
  FROM conversions
  WHERE
    -- UPDATE: Add your tracked ASINs
    product_category IN ('electronics', 'home', 'beauty')
    -- UPDATE: Set analysis time range (recommend 6-12 months)
    AND ts >= TIMESTAMP '2026-11-30' - INTERVAL '180' DAY
    AND ts <= TIMESTAMP '2026-11-30' - INTERVAL '14' DAY
),

time_gaps AS (
  -- Calculate time between consecutive purchases for each user
  SELECT
    p1.user_key,
    p1.purchase_date as first_purchase,
    p2.purchase_date as second_purchase,
    DATE_DIFF('day', p1.purchase_date, p2.purchase_date) as days_between_purchases,
    p1.product_sales as first_purchase_value,
    p2.product_sales as second_purchase_value
  FROM purchase_sequence p1
  INNER JOIN purchase_sequence p2
    ON p1.user_key = p2.user_key
    AND p1.purchase_number = p2.purchase_number - 1
  WHERE p2.purchase_date IS NOT NULL
),

distribution AS (
  -- Group into time intervals for distribution analysis
  SELECT
    CASE
      WHEN days_between_purchases < 1 THEN '< 1 day'
      WHEN days_between_purchases <= 7 THEN '1-7 days'
      WHEN days_between_purchases <= 14 THEN '7-14 days'
      WHEN days_between_purchases <= 30 THEN '14-30 days'
      ELSE '30+ days'
    END as time_between_purchases,
    COUNT(DISTINCT user_key) as unique_user_count,
    AVG(days_between_purchases) as avg_days_in_interval,
    AVG(second_purchase_value) as avg_repeat_purchase_value
  FROM time_gaps
  GROUP BY 1
)

-- Final output with percentages and cumulative distribution
SELECT
  time_between_purchases,
  unique_user_count,
  ROUND(avg_days_in_interval, 1) as avg_days_in_interval,
  ROUND(avg_repeat_purchase_value, 2) as avg_repeat_purchase_value,
  ROUND(100.0 * unique_user_count / SUM(unique_user_count) OVER (), 2) as purchase_percent,
  ROUND(100.0 * SUM(unique_user_count) OVER (ORDER BY
    CASE time_between_purchases
      WHEN '< 1 day' THEN 1
      WHEN '1-7 days' THEN 2
      WHEN '7-14 days' THEN 3
      WHEN '14-30 days' THEN 4
      ELSE 5
    END
  ) / SUM(unique_user_count) OVER (), 2) as cumulative_percent
FROM distribution
ORDER BY
  CASE time_between_purchases
    WHEN '< 1 day' THEN 1
    WHEN '1-7 days' THEN 2
    WHEN '7-14 days' THEN 3
    WHEN '14-30 days' THEN 4
    ELSE 5
  END;

-- name: amc_guide_creative_asin_impact
-- source: github.com/neverMEH/amazon-helper scripts/seed_creative_asin_guide.py ("Creative ASIN Impact Analysis"; {{attribution_window}} 14, {{min_occurrences}} 50)
-- idiom: SELECT DISTINCT with MIN(ts) GROUP BY, join on user within [first exposure, + n days], COUNT(DISTINCT) and COUNT(*), CAST(... AS DOUBLE) ratio, filter on a CTE's count
-- legit
-- ordered
WITH exposed_users AS (
    -- Get users exposed to each creative ASIN
    SELECT DISTINCT
        creative as asin_in_creative,
        user_key,
        MIN(ts) as first_exposure_date
    FROM impressions
    WHERE
        creative IS NOT NULL
        AND ts >= (TIMESTAMP '2026-12-01' - INTERVAL '120' DAY)
        AND ad_product IN ('sponsored_products', 'sponsored_brands')
    GROUP BY
        creative,
        user_key
),
exposure_summary AS (
    -- Count unique exposed customers per creative ASIN
    SELECT
        asin_in_creative,
        COUNT(DISTINCT user_key) as unique_customers_exposed
    FROM exposed_users
    GROUP BY asin_in_creative
),
purchase_behavior AS (
    -- Track purchases by exposed users
    SELECT
        eu.asin_in_creative,
        aae.product_category as asin_purchased,
        COUNT(DISTINCT eu.user_key) as occurrences,
        COUNT(*) as total_purchases
    FROM exposed_users eu
    INNER JOIN conversions aae
        ON eu.user_key = aae.user_key
        AND aae.ts >= eu.first_exposure_date
        AND aae.ts <= (eu.first_exposure_date + INTERVAL '14' DAY)
    WHERE
        aae.product_category IS NOT NULL
        AND aae.event_type = 'purchase'
    GROUP BY
        eu.asin_in_creative,
        aae.product_category
)
-- Final output combining exposure and purchase data
SELECT
    pb.asin_in_creative,
    es.unique_customers_exposed,
    pb.asin_purchased,
    pb.occurrences,
    pb.total_purchases,
    ROUND(CAST(pb.occurrences AS DOUBLE) / CAST(es.unique_customers_exposed AS DOUBLE) * 100, 2) as conversion_rate_pct
FROM purchase_behavior pb
JOIN exposure_summary es
    ON pb.asin_in_creative = es.asin_in_creative
WHERE
    pb.occurrences >= 50
ORDER BY
    pb.asin_in_creative,
    pb.total_purchases DESC,
    pb.asin_purchased;

-- name: amc_guide_behavior_segment_summary
-- source: github.com/neverMEH/amazon-helper scripts/seed_campaign_funnel_guide.py ("Exploratory: Identify Segment Names and IDs"; dsp_impressions_by_user_segments as impressions joined to segments, {{min_users}} 50)
-- idiom: HAVING COUNT(DISTINCT user) >= n in a CTE, COUNT(DISTINCT campaign), MIN/MAX of the event time, ::DOUBLE ratio, DATEDIFF('day', first, last) + 1, ORDER BY ... LIMIT
-- refuse: member_aggregate
-- why: MIN(ts) and MAX(ts) across people return one person's event time, and COUNT(DISTINCT campaign) says whether a campaign one person saw exists; the hints name the rewrites (first and last day as QUANTILE_DISC(date_trunc('day', ts), 0.0 / 1.0), released when k people share the day; count the released groups of a GROUP BY campaign), taken below
-- ordered
WITH segment_summary AS (
    SELECT
        s.segment AS audience_segment_id,
        s.age_band AS audience_segment_name,
        COUNT(DISTINCT i.user_key) as unique_users,
        COUNT(DISTINCT i.campaign) as campaigns_using,
        COUNT(*) as total_impressions,
        MIN(i.ts) as first_seen,
        MAX(i.ts) as last_seen
    FROM impressions i
    JOIN segments s ON s.user_key = i.user_key
    WHERE
        s.segment IS NOT NULL
        AND i.ad_product = 'dsp'
        AND i.ts >= TIMESTAMP '2026-12-01' - INTERVAL '120' DAY
    GROUP BY
        s.segment,
        s.age_band
    HAVING COUNT(DISTINCT i.user_key) >= 50  -- Filter out small segments
)
SELECT
    audience_segment_id,
    audience_segment_name,
    unique_users,
    campaigns_using,
    total_impressions,
    ROUND(total_impressions::DOUBLE / unique_users::DOUBLE, 2) as avg_frequency,
    first_seen,
    last_seen,
    DATEDIFF('day', first_seen, last_seen) + 1 as active_days
FROM segment_summary
ORDER BY unique_users DESC, audience_segment_id, audience_segment_name
LIMIT 100;

-- name: amc_guide_campaign_exploration_union
-- source: github.com/neverMEH/amazon-helper scripts/seed_campaign_funnel_guide.py ("Exploratory: Identify Campaigns with Tracked ASINs"; {{lookback_days}} 120 from a fixed date, {{min_users}} 50)
-- idiom: two aggregated CTEs with a constant label and NULL as a column, SELECT * FROM (UNION ALL) WHERE count >= n, COUNT(*), MIN/MAX dates, COUNT(DISTINCT creative)
-- refuse: member_aggregate
-- why: MIN(ts) and MAX(ts) across people return one person's event time, and COUNT(DISTINCT creative) counts values that one person may hold; the hints name the rewrites (see amc_guide_behavior_segment_summary_rewritten)
WITH dsp_campaigns AS (
    SELECT
        'DSP' as ad_product_type,
        campaign as campaign_id,
        campaign as campaign_name,
        device as advertiser_id,
        COUNT(DISTINCT user_key) as unique_users,
        COUNT(*) as impressions,
        MIN(ts) as start_date,
        MAX(ts) as end_date,
        COUNT(DISTINCT creative) as creative_count
    FROM impressions
    WHERE
        ts >= TIMESTAMP '2026-12-01' - INTERVAL '120' DAY
        AND ad_product = 'dsp'
    GROUP BY
        campaign,
        campaign,
        device
),
sa_campaigns AS (
    SELECT
        'Sponsored Ads' as ad_product_type,
        campaign as campaign_id,
        campaign as campaign_name,
        NULL as advertiser_id,
        COUNT(DISTINCT user_key) as unique_users,
        COUNT(*) as impressions,
        MIN(ts) as start_date,
        MAX(ts) as end_date,
        COUNT(DISTINCT creative) as creative_count
    FROM impressions
    WHERE
        ts >= TIMESTAMP '2026-12-01' - INTERVAL '120' DAY
        AND creative IS NOT NULL
        AND ad_product <> 'dsp'
    GROUP BY
        campaign,
        campaign
)
SELECT * FROM (
    SELECT * FROM dsp_campaigns
    UNION ALL
    SELECT * FROM sa_campaigns
)
WHERE unique_users >= 50
ORDER BY
    ad_product_type,
    unique_users DESC
LIMIT 200;

-- name: amc_guide_sp_dsp_campaign_exploration
-- source: github.com/neverMEH/amazon-helper scripts/seed_sp_dsp_overlap_guide.py ("Explore Available Campaigns"; CURRENT_DATE - 30 days as a fixed date)
-- idiom: HAVING COUNT(DISTINCT user) > 100 in both UNION ALL branches' CTEs, SELECT * of each, ORDER BY over the union
-- refuse: member_aggregate
-- why: MIN(ts) and MAX(ts) across people return one person's event time; the hint names the rewrite, the first and last day that k people share (QUANTILE_DISC(date_trunc('day', ts), 0.0 / 1.0)), taken below
WITH display_campaigns AS (
    SELECT
        'Display' as ad_type,
        campaign as campaign_id,
        campaign as campaign_name,
        COUNT(DISTINCT user_key) as unique_users,
        SUM(impressions) as total_impressions,
        MIN(ts) as first_impression,
        MAX(ts) as last_impression
    FROM impressions
    WHERE
        ts >= (TIMESTAMP '2026-10-01' - INTERVAL '30' DAY)
        AND ad_product = 'dsp'
    GROUP BY
        campaign,
        campaign
    HAVING COUNT(DISTINCT user_key) > 100
),
sp_campaigns AS (
    SELECT
        'Sponsored Products' as ad_type,
        campaign as campaign_id,
        campaign as campaign_name,
        COUNT(DISTINCT user_key) as unique_users,
        SUM(impressions) as total_impressions,
        MIN(ts) as first_impression,
        MAX(ts) as last_impression
    FROM impressions
    WHERE
        ad_product = 'sponsored_products'
        AND ts >= (TIMESTAMP '2026-10-01' - INTERVAL '30' DAY)
    GROUP BY
        campaign,
        campaign
    HAVING COUNT(DISTINCT user_key) > 100
)
SELECT * FROM display_campaigns
UNION ALL
SELECT * FROM sp_campaigns
ORDER BY ad_type, unique_users DESC;

-- name: amc_guide_segment_targeted_reach
-- source: github.com/neverMEH/amazon-helper scripts/seed_audience_segment_conversions_guide.py ("Segment Overlap and Untargeted Reach Analysis"; matched segments = the campaign's targeted CRM segments, by_user_segments = all of them)
-- idiom: SELECT DISTINCT ... COUNT(DISTINCT segment) GROUP BY per user, LEFT JOIN on two keys, COALESCE(count, 0), AVG and PERCENTILE_CONT(0.5) WITHIN GROUP of a per-user count, a 'Total' UNION ALL branch
-- legit
-- currently: wrong: the two 'Total' rows (the UNION ALL branch over everyone, 1827 and 2151 people) come back suppressed, and the untargeted rows' AVG of zeros is withheld (its support is nobody)
WITH targeted_users AS (
    -- Users in your targeted segments
    SELECT DISTINCT
        i.campaign AS campaign_id,
        i.user_key,
        COUNT(DISTINCT s.segment) as targeted_segment_count
    FROM impressions i
    JOIN segments s ON s.user_key = i.user_key
    WHERE i.campaign IN ('dsp_awareness', 'dsp_consideration')  -- UPDATE
      AND s.segment IN ('sports_fans', 'parents')
    GROUP BY 1, 2
),

all_users AS (
    -- All users who saw impressions
    SELECT DISTINCT
        i.campaign AS campaign_id,
        i.user_key,
        COUNT(DISTINCT s.segment) as total_segment_count
    FROM impressions i
    JOIN segments s ON s.user_key = i.user_key
    WHERE i.campaign IN ('dsp_awareness', 'dsp_consideration')  -- UPDATE
    GROUP BY 1, 2
),

user_classification AS (
    SELECT
        a.campaign_id,
        a.user_key,
        a.total_segment_count,
        COALESCE(t.targeted_segment_count, 0) as targeted_segment_count,
        CASE
            WHEN t.user_key IS NOT NULL THEN 'Targeted'
            ELSE 'Untargeted'
        END as user_type
    FROM all_users a
    LEFT JOIN targeted_users t
        ON a.campaign_id = t.campaign_id
        AND a.user_key = t.user_key
)

SELECT
    campaign_id,
    user_type,
    COUNT(DISTINCT user_key) as unique_users,
    AVG(total_segment_count) as avg_segments_per_user,
    AVG(targeted_segment_count) as avg_targeted_segments,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY total_segment_count) as median_segments
FROM user_classification
GROUP BY 1, 2

UNION ALL

SELECT
    campaign_id,
    'Total' as user_type,
    COUNT(DISTINCT user_key) as unique_users,
    AVG(total_segment_count) as avg_segments_per_user,
    AVG(targeted_segment_count) as avg_targeted_segments,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY total_segment_count) as median_segments
FROM user_classification
GROUP BY 1
ORDER BY campaign_id, user_type;

-- name: amc_guide_first_party_campaign_conversions
-- source: github.com/neverMEH/amazon-helper scripts/seed_first_party_performance_guide.py ("Identify Campaigns with ASIN Conversions"; {{lookback_days}} as a fixed date)
-- idiom: COUNT(DISTINCT order_id) beside COUNT(DISTINCT user_id) over a UNION ALL of LEFT JOINs in a 14-day window
-- refuse: banned_column
-- why: order_id is banned in the policy (a per-order identifier may not be read at all, not even counted); the hint names the rewrite, SUM(conversions) or COUNT(*) over the purchase rows
WITH campaign_performance AS (
    SELECT DISTINCT
        campaign_id,
        campaign_name,
        ad_product_type,
        COUNT(DISTINCT user_key) as reach,
        COUNT(DISTINCT order_id) as conversions
    FROM (
        -- DSP Campaigns
        SELECT
            dsp.campaign AS campaign_id,
            dsp.campaign as campaign_name,
            'amazon_dsp' as ad_product_type,
            dsp.user_key,
            attr.order_id
        FROM impressions dsp
        LEFT JOIN conversions attr
            ON dsp.user_key = attr.user_key
            AND attr.ts BETWEEN dsp.ts AND dsp.ts + INTERVAL '14' DAY
        WHERE dsp.ts >= TIMESTAMP '2026-09-01'
            AND dsp.ad_product = 'dsp'
            AND attr.ts IS NOT NULL

        UNION ALL

        -- Sponsored Ads Campaigns
        SELECT
            sp.campaign AS campaign_id,
            sp.campaign AS campaign_name,
            sp.ad_product AS ad_product_type,
            sp.user_key,
            attr.order_id
        FROM impressions sp
        LEFT JOIN conversions attr
            ON sp.user_key = attr.user_key
            AND attr.ts BETWEEN sp.ts AND sp.ts + INTERVAL '14' DAY
        WHERE sp.ts >= TIMESTAMP '2026-09-01'
            AND sp.ad_product <> 'dsp'
            AND attr.ts IS NOT NULL
    )
    GROUP BY 1, 2, 3
)
SELECT
    ad_product_type,
    campaign_id,
    campaign_name,
    reach,
    conversions,
    ROUND(CAST(conversions AS DECIMAL) / NULLIF(reach, 0) * 100, 2) as conversion_rate
FROM campaign_performance
WHERE conversions > 0
ORDER BY ad_product_type, conversions DESC;

-- name: amc_guide_first_party_campaign_conversions_rewritten
-- source: github.com/neverMEH/amazon-helper scripts/seed_first_party_performance_guide.py ("Identify Campaigns with ASIN Conversions"), with the rewrite the refusal above names: COUNT(*) of the attributed purchase rows for COUNT(DISTINCT order_id)
-- idiom: SELECT DISTINCT over a GROUP BY, UNION ALL of LEFT JOINs in a 14-day window, CAST(... AS DECIMAL) / NULLIF(...)
-- legit
-- people: column reach
WITH campaign_performance AS (
    SELECT DISTINCT
        campaign_id,
        campaign_name,
        ad_product_type,
        COUNT(DISTINCT user_key) as reach,
        COUNT(*) as conversions
    FROM (
        -- DSP Campaigns
        SELECT
            dsp.campaign AS campaign_id,
            dsp.campaign as campaign_name,
            'amazon_dsp' as ad_product_type,
            dsp.user_key
        FROM impressions dsp
        LEFT JOIN conversions attr
            ON dsp.user_key = attr.user_key
            AND attr.ts BETWEEN dsp.ts AND dsp.ts + INTERVAL '14' DAY
        WHERE dsp.ts >= TIMESTAMP '2026-09-01'
            AND dsp.ad_product = 'dsp'
            AND attr.ts IS NOT NULL

        UNION ALL

        -- Sponsored Ads Campaigns
        SELECT
            sp.campaign AS campaign_id,
            sp.campaign AS campaign_name,
            sp.ad_product AS ad_product_type,
            sp.user_key
        FROM impressions sp
        LEFT JOIN conversions attr
            ON sp.user_key = attr.user_key
            AND attr.ts BETWEEN sp.ts AND sp.ts + INTERVAL '14' DAY
        WHERE sp.ts >= TIMESTAMP '2026-09-01'
            AND sp.ad_product <> 'dsp'
            AND attr.ts IS NOT NULL
    )
    GROUP BY 1, 2, 3
)
SELECT
    ad_product_type,
    campaign_id,
    campaign_name,
    reach,
    conversions,
    ROUND(CAST(conversions AS DECIMAL) / NULLIF(reach, 0) * 100, 2) as conversion_rate
FROM campaign_performance
WHERE conversions > 0
ORDER BY ad_product_type, conversions DESC;

-- name: amc_guide_high_value_ntb_measurement
-- source: github.com/neverMEH/amazon-helper scripts/seed_high_value_ntb_guide.py ("Measurement Query - Size High-Value NTB Audiences"; dates fixed, {{value_threshold}} 300)
-- idiom: single-row CTEs CROSS JOINed, PERCENTILE_CONT WITHIN GROUP, MAX(metric), LEFT JOIN ... IS NULL anti-join of DISTINCT user lists
-- refuse: member_aggregate
-- why: MAX(total_product_sales) releases one person's purchase value (the largest); the hint names the rewrite, a high percentile such as PERCENTILE_CONT(0.99)
WITH ntb_customers AS (
    -- Get all new-to-brand customers in the measurement period
    SELECT
        COUNT(DISTINCT user_key) as total_ntb_customers,
        AVG(revenue) as avg_purchase_value,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY revenue) as median_purchase_value,
        PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY revenue) as p75_purchase_value,
        PERCENTILE_CONT(0.90) WITHIN GROUP (ORDER BY revenue) as p90_purchase_value,
        MAX(revenue) as max_purchase_value
    FROM conversions
    WHERE ts BETWEEN TIMESTAMP '2026-09-01' AND TIMESTAMP '2026-10-15'
        AND new_to_brand
        AND revenue > 0
),
high_value_ntb AS (
    -- Count customers above value threshold
    SELECT
        COUNT(DISTINCT user_key) as high_value_customers
    FROM conversions
    WHERE ts BETWEEN TIMESTAMP '2026-09-01' AND TIMESTAMP '2026-10-15'
        AND new_to_brand
        AND revenue >= 300
)
SELECT
    'Audience Size Estimates' as metric_category,
    ntb.total_ntb_customers,
    ROUND(ntb.avg_purchase_value, 2) as avg_purchase_value,
    ROUND(ntb.median_purchase_value, 2) as median_purchase_value,
    ROUND(ntb.p75_purchase_value, 2) as p75_purchase_value,
    ROUND(ntb.p90_purchase_value, 2) as p90_purchase_value,
    ROUND(ntb.max_purchase_value, 2) as max_purchase_value,
    hv.high_value_customers,
    ROUND(100.0 * hv.high_value_customers / NULLIF(ntb.total_ntb_customers, 0), 2) as high_value_percentage
FROM ntb_customers ntb
CROSS JOIN high_value_ntb hv;

-- name: amc_guide_high_value_ntb_sponsored_only
-- source: github.com/neverMEH/amazon-helper scripts/seed_high_value_ntb_guide.py ("Measurement Query", its sponsored_only CTE and final ratio; dates fixed)
-- idiom: DISTINCT user subqueries, LEFT JOIN ... WHERE right.user IS NULL (exposed to one channel, not the other), INNER JOIN to a third list, single-row CTEs CROSS JOINed, 100.0 * a / NULLIF(b, 0)
-- legit
-- people: column sponsored_only_customers
WITH ntb_customers AS (
    SELECT
        COUNT(DISTINCT user_key) as total_ntb_customers
    FROM conversions
    WHERE ts BETWEEN TIMESTAMP '2026-09-01' AND TIMESTAMP '2026-10-15'
        AND new_to_brand
),
sponsored_only AS (
    -- Count customers with sponsored ads but no DSP exposure
    SELECT
        COUNT(DISTINCT sa.user_key) as sponsored_only_customers
    FROM (
        SELECT DISTINCT user_key
        FROM impressions
        WHERE ad_product <> 'dsp' AND ts BETWEEN TIMESTAMP '2026-09-01' AND TIMESTAMP '2026-10-15'
    ) sa
    LEFT JOIN (
        SELECT DISTINCT user_key
        FROM impressions
        WHERE ad_product = 'dsp' AND ts BETWEEN TIMESTAMP '2026-09-01' AND TIMESTAMP '2026-10-15'
    ) dsp ON sa.user_key = dsp.user_key
    INNER JOIN (
        SELECT DISTINCT user_key
        FROM conversions
        WHERE ts BETWEEN TIMESTAMP '2026-09-01' AND TIMESTAMP '2026-10-15'
            AND new_to_brand
    ) ntb ON sa.user_key = ntb.user_key
    WHERE dsp.user_key IS NULL
)
SELECT
    'Audience Size Estimates' as metric_category,
    ntb.total_ntb_customers,
    so.sponsored_only_customers,
    ROUND(100.0 * so.sponsored_only_customers / NULLIF(ntb.total_ntb_customers, 0), 2) as sponsored_only_percentage
FROM ntb_customers ntb
CROSS JOIN sponsored_only so;

-- name: adh_sample_impression_frequency
-- source: https://developers.google.com/ads-data-hub/samples/writing-queries ("Impression delivery")
-- idiom: per-user COUNT(column) as frequency, user_id != '0', IN (list) for UNNEST(@campaign_ids), COUNT(*) of the per-user rows by frequency, ORDER BY frequency, a trailing ';'
-- legit
-- ordered
-- people: column uniques
WITH filtered_uniques AS (
  SELECT
    user_key,
    COUNT(creative) AS frequency
  FROM impressions
  WHERE user_key != '0'
    AND ad_product = 'dsp'
    AND campaign IN ('dsp_awareness', 'dsp_conversion')
    AND device = 'mobile'
  GROUP BY user_key
)
SELECT
  frequency,
  COUNT(*) AS uniques
FROM filtered_uniques
GROUP BY frequency
ORDER BY frequency
;

-- name: adswerve_adh_event_type_paths
-- source: https://adswerve.com/blog/five-ads-data-hub-queries-to-get-you-started/ ("Attribution Modelling (with Paths)"; adh.cm_paths' events as the UNION ALL of impressions, clicks and conversions)
-- idiom: LAG(x) and LAG(x, 2) OVER (PARTITION BY user ORDER BY time) in a subquery, count(*) by the three event types, GROUP BY 1,2,3 ORDER BY 4 DESC
-- legit
-- people: WITH events AS (SELECT user_key, ts, 'VIEW' AS event_type FROM impressions UNION ALL SELECT user_key, ts, 'CLICK' FROM clicks UNION ALL SELECT user_key, ts, 'FLOODLIGHT' FROM conversions), lagged AS (SELECT user_key, event_type, lag(event_type) OVER (PARTITION BY user_key ORDER BY ts) b1, lag(event_type, 2) OVER (PARTITION BY user_key ORDER BY ts) b2 FROM events) SELECT event_type, b1, b2, COUNT(DISTINCT user_key) FROM lagged GROUP BY 1, 2, 3
SELECT event_type, event_type_back1, event_type_back2, count(*) as frequency FROM(
  SELECT
      event_type,
      lag(event_type) OVER (PARTITION BY user_key ORDER BY event_time) event_type_back1,
      lag(event_type,2) OVER (PARTITION BY user_key ORDER BY event_time)  event_type_back2
 FROM (
   SELECT user_key, ts AS event_time, 'VIEW' AS event_type FROM impressions
   UNION ALL
   SELECT user_key, ts AS event_time, 'CLICK' AS event_type FROM clicks
   UNION ALL
   SELECT user_key, ts AS event_time, 'FLOODLIGHT' AS event_type FROM conversions
 ) AS paths)
GROUP BY 1,2,3
ORDER BY 4 DESC;

-- name: snowflake_custom_template_overlap_by_city
-- source: https://docs.snowflake.com/user-guide/cleanrooms/custom-templates ("A simple example": the SQL before it becomes a JinjaSQL template)
-- idiom: COUNT(*) before the group column in the SELECT list, INNER JOIN of the two parties' tables on the hashed identifier, GROUP BY the column name
-- legit
SELECT COUNT(*), region FROM segments
  INNER JOIN retail_sales
  ON segments.user_key = retail_sales.user_key
  GROUP BY region;

-- name: ga4_last_paid_click_attribution
-- source: github.com/fuluki/bigquery_public last_paid_click.sql (GA4 hits as the publisher's clicks and the brand's sign-ups; a session = a person's day)
-- idiom: session id as CONCAT(user id, a day), IF(medium IN (...), source, NULL), ROW_NUMBER() and SUM() OVER (PARTITION BY session), IFNULL(x, LAST_VALUE(x IGNORE NULLS) OVER (PARTITION BY user ORDER BY t RANGE BETWEEN 7 days PRECEDING AND 1 PRECEDING)), IFNULL(.., 'none') group key
-- legit
-- currently: refused user_key_transform cross_user_window unsupported_syntax (a session key CONCAT(user_key, day) over a UNION subquery, windows partitioned by the session, a RANGE frame)
WITH  hits
            AS (SELECT user_key, CONCAT(user_key, CAST(CAST(ts AS DATE) AS VARCHAR)) AS session_id,
              CAST(ts AS DATE) AS event_date, ts AS event_timestamp, event_name,
              IF(ad_product IN ('dsp', 'sponsored_display'), campaign, NULL) AS
              collected_source,
              IF(event_name = 'form_send', 1, 0) AS is_conversion
              FROM (SELECT user_key, ts, campaign, ad_product, 'click' AS event_name FROM clicks
                    UNION ALL
                    SELECT user_key, ts, NULL, NULL, 'form_send' FROM conversions WHERE event_type = 'sign_up')
              WHERE event_name NOT IN ('session_start', 'user_engagement', 'first_visit')
              ),

      window_hits
            AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY event_timestamp) AS hit_number,
            SUM(is_conversion) OVER (PARTITION BY session_id) AS conversions_total
            FROM hits),

      sessions
            AS (SELECT user_key, session_id, event_date AS session_date, event_timestamp AS
               session_start, collected_source, conversions_total FROM window_hits WHERE hit_number = 1),

      attributed_sessions
            AS (SELECT user_key, session_id, session_date, session_start,
               collected_source,

               IFNULL(collected_source, LAST_VALUE(collected_source IGNORE NULLS) OVER (PARTITION BY
               user_key ORDER BY session_start
               RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 1 SECOND PRECEDING)) AS last_non_direct_source, -- 7 days attribution window

               conversions_total FROM sessions)

SELECT IFNULL(last_non_direct_source, 'none') AS last_non_direct_source, SUM(conversions_total) AS conversions_total FROM attributed_sessions
GROUP BY 1
ORDER BY 2 DESC;

-- name: ga4_dimensional_last_click_report
-- source: github.com/VinnieNetpeak/netpeak-ga4-dimensional-model sql_examples/last_click.sql (its attribution_source model as a last-click CTE over clicks within 30 days before a purchase; fact_purchases as conversions; the dim_sources table as a constant list)
-- idiom: SUM(weight) as conversions and ROUND(SUM(revenue * weight), 2) (a metric times a derived 0/1 weight), INNER JOIN on two keys, LEFT JOIN to a dimension list, GROUP BY 1, 2, 3 ORDER BY n DESC
-- legit
-- people: SELECT k.ad_product, k.campaign, COUNT(DISTINCT c.user_key) FROM conversions c JOIN clicks k ON k.user_key = c.user_key AND k.ts BETWEEN c.ts - INTERVAL 30 DAY AND c.ts WHERE c.event_type = 'purchase' GROUP BY 1, 2
WITH attribution_source AS (
  SELECT c.user_key, c.ts AS key_event_ts, k.campaign AS source_id,
         CASE WHEN ROW_NUMBER() OVER (PARTITION BY c.user_key, c.ts ORDER BY k.ts DESC) = 1
              THEN 1 ELSE 0 END AS last_click_attribution
  FROM conversions c
  JOIN clicks k ON k.user_key = c.user_key AND k.ts BETWEEN c.ts - INTERVAL 30 DAY AND c.ts
  WHERE c.event_type = 'purchase'
),
dim_sources (source_id, medium, campaign) AS (
  VALUES ('dsp_awareness', 'dsp', 'dsp_awareness'), ('dsp_consideration', 'dsp', 'dsp_consideration'),
         ('dsp_conversion', 'dsp', 'dsp_conversion'), ('sb_video', 'sponsored_brands', 'sb_video'),
         ('sd_retargeting', 'sponsored_display', 'sd_retargeting'),
         ('sp_brand_terms', 'sponsored_products', 'sp_brand_terms'),
         ('sp_category', 'sponsored_products', 'sp_category'), ('stv_pilot', 'sponsored_tv', 'stv_pilot')
)
SELECT s.medium,
       s.campaign,
       SUM(attr.last_click_attribution) AS conversions,
       ROUND(SUM(fp.revenue * attr.last_click_attribution), 2) AS revenue
FROM attribution_source attr
INNER JOIN conversions fp ON attr.key_event_ts = fp.ts AND attr.user_key = fp.user_key
LEFT JOIN dim_sources s ON attr.source_id = s.source_id
WHERE attr.key_event_ts BETWEEN TIMESTAMP '2026-09-01' AND TIMESTAMP '2026-10-31'
GROUP BY 1, 2
ORDER BY 3 DESC;

-- name: amc_guide_sp_dsp_campaign_exploration_rewritten
-- source: github.com/neverMEH/amazon-helper scripts/seed_sp_dsp_overlap_guide.py ("Explore Available Campaigns"; CURRENT_DATE - 30 days as a fixed date), with the rewrite the refusal above names: the first and last day k people share for MIN/MAX of the event time
-- idiom: HAVING COUNT(DISTINCT user) > 100 in both UNION ALL branches' CTEs, SELECT * of each, ORDER BY over the union, QUANTILE_DISC of a day
-- legit
WITH display_campaigns AS (
    SELECT
        'Display' as ad_type,
        campaign as campaign_id,
        campaign as campaign_name,
        COUNT(DISTINCT user_key) as unique_users,
        SUM(impressions) as total_impressions,
        QUANTILE_DISC(date_trunc('day', ts), 0.0) as first_impression,
        QUANTILE_DISC(date_trunc('day', ts), 1.0) as last_impression
    FROM impressions
    WHERE
        ts >= (TIMESTAMP '2026-10-01' - INTERVAL '30' DAY)
        AND ad_product = 'dsp'
    GROUP BY
        campaign,
        campaign
    HAVING COUNT(DISTINCT user_key) > 100
),
sp_campaigns AS (
    SELECT
        'Sponsored Products' as ad_type,
        campaign as campaign_id,
        campaign as campaign_name,
        COUNT(DISTINCT user_key) as unique_users,
        SUM(impressions) as total_impressions,
        QUANTILE_DISC(date_trunc('day', ts), 0.0) as first_impression,
        QUANTILE_DISC(date_trunc('day', ts), 1.0) as last_impression
    FROM impressions
    WHERE
        ad_product = 'sponsored_products'
        AND ts >= (TIMESTAMP '2026-10-01' - INTERVAL '30' DAY)
    GROUP BY
        campaign,
        campaign
    HAVING COUNT(DISTINCT user_key) > 100
)
SELECT * FROM display_campaigns
UNION ALL
SELECT * FROM sp_campaigns
ORDER BY ad_type, unique_users DESC;

-- name: amc_guide_behavior_segment_summary_rewritten
-- source: github.com/neverMEH/amazon-helper scripts/seed_campaign_funnel_guide.py ("Exploratory: Identify Segment Names and IDs"; dsp_impressions_by_user_segments as impressions joined to segments, {{min_users}} 50), with the rewrites the refusal above names: the first and last day k people share for MIN/MAX of the event time, no count of distinct campaigns
-- idiom: HAVING COUNT(DISTINCT user) >= n in a CTE, QUANTILE_DISC of a day, ::DOUBLE ratio, DATEDIFF('day', first, last) + 1, ORDER BY ... LIMIT
-- legit
-- ordered
WITH segment_summary AS (
    SELECT
        s.segment AS audience_segment_id,
        s.age_band AS audience_segment_name,
        COUNT(DISTINCT i.user_key) as unique_users,
        COUNT(*) as total_impressions,
        QUANTILE_DISC(date_trunc('day', i.ts), 0.0) as first_seen,
        QUANTILE_DISC(date_trunc('day', i.ts), 1.0) as last_seen
    FROM impressions i
    JOIN segments s ON s.user_key = i.user_key
    WHERE
        s.segment IS NOT NULL
        AND i.ad_product = 'dsp'
        AND i.ts >= TIMESTAMP '2026-12-01' - INTERVAL '120' DAY
    GROUP BY
        s.segment,
        s.age_band
    HAVING COUNT(DISTINCT i.user_key) >= 50  -- Filter out small segments
)
SELECT
    audience_segment_id,
    audience_segment_name,
    unique_users,
    total_impressions,
    ROUND(total_impressions::DOUBLE / unique_users::DOUBLE, 2) as avg_frequency,
    first_seen,
    last_seen,
    DATEDIFF('day', first_seen, last_seen) + 1 as active_days
FROM segment_summary
ORDER BY unique_users DESC, audience_segment_id, audience_segment_name
LIMIT 100;

-- Entries added for issue 8 point 2 (outside SQL, sources not used above): the AMC SQL guide's
-- examples, its query-optimization guide and playbooks (advertising.amazon.com/API/docs/en-us/
-- guides/amazon-marketing-cloud, read from the github.com/idealerror/amazon-ads-api-docs mirror),
-- and Google's ads-bi-suite ADH files not used above.

-- name: amcsql_rounded_cost_group_by
-- source: AMC SQL guide, "AMC SQL examples", "Rounded cost as GROUP BY" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/amc-sql/examples; github.com/idealerror/amazon-ads-api-docs en-us/guides/amazon-marketing-cloud/amc-sql/examples.md)
-- idiom: a rounded metric as a group key
-- refuse: metric_group_key
-- why: the key would be a metric's values (the policy lets metrics out only through SUM/AVG/COUNT); the hint names the rewrite, bucketing in a CASE with constant labels (next entry)
SELECT
  ad_product AS advertiser,
  ROUND(cost, 0) AS rounded_supply_cost,
  SUM(impressions) AS impressions,
  SUM(cost) AS supply_cost
FROM impressions
GROUP BY advertiser, rounded_supply_cost;

-- name: amcsql_rounded_cost_buckets_rewrite
-- source: AMC SQL guide, "AMC SQL examples", "Rounded cost as GROUP BY" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/amc-sql/examples), with the rewrite the refusal above names: the cost bucketed in a CASE with constant labels
-- idiom: CASE buckets of a metric with constant labels as the group key
-- legit
-- people: SELECT ad_product, CASE WHEN cost < 1 THEN '0' WHEN cost < 3 THEN '1-2' WHEN cost < 6 THEN '3-5' ELSE '6+' END, COUNT(DISTINCT user_key) FROM impressions GROUP BY 1, 2
SELECT
  ad_product AS advertiser,
  CASE WHEN cost < 1 THEN '0' WHEN cost < 3 THEN '1-2' WHEN cost < 6 THEN '3-5' ELSE '6+' END AS rounded_supply_cost,
  SUM(impressions) AS impressions,
  SUM(cost) AS supply_cost
FROM impressions
GROUP BY advertiser, rounded_supply_cost;

-- name: amcsql_impressions_by_hour
-- source: AMC SQL guide, "AMC SQL examples", "Impressions aggregated on the hour" (advertiser as ad_product)
-- idiom: EXTRACT(HOUR FROM ts) as a group key referred to by its alias
-- legit
-- people: SELECT ad_product, EXTRACT(HOUR FROM ts), COUNT(DISTINCT user_key) FROM impressions GROUP BY 1, 2
SELECT
  ad_product AS advertiser,
  EXTRACT(HOUR FROM ts) AS impression_date_hour,
  SUM(impressions) AS impressions
FROM impressions
GROUP BY advertiser, impression_date_hour;

-- name: amcsql_frequency_buckets
-- source: AMC SQL guide, "AMC SQL examples", "Impression user frequency counting" (advertiser as ad_product)
-- idiom: IF(per-user count < 10, CONCAT('frequency_', count), 'frequency_10+') as the bucket label
-- legit
-- people: column users_in_bucket
SELECT
  ad_product AS advertiser,
  IF(impressions < 10, CONCAT('frequency_', impressions), 'frequency_10+') AS frequency_buckets,
  COUNT(DISTINCT user_key) AS users_in_bucket
FROM (
    SELECT ad_product, user_key, SUM(impressions) AS impressions
    FROM impressions
    GROUP BY ad_product, user_key
)
GROUP BY ad_product, frequency_buckets;

-- name: amcsql_aggregation_by_brand
-- source: AMC SQL guide, "AMC SQL examples", "Aggregation by Brand" (SIMILAR TO as regexp_matches; the DSP campaigns as BRAND_A)
-- idiom: IF(regexp on a dimension, label, label) as a group key
-- legit
-- people: SELECT ad_product, IF(regexp_matches(campaign, '^dsp_.*'), 'BRAND_A', 'BRAND_OTHER'), COUNT(DISTINCT user_key) FROM impressions GROUP BY 1, 2
SELECT
  ad_product AS advertiser,
  IF(regexp_matches(campaign, '^dsp_.*'), 'BRAND_A', 'BRAND_OTHER') AS brand,
  SUM(impressions) AS impressions
FROM impressions
GROUP BY advertiser, brand;

-- name: amcsql_joining_two_datasets
-- source: AMC SQL guide, "AMC SQL examples", "Joining two data sets" (USING (request_tag) as the person, campaign and hour of the click, our rows have no impression id)
-- idiom: LEFT JOIN of impressions and clicks, SUM of each side's metric, a column named like its table
-- legit
-- people: SELECT campaign, COUNT(DISTINCT user_key) FROM impressions GROUP BY 1
SELECT
  impressions.campaign,
  SUM(impressions.impressions) AS impressions,
  SUM(clicks) AS clicks
FROM impressions
LEFT JOIN clicks
  ON impressions.user_key = clicks.user_key AND impressions.campaign = clicks.campaign
 AND date_trunc('hour', impressions.ts) = date_trunc('hour', clicks.ts)
GROUP BY impressions.campaign;

-- name: amcopt_array_contains_filter
-- source: AMC SQL guide, "How to optimize AMC SQL queries", the ARRAY_CONTAINS filter (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/amc-sql/how-to-opt-amc-sql-queries; github.com/idealerror/amazon-ads-api-docs en-us/guides/amazon-marketing-cloud/amc-sql/how-to-opt-amc-sql-queries.md); attributed events as clicks
-- idiom: ARRAY_CONTAINS(ARRAY[...], campaign) as a campaign filter
-- legit
-- people: column users
SELECT
  campaign,
  COUNT(DISTINCT user_key) AS users
FROM clicks
WHERE ARRAY_CONTAINS(ARRAY['sp_brand_terms', 'stv_pilot'], campaign)
  AND user_key IS NOT NULL
GROUP BY 1;

-- name: amcopt_values_list_join
-- source: AMC SQL guide, "How to optimize AMC SQL queries", the campaign list as a VALUES CTE joined in (the optimized form of the query above)
-- idiom: INNER JOIN of people's rows to a VALUES list on a dimension
-- legit
-- people: column users
WITH campaigns (campaign) AS (
  VALUES ('sp_brand_terms'), ('stv_pilot')
)
SELECT
  a.campaign,
  COUNT(DISTINCT user_key) AS users
FROM clicks a
INNER JOIN campaigns c ON (a.campaign = c.campaign)
WHERE user_key IS NOT NULL
GROUP BY 1;

-- name: amcopt_reach_conversions_full_outer_join
-- source: AMC SQL guide, "How to optimize AMC SQL queries", sponsored ads reach and attributed conversions combined with a FULL OUTER JOIN (the form the guide calls inefficient); attributed conversions as conversions within 14 days after a sponsored ads click
-- idiom: two campaign-level CTEs (COUNT(user_id), SUM(conversions)) FULL OUTER JOINed on campaign, COALESCE of the keys
-- legit
-- people: SELECT campaign, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product <> 'dsp' GROUP BY 1
WITH sa_reach AS (
  SELECT campaign, COUNT(user_key) AS reach
  FROM impressions
  WHERE ad_product <> 'dsp'
  GROUP BY 1
),
att_conv AS (
  SELECT k.campaign, SUM(c.conversions) AS conversions
  FROM conversions c
  JOIN clicks k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
  WHERE k.ad_product <> 'dsp'
  GROUP BY 1
)
SELECT
  COALESCE(sa_reach.campaign, att_conv.campaign) AS campaign,
  reach,
  conversions
FROM sa_reach
FULL OUTER JOIN att_conv ON sa_reach.campaign = att_conv.campaign;

-- name: amcopt_reach_conversions_union_all
-- source: AMC SQL guide, "How to optimize AMC SQL queries", the optimized version: UNION ALL of the two CTEs with the grouping outside the subquery
-- idiom: UNION ALL of aggregated CTEs padded with 0 columns, SUM by campaign outside
-- legit
-- people: SELECT campaign, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product <> 'dsp' GROUP BY 1
WITH sa_reach AS (
  SELECT campaign, COUNT(user_key) AS reach
  FROM impressions
  WHERE ad_product <> 'dsp'
  GROUP BY 1
),
att_conv AS (
  SELECT k.campaign, SUM(c.conversions) AS conversions
  FROM conversions c
  JOIN clicks k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
  WHERE k.ad_product <> 'dsp'
  GROUP BY 1
)
SELECT
  campaign,
  SUM(reach) AS reach,
  SUM(conversions) AS converions
FROM (
  SELECT campaign, reach, 0 AS conversions FROM sa_reach
  UNION ALL
  SELECT campaign, 0 AS reach, conversions FROM att_conv
)
GROUP BY 1;

-- name: amcopt_display_stv_overlap
-- source: AMC SQL guide, "How to optimize AMC SQL queries", the Display / Streaming TV overlap query (its first form); Display = dsp_awareness, Streaming TV = sb_video
-- idiom: VALUES campaign lists UNION ALLed into categories, LEFT JOINed as a lookup, per-user CTEs, DISTINCT user lists INNER JOINed for the overlap, LEFT JOIN on user and campaign
-- legit
WITH display (campaign_id_string) AS (
  VALUES ('dsp_awareness')
),
stv (campaign_id_string) AS (
  VALUES ('sb_video')
),
combined AS (
  SELECT campaign_id_string, 'Display' AS campaign_category FROM display
  UNION ALL
  SELECT campaign_id_string, 'Streaming TV' AS campaign_category FROM stv
),
imp AS (
  SELECT i.user_key, i.campaign, cmb.campaign_category, SUM(impressions) AS impressions
  FROM impressions i
  LEFT JOIN combined cmb ON i.campaign = cmb.campaign_id_string
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2, 3
),
click AS (
  SELECT c.user_key, c.campaign, cmb.campaign_category, SUM(clicks) AS clicks
  FROM clicks c
  LEFT JOIN combined cmb ON c.campaign = cmb.campaign_id_string
  WHERE user_key IS NOT NULL
  GROUP BY 1, 2, 3
),
display_user AS (
  SELECT DISTINCT user_key FROM imp i WHERE campaign_category = 'Display'
),
stv_user AS (
  SELECT DISTINCT user_key FROM imp i WHERE campaign_category = 'Streaming TV'
),
combined_user AS (
  SELECT du.user_key
  FROM display_user du
  INNER JOIN stv_user su ON du.user_key = su.user_key
)
SELECT
  COUNT(DISTINCT i.user_key) AS reach,
  SUM(impressions) AS impressions,
  SUM(clicks) AS clicks
FROM imp i
INNER JOIN combined_user cu ON cu.user_key = i.user_key
LEFT JOIN click c ON i.user_key = c.user_key AND i.campaign = c.campaign;

-- name: amc_aggregation_threshold_by_region
-- source: AMC guide, "Aggregation thresholds" (the postal-code example; advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/aggregation-threshold); postal code as the store's region, purchases as items
-- idiom: one dimension, one SUM
-- legit
SELECT store_region AS postal_code, SUM(items) AS purchases
FROM retail_sales
GROUP BY 1;

-- name: amcpb_promotional_unique_reach
-- source: AMC playbook "Promotional events", the campaign reach query (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/promotional_events; github.com/idealerror/amazon-ads-api-docs); campaign_start_date / campaign_end_date (campaign metadata we do not have) dropped, ad_product kept
-- idiom: lower-case SQL, GROUP BY ordinals, COUNT(DISTINCT) per campaign
-- legit
-- people: column unique_reach
select campaign,
ad_product,
count(distinct user_key) as unique_reach
from impressions
group by 1,2;

-- name: amcpb_promotional_conversions_by_asin
-- source: AMC playbook "Promotional events", conversions by tracked ASIN for a CAMPAIGN_SCOPE list; amazon_attributed_events as conversions within 14 days after a click of the campaign
-- idiom: a VALUES campaign scope, a subquery over it INNER JOINed to attributed events on the campaign name
-- legit
-- people: SELECT c.product_category, COUNT(DISTINCT c.user_key) FROM conversions c JOIN clicks k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY WHERE k.campaign IN ('sp_brand_terms', 'sp_category', 'dsp_awareness', 'stv_pilot') GROUP BY 1
WITH CAMPAIGN_SCOPE (campaign_name) AS (
    VALUES
        ('sp_brand_terms'),
        ('sp_category'),
        ('dsp_awareness'),
        ('stv_pilot')
),
amazon_attributed_events AS (
    SELECT c.user_key, k.campaign, c.product_category AS tracked_asin, c.conversions
    FROM conversions c
    JOIN clicks k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
)
SELECT
    tracked_asin,
    SUM(conversions) AS conversions_by_asin
FROM
    amazon_attributed_events a
INNER JOIN
    (SELECT campaign_name FROM CAMPAIGN_SCOPE) S
    ON a.campaign = S.campaign_name
GROUP BY
    1;

-- name: amcpb_cart_abandoners_by_item
-- source: AMC playbook "Programmatic audience framework", "Find users who added to cart and did not purchase" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/programmatic_audience_framework); conversions_all as conversions, tracked_item as product_category, HAVING > 5000 as > 80
-- idiom: LEFT JOIN on user and item, WHERE p.user_id IS NULL (an anti-join), HAVING COUNT(DISTINCT)
-- legit
-- people: column distinct_users
WITH add_to_cart AS (
  SELECT user_key, product_category AS tracked_item
  FROM conversions
  WHERE event_type = 'add_to_cart'
),
purchase_users AS (
  SELECT user_key, product_category AS tracked_item
  FROM conversions
  WHERE event_type = 'purchase'
    AND revenue > 0
)
SELECT
  a.tracked_item,
  COUNT(DISTINCT a.user_key) AS distinct_users
FROM add_to_cart a
LEFT JOIN purchase_users p
  ON ((a.user_key = p.user_key) AND (a.tracked_item = p.tracked_item))
WHERE p.user_key IS NULL
GROUP BY 1
HAVING COUNT(DISTINCT a.user_key) > 80;

-- name: amcpb_first_party_overview
-- source: AMC playbook "Off-Amazon conversions", "Pre-swim lanes: First-party data overview" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/off-amazon-conversions); [1PD_Table] as conversions, [conversion_name] as event_type, the audience-size cut-offs 2500 / 1000 / 50000 as 500 / 200 / 10000
-- idiom: COUNT(1), SUM(CASE WHEN user_id IS NOT NULL THEN 1 ELSE 0 END), COUNT(DISTINCT) in a CTE; ratios and CASE flags on the CTE's counts outside
-- legit
-- people: SELECT event_type, COUNT(DISTINCT user_key) FROM conversions GROUP BY 1
WITH pre_calc AS (
SELECT
event_type AS conversion_name,
COUNT(1) as totalRecords,
SUM(CASE WHEN user_key is not null then 1 else 0 END) as ResolvedIDs,
COUNT(DISTINCT user_key) as UniqueResolvedIDs
FROM
conversions
GROUP BY 1)
SELECT
conversion_name,
totalRecords,
ResolvedIDs,
UniqueResolvedIDs,
ResolvedIDs / totalRecords as PercentResolved,
CASE WHEN UniqueResolvedIDs > 500 then 'Y' else 'N' END AS SufficientForRBA,
CASE WHEN UniqueResolvedIDs > 200 then 'Y' else 'N' END AS SufficientForLAL_min,
CASE WHEN UniqueResolvedIDs < 10000 then 'Y' else 'N' END AS SufficientForLAL_max
FROM pre_calc;

-- name: amcpb_most_common_device_conversions
-- source: AMC playbook "Off-Amazon conversions", "Geography" (each user's most frequent DMA and postal code by ROW_NUMBER, joined to first-party conversions); the DMA / postal code as the impression's device (a tie on frequency broken by the device, so both sides pick the same)
-- idiom: per-user frequency per dimension, ROW_NUMBER() OVER (PARTITION BY user ORDER BY frequency DESC) = 1, per-user COUNT(user_id), SUM and COUNT(DISTINCT) by conversion and device
-- legit
-- people: SELECT conversion_name, dma_code, COUNT(DISTINCT g.user_key) FROM (SELECT user_key, device AS dma_code FROM (SELECT user_key, device, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY SUM(impressions) DESC, device) AS r FROM impressions GROUP BY 1, 2) WHERE r = 1) g JOIN (SELECT DISTINCT user_key, event_type AS conversion_name FROM conversions) c ON g.user_key = c.user_key GROUP BY 1, 2
WITH user_geo AS (
SELECT
user_key,
device AS dma_code,
sum(impressions) as frequency
FROM
impressions
GROUP BY 1,2
)
, ranking AS (
SELECT
user_key,
dma_code,
frequency,
ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY frequency DESC, dma_code) as geo_rank
FROM user_geo
)
, users_most_common_geo AS (
SELECT
user_key,
dma_code
FROM ranking
WHERE geo_rank = 1
),
unique_conversions AS (
SELECT
user_key,
event_type AS conversion_name,
COUNT(user_key) as totalConversions
FROM
conversions
GROUP BY 1,2
)
SELECT
conversion_name,
dma_code,
SUM(totalConversions) as totalConversions,
COUNT(DISTINCT g.user_key) as distinctUsers
FROM
users_most_common_geo g
INNER JOIN unique_conversions c
on g.user_key = c.user_key
GROUP BY
1,2;

-- name: amcpb_optimal_frequency_by_ad_format
-- source: AMC playbook "Optimal frequency analysis", "Query to measure an aggregate metric" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/optimal-frequency-analysis); dsp_impressions / sponsored_ads_traffic as impressions by ad_product, dsp_clicks as clicks, amazon_attributed_events' purchase, add-to-cart and detail-page columns as IF(event_type = ..., conversions, 0); the pixel and off-Amazon columns (0 or a copy of these) left out
-- idiom: per-user UNION ALL of every source padded with 0 columns, IF(SUM(impressions) > 0, SUM(impressions), 0) as the frequency bucket, COUNT(user_id) of the per-user rows as the users in the bucket
-- legit
-- currently: refused not_summable (the UNION ALL's cost column takes impressions' cost in [0, 0.2] in some branches and clicks' in [0, 0.05] in others: different scales, which the gate refuses as magnitude packing; and a per-user SUM of SUM(IF(event_type = ..., conversions, 0)) beside 0 branches has no known range)
-- people: SELECT f, COUNT(*) FROM (SELECT user_key, SUM(imp) AS f FROM (SELECT user_key, impressions AS imp FROM impressions UNION ALL SELECT user_key, 0 FROM clicks UNION ALL SELECT user_key, 0 FROM conversions) GROUP BY 1) GROUP BY 1
WITH
events AS (
  SELECT user_key, SUM(impressions) as impressions, 0 AS clicks, 0 AS purchases, 0 AS units_sold,
    0 AS product_sales, 0 AS add_to_cart, 0 AS detail_page_view, SUM(cost / 100) as total_cost
  FROM impressions
  WHERE ad_product = 'dsp'
  GROUP BY 1
  UNION ALL
  SELECT user_key, 0 AS impressions, SUM(clicks) AS clicks, 0 AS purchases, 0 AS units_sold,
    0 AS product_sales, 0 AS add_to_cart, 0 AS detail_page_view, 0 as total_cost
  FROM clicks
  WHERE ad_product = 'dsp'
  GROUP BY 1
  UNION ALL
  SELECT user_key, SUM(impressions) as impressions, 0 AS clicks, 0 AS purchases, 0 AS units_sold,
    0 AS product_sales, 0 AS add_to_cart, 0 AS detail_page_view, SUM(cost / 100) as total_cost
  FROM impressions
  WHERE ad_product <> 'dsp'
  group by 1
  UNION ALL
  SELECT user_key, 0 AS impressions, SUM(clicks) AS clicks, 0 AS purchases, 0 AS units_sold,
    0 AS product_sales, 0 AS add_to_cart, 0 AS detail_page_view, SUM(cost / 100) as total_cost
  FROM clicks
  WHERE ad_product <> 'dsp'
  group by 1
  UNION ALL
  SELECT user_key, 0 AS impressions, 0 as clicks,
    SUM(IF(event_type = 'purchase', conversions, 0)) as purchases,
    SUM(units) as units_sold,
    SUM(revenue) as product_sales,
    SUM(IF(event_type = 'add_to_cart', conversions, 0)) as add_to_cart,
    SUM(IF(event_type = 'detail_page_view', conversions, 0)) AS detail_page_view,
    0 as total_cost
  FROM conversions
  group by 1
),
events_by_user AS (
  SELECT
    user_key,
    IF(SUM(impressions) > 0, SUM(impressions), 0) AS impressions,
    IF(SUM(impressions) > 0, SUM(impressions), 0) AS frequency,
    SUM(clicks) as clicks,
    SUM(purchases) AS purchases,
    SUM(units_sold) AS units_sold,
    SUM(product_sales) AS product_sales,
    SUM(add_to_cart) AS add_to_cart,
    SUM(detail_page_view) AS detail_page_view,
    SUM(total_cost) as cost
  FROM events
  GROUP BY 1
),
frequency_by_user AS (
  SELECT impressions, frequency AS frequency_bucket, clicks, purchases, units_sold, product_sales,
    add_to_cart, detail_page_view, cost, user_key
  FROM events_by_user
  WHERE user_key IS NOT NULL
)
SELECT
  frequency_bucket,
  SUM(clicks) AS clicks,
  SUM(purchases) AS purchases,
  SUM(units_sold) AS units_sold,
  SUM(product_sales) AS product_sales,
  SUM(add_to_cart) AS add_to_cart,
  SUM(detail_page_view) AS detail_page_view,
  COUNT(user_key) AS users_in_bucket,
  SUM(impressions) AS impressions_in_bucket,
  SUM(cost) AS cost
FROM frequency_by_user
GROUP BY 1;

-- name: amcpb_cltv_ratio_to_everyone
-- source: AMC playbook "Customer lifetime value" (CLTV), the per-ASIN lifetime and value scores (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/CLTV); conversions_all as conversions (order = purchase, tracked_asin = product_category), spend from impressions and clicks, SECONDS_BETWEEN as date_diff('second', ...)
-- idiom: each person's value divided by avg(value) OVER () (everyone's average) in a CTE, then averaged per ASIN
-- refuse: cross_user_window
-- why: avg(...) OVER () runs over every person of the CTE, the people of groups the release later suppresses included: with the released groups' own averages (another query) it gives the suppressed people's total; the hint names the rewrite, aggregating first and windowing over the aggregates
With user_ntb_cte AS (
    SELECT user_key, tracked_asin, total_sales, total_units_sold, conversion_frequency, min_date, max_date,
       round(date_diff('second', min_date, max_date) / 60 / 60 / 24 / 30) as cust_lifetime
    from (
            SELECT user_key, product_category AS tracked_asin,
               sum(revenue) as total_sales, sum(units) as total_units_sold, sum(conversions) as conversion_frequency,
               min(case when event_type = 'purchase' then ts else null end) as min_date,
               max(case when event_type = 'purchase' then ts else null end) as max_date
            from conversions
            where event_type = 'purchase' and user_key is not null
            group by 1, 2
    )
    where user_key is not null
),
user_lifetime AS (
    SELECT ntb.user_key, ntb.tracked_asin, ntb.total_sales, ntb.total_units_sold, ntb.conversion_frequency, ntb.cust_lifetime,
      ntb.total_units_sold / (avg(ntb.total_units_sold) OVER ()) as purchase_quantity_ratio,
      ntb.conversion_frequency / (avg(ntb.conversion_frequency) OVER ()) as purchase_frequency_ratio
    FROM user_ntb_cte ntb
),
user_cost_cte AS (
    SELECT user_key, sum(dsp_spend) AS dsp_spend, sum(sponsored_spend) as sponsored_spend, sum(total_spend) as total_spend
    FROM (
        SELECT user_key, 0 as dsp_spend, sum(cost) / 100 as sponsored_spend, sum(cost) / 100 as total_spend
        from clicks where clicks > 0 group by 1
    UNION ALL
        SELECT user_key, sum(cost) / 100 as dsp_spend, 0 as sponsored_spend, sum(cost) / 100 as total_spend
        from impressions where impressions > 0 and ad_product = 'dsp' group by 1
    )
    group by 1
)
SELECT
    r.tracked_asin,
    avg(r.purchase_frequency_ratio) as avg_purchase_frequency_ratio,
    avg(r.purchase_quantity_ratio) as avg_purchase_quantity_ratio,
    avg(r.total_sales) as total_sales,
    sum(r.total_units_sold) as total_units_sold,
    sum(c.dsp_spend) as dsp_spend,
    sum(c.sponsored_spend) as sponsored_spend
FROM user_lifetime r
LEFT JOIN user_cost_cte c ON c.user_key = r.user_key
group by 1;

-- name: amcpb_media_performance_weekly
-- source: AMC playbook "Media performance optimization", the weekly traffic and conversion events query (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/media_performance_optimization); amazon_attributed_events_by_traffic_time as conversions within 14 days after a click (its traffic time the click's), sponsored_ads_traffic / dsp_impressions as impressions by ad_product, winning_bid_cost as the DSP cost, advertiser a constant
-- idiom: UNION ALL of event sources without the user column, CASE WHEN ad_product_type IS NULL THEN 'dsp', extract(week FROM date), min(date) per week, avg and sum by week, product and campaign
-- legit
-- people: SELECT extract(week FROM ts), 'brand', ad_product, campaign, COUNT(DISTINCT user_key) FROM impressions GROUP BY 1, 2, 3, 4
with traffic_and_conversion_events as (
    select
        k.ts as dim_date,
        'brand' as advertiser,
        case when k.ad_product is null then 'dsp' else k.ad_product end as ad_product_type,
        k.campaign,
        0 as impressions,
        0 as clicks,
        if(c.event_type = 'purchase', c.conversions, 0) as purchases,
        c.units as units_sold,
        c.revenue as product_sales,
        if(c.event_type = 'add_to_cart', c.conversions, 0) as add_to_cart,
        if(c.event_type = 'detail_page_view', c.conversions, 0) as detail_page_view,
        0 as winning_bid_cost,
        0 as cost
    from conversions c
    join clicks k on c.user_key = k.user_key and c.ts between k.ts and k.ts + interval 14 day
    union all
    select
        ts as dim_date,
        'brand' as advertiser,
        case when ad_product is null then 'dsp' else ad_product end as ad_product_type,
        campaign,
        impressions as impressions,
        0 as clicks,
        0 as purchases,
        0 as units_sold,
        0 as product_sales,
        0 as add_to_cart,
        0 as detail_page_view,
        0 as winning_bid_cost,
        cost / 100 as cost
    from impressions
    where ad_product <> 'dsp'
    union all
    select
        ts as dim_date,
        'brand' as advertiser,
        'dsp' as ad_product_type,
        campaign,
        impressions,
        0 as clicks,
        0 as purchases,
        0 as units_sold,
        0 as product_sales,
        0 as add_to_cart,
        0 as detail_page_view,
        cost / 100 as winning_bid_cost,
        cost / 100 as cost
    from impressions
    where ad_product = 'dsp'
)
select
    extract(week from dim_date) as week,
    advertiser,
    ad_product_type,
    campaign,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(purchases) as purchases,
    sum(units_sold) as units_sold,
    sum(product_sales) as product_sales,
    sum(add_to_cart) as add_to_cart,
    sum(detail_page_view) as detail_page_view,
    avg(winning_bid_cost) as winning_bid_cost,
    sum(cost) as cost
from traffic_and_conversion_events
where dim_date is not null
group by
    week,
    ad_product_type,
    advertiser,
    campaign;

-- name: amcpb_first_touch_campaign_measurement
-- source: AMC playbook "Off-Amazon conversions", "Campaign measurement" (first touch; advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/off-amazon-conversions); dsp_campaigns as the DSP campaigns, [1PD_Table] as the brand's purchases and sign-ups, UUID() as conversion_id becoming (user_key, ts), the 60-day window kept
-- idiom: UNION ALL of impressions and clicks as 'IMP' / 'CLICK' events, a CASE match type and SECONDS_BETWEEN age, ROW_NUMBER per conversion ORDER BY match_type, match_age DESC, two campaign-level CTEs joined on campaign, ratios of their counts
-- legit
-- people: column unique_purchasing_users
WITH dsp_events AS (
  SELECT user_key, campaign, ts AS event_dt, 'IMP' AS event_type, impressions, cost AS total_cost, 0 AS clicks, 0 AS conversions
  FROM impressions
  WHERE user_key IS NOT NULL AND ad_product = 'dsp'
  UNION ALL
  SELECT user_key, campaign, ts AS event_dt, 'CLICK' AS event_type, 0 AS impressions, 0 AS total_cost, clicks, 0 AS conversions
  FROM clicks
  WHERE user_key IS NOT NULL AND ad_product = 'dsp'
),
fpd_conversions AS (
  SELECT user_key, CAST(ts AS TIMESTAMP) AS event_dt, 1 AS number_of_conversions
  FROM conversions
  WHERE user_key IS NOT NULL AND event_type IN ('purchase', 'sign_up')
),
matched_conversion_events AS (
  SELECT
    fpd.user_key,
    fpd.event_dt AS conversion_dt,
    d.campaign,
    CASE WHEN d.event_type = 'CLICK' THEN 1 WHEN d.event_type = 'IMP' THEN 2 ELSE 3 END AS match_type,
    date_diff('second', d.event_dt, fpd.event_dt) AS match_age,
    fpd.number_of_conversions,
    IF(d.event_type = 'CLICK', 1, 0) AS conversion_click_event,
    IF(d.event_type = 'IMP', 1, 0) AS conversion_impression_event
  FROM fpd_conversions fpd
  JOIN dsp_events d ON fpd.user_key = d.user_key
),
ranked_conversion_event AS (
  SELECT
    user_key,
    campaign,
    ROW_NUMBER() OVER (PARTITION BY user_key, conversion_dt ORDER BY match_type ASC, match_age DESC, campaign) AS match_rank,
    number_of_conversions,
    conversion_click_event,
    conversion_impression_event
  FROM matched_conversion_events
  WHERE match_age BETWEEN 0 AND 60 * 24 * 60 * 60
),
attributed_conversion_event AS (
  SELECT
    campaign,
    COUNT(DISTINCT user_key) AS unique_purchasing_users,
    SUM(number_of_conversions) AS number_of_conversions,
    SUM(conversion_click_event) AS conversion_click_event,
    SUM(conversion_impression_event) AS conversion_impression_event
  FROM ranked_conversion_event
  WHERE match_rank = 1
  GROUP BY 1
),
dsp_traffic_and_conversions AS (
  SELECT
    campaign,
    COUNT(DISTINCT user_key) unique_reach,
    SUM(total_cost) / 100 AS total_spend,
    SUM(impressions) AS impressions,
    SUM(clicks) AS clicks,
    SUM(conversions) AS pixel_conversions
  FROM dsp_events
  GROUP BY 1
)
SELECT
  'First Touch' AS attribution_model,
  d.campaign,
  d.impressions,
  d.clicks,
  d.total_spend,
  d.unique_reach,
  v.unique_purchasing_users,
  v.number_of_conversions,
  v.conversion_click_event,
  v.conversion_impression_event,
  v.unique_purchasing_users / d.unique_reach AS conversions_rate,
  d.total_spend / v.number_of_conversions AS spend_per_conversion
FROM attributed_conversion_event v
JOIN dsp_traffic_and_conversions d ON v.campaign = d.campaign;

-- name: adhbi_retail_affinity
-- source: github.com/google/ads-bi-suite sql/adh_retail_calc_affinity.sql (UNNEST(affinity) as the brand's CRM segments joined on the person, adh.affinity's category as a constant lookup, adgroup as campaign, conversions as the brand's purchases; the temp tables as CTEs)
-- idiom: per-user impression, click and conversion CTEs, COUNT(DISTINCT user_id) per user summed later as unique users, a per-user delivery CTE of LEFT JOINs USING (user_id), per-user rows LEFT JOINed on user_id and SUMmed by ad group and audience
-- legit
-- people: SELECT i.campaign, a.name, a.category, COUNT(DISTINCT i.user_key) FROM impressions i JOIN segments s ON s.user_key = i.user_key JOIN (VALUES ('sports_fans', 'Sports Fans', 'Sports & Fitness'), ('parents', 'Parents', 'Family'), ('tech_enthusiasts', 'Technophiles', 'Technology'), ('foodies', 'Foodies', 'Food & Dining'), ('travelers', 'Travel Buffs', 'Travel'), ('luxury_shoppers', 'Luxury Shoppers', 'Shoppers')) a(id, name, category) ON a.id = s.segment GROUP BY 1, 2, 3
WITH affinity (affinity_id, affinity_name, affinity_category) AS (
  VALUES ('sports_fans', 'Sports Fans', 'Sports & Fitness'), ('parents', 'Parents', 'Family'),
         ('tech_enthusiasts', 'Technophiles', 'Technology'), ('foodies', 'Foodies', 'Food & Dining'),
         ('travelers', 'Travel Buffs', 'Travel'), ('luxury_shoppers', 'Luxury Shoppers', 'Shoppers')
),
imp_status AS (
  SELECT imp.user_key, s.segment AS affinity_id, imp.campaign AS adgroup_id,
    count(*) AS imps, sum(imp.cost) as imp_cost
  FROM impressions imp
  JOIN segments s ON s.user_key = imp.user_key
  WHERE imp.user_key IS NOT NULL AND s.segment IS NOT NULL
  GROUP BY 1, 2, 3
),
click_status AS (
  SELECT ck.user_key, COUNT(*) AS clks, COUNT(distinct user_key) as clk_uniques, sum(cost) AS click_cost
  FROM clicks ck
  WHERE ck.user_key IS NOT NULL
  GROUP BY 1
),
conversion AS (
  SELECT user_key, count(ts) AS convs
  FROM conversions
  WHERE user_key IS NOT NULL AND event_type IN ('purchase')
  GROUP BY 1
),
user_aff AS (
  SELECT user_key, adgroup_id, affinity_name, affinity_category
  FROM imp_status
  LEFT JOIN affinity USING (affinity_id)
),
user_delivery AS (
  SELECT
    b.user_key,
    SUM(uniques) AS unique_users,
    SUM(clk_uniques) AS clk_unique_users,
    SUM(imps) AS impressions,
    SUM(clks) AS clicks,
    SUM(convs) AS convs_sum,
    SUM(click_cost) AS click_cost_sum,
    SUM(imp_cost) AS imp_cost_sum
  FROM (
    SELECT imp.user_key, COUNT(DISTINCT imp.user_key) as uniques, COUNT(*) AS imps, SUM(cost) as imp_cost
    FROM impressions imp
    WHERE imp.user_key IS NOT NULL
    GROUP BY 1
    ) b
  LEFT JOIN click_status USING (user_key)
  LEFT JOIN conversion USING (user_key)
  GROUP BY 1
)
SELECT
adgroup_id,
affinity_name as audience_name,
affinity_category as audience_category,
'Affinity' as type,
SUM(impressions) AS impressions,
SUM(clicks) AS clicks,
SUM(unique_users) AS unique_users,
SUM(clk_unique_users) AS clk_unique_users,
SUM(convs_sum) AS convs_sum_users,
SUM(click_cost_sum) AS click_cost_sum_users,
SUM(imp_cost_sum) AS imp_cost_sum_users
FROM user_aff t
LEFT JOIN user_delivery c3 ON t.user_key = c3.user_key
GROUP BY 1,2,3;

-- name: adhbi_video_asset_last_impression
-- source: github.com/google/ads-bi-suite sql/adh_bi_calc_video_asset.sql (device_id as user_key, app and inventory as ad_product, the YouTube video as the creative, the app's BI table as the brand's per-person first conversion and revenue within 2 / 7 / 30 days of it; UNIX_MICROS(TIMESTAMP(install_date)) >= query_time as epoch_us)
-- idiom: ROW_NUMBER() OVER (PARTITION BY device, app ORDER BY time DESC) = 1 in a subquery, SELECT * of it, INNER JOIN USING (device, app) to a per-device table, SUM(IFNULL(x, 0)) by video, campaign and inventory
-- legit
-- people: column users
WITH user_last_impr AS (
  SELECT *
  FROM (
      SELECT impr.user_key, impr.campaign, impr.ad_product AS app_id, impr.ad_product AS inventory,
        impr.creative AS video_id, impr.ts AS query_time,
        ROW_NUMBER() OVER (PARTITION BY impr.user_key, impr.ad_product ORDER BY impr.ts DESC) AS rank
      FROM impressions impr
      WHERE impr.creative IS NOT NULL AND impr.user_key IS NOT NULL
    )
  WHERE rank = 1
),
first_conversion AS (
  SELECT user_key, MIN(ts) AS install_date FROM conversions GROUP BY user_key
),
bi AS (
  SELECT c.user_key, f.install_date,
    MAX(CASE WHEN c.ts < f.install_date + INTERVAL 2 DAY AND c.ts > f.install_date THEN 1 ELSE 0 END) AS day2_retention,
    MAX(CASE WHEN c.ts < f.install_date + INTERVAL 7 DAY AND c.ts > f.install_date THEN 1 ELSE 0 END) AS day7_retention,
    MAX(CASE WHEN c.ts < f.install_date + INTERVAL 30 DAY AND c.ts > f.install_date THEN 1 ELSE 0 END) AS day30_retention,
    SUM(CASE WHEN c.ts < f.install_date + INTERVAL 2 DAY THEN c.revenue ELSE 0 END) AS day2_revenue,
    SUM(CASE WHEN c.ts < f.install_date + INTERVAL 7 DAY THEN c.revenue ELSE 0 END) AS day7_revenue,
    SUM(CASE WHEN c.ts < f.install_date + INTERVAL 30 DAY THEN c.revenue ELSE 0 END) AS day30_revenue
  FROM conversions c
  JOIN first_conversion f ON f.user_key = c.user_key
  GROUP BY c.user_key, f.install_date
)
SELECT
  base.video_id,
  base.campaign,
  base.inventory,
  COUNT(distinct user_key) AS users,
  SUM(IFNULL(day2_retention, 0)) AS day2_retention,
  SUM(IFNULL(day7_retention, 0)) AS day7_retention,
  SUM(IFNULL(day30_retention, 0)) AS day30_retention,
  SUM(IFNULL(day2_revenue, 0)) AS day2_revenue,
  SUM(IFNULL(day7_revenue, 0)) AS day7_revenue,
  SUM(IFNULL(day30_revenue, 0)) AS day30_revenue
FROM user_last_impr base
INNER JOIN bi USING (user_key)
WHERE epoch_us(install_date) >= epoch_us(query_time)
GROUP BY 1, 2, 3;

-- name: adhbi_demographics_retention
-- source: github.com/google/ads-bi-suite sql/adh_bi_calc_demo.sql (gender / age group from the impression as the CRM's region and age band (two bands) joined on the person, device_id as user_key, app as DSP or sponsored ads, the BI table as the brand's per-person first conversion and revenue within 7 days of it)
-- idiom: a per-impression demographic CTE (no aggregation, repeated rows per person), INNER JOIN USING (device_id, app_id) to a per-device table, COUNT(distinct device_id) and SUM(IFNULL(x, 0)) by demographics
-- legit
-- people: column users
WITH demo AS (
  SELECT impr.user_key, CASE WHEN impr.ad_product = 'dsp' THEN 'dsp' ELSE 'sponsored' END AS app_id, s.region AS gender_name,
    CASE WHEN s.age_band IN ('18-24', '25-34') THEN 'under 35' ELSE '35+' END AS age_group_name, impr.ts AS query_time
  FROM impressions impr
  LEFT JOIN (SELECT DISTINCT user_key, region, age_band FROM segments) s ON s.user_key = impr.user_key
  WHERE impr.user_key IS NOT NULL
),
bi AS (
  SELECT user_key, CASE WHEN ad_product = 'dsp' THEN 'dsp' ELSE 'sponsored' END AS app_id, 'new' AS user_type, 'web' AS platform,
    MIN(ts) AS install_date, 1 AS day7_retention, 0 AS day7_revenue
  FROM clicks
  GROUP BY user_key, 2
)
SELECT
  user_type,
  app_id,
  platform,
  gender_name,
  age_group_name,
  COUNT(distinct user_key) AS users,
  SUM(IFNULL(day7_retention, 0)) AS day7_retention,
  SUM(IFNULL(day7_revenue, 0)) AS day7_revenue
FROM bi
INNER JOIN demo USING (user_key, app_id)
WHERE epoch_us(install_date) >= epoch_us(query_time)
GROUP BY 1, 2, 3, 4, 5;

-- name: amcpb_segment_overlap_conversions
-- source: AMC playbook "Off-Amazon conversions", "Overlap analysis using ASI" (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/playbooks/off-amazon-conversions); audience_segments_amer_inmarket / _lifestyle as the brand's CRM segments (two DISTINCT lists UNION ALLed: the segment and the loyalty tier), [1PD_Table] as the brand's conversions, DSP money / 1e5 as / 100
-- idiom: per-user DSP UNION ALL re-aggregated per user, DISTINCT segment lists UNION ALLed, exposed users per segment from a DISTINCT subquery, a segment-level count joined back to person-level rows on the segment, ratios of the sums
-- legit
-- people: SELECT c.event_type, s.segment_name, COUNT(DISTINCT c.user_key) FROM conversions c JOIN (SELECT segment AS segment_name, user_key FROM segments UNION ALL SELECT 'tier_' || loyalty_tier, user_key FROM segments) s ON s.user_key = c.user_key WHERE c.event_type IN ('purchase', 'sign_up') GROUP BY 1, 2
WITH conv AS (
  SELECT user_key, event_type as conversion_name, SUM(1) as totalConversions
  FROM conversions
  WHERE event_type IN ('purchase', 'sign_up')
  GROUP BY 1, 2
),
dsp_events AS (
  SELECT user_key, SUM(impressions) as totalImpressions, 0 as totalClicks, SUM(cost) / 100 as totalCost
  FROM impressions
  WHERE user_key IS NOT NULL AND ad_product = 'dsp'
  GROUP BY 1
  UNION ALL
  SELECT user_key, 0 as totalImpressions, SUM(clicks) as totalClicks, 0 as totalCost
  FROM clicks
  WHERE user_key IS NOT NULL AND ad_product = 'dsp'
  GROUP BY 1
),
dsp_events_agg AS (
  SELECT user_key, SUM(totalClicks) as totalClicks, SUM(totalImpressions) as totalImpressions, SUM(totalCost) as totalCost
  FROM dsp_events
  GROUP BY 1
),
segments_all AS (
  SELECT DISTINCT segment AS segment_name, user_key FROM segments
  UNION ALL
  SELECT DISTINCT 'tier_' || loyalty_tier AS segment_name, user_key FROM segments
),
ad_exposed_users_per_segment AS (
  SELECT segment_name, COUNT(DISTINCT s.user_key) as totalAdExposedUsersPerSegment
  FROM segments_all s
  INNER JOIN (select distinct user_key from dsp_events_agg) d ON s.user_key = d.user_key
  GROUP BY 1
),
conv_seg AS (
  SELECT c.user_key, c.conversion_name, s.segment_name, totalConversions
  FROM conv c
  inner join segments_all s ON c.user_key = s.user_key
),
aggregate AS (
  SELECT
    a.conversion_name,
    a.segment_name,
    p.totalAdExposedUsersPerSegment,
    COUNT(distinct a.user_key) as distinctUsers,
    SUM(a.totalConversions) as totalConversions,
    SUM(d.totalImpressions) as totalImpressions,
    SUM(d.totalClicks) as totalClicks,
    SUM(d.totalCost) as totalCost
  FROM conv_seg a
  LEFT JOIN dsp_events_agg d ON a.user_key = d.user_key
  INNER JOIN ad_exposed_users_per_segment p ON a.segment_name = p.segment_name
  GROUP BY 1, 2, 3
)
SELECT
  conversion_name,
  segment_name,
  totalAdExposedUsersPerSegment,
  distinctUsers,
  totalConversions,
  totalImpressions,
  totalClicks,
  totalCost,
  totalCost / totalClicks as costPerClick,
  distinctUsers / totalAdExposedUsersPerSegment as conversionRate,
  totalCost / totalConversions as costPerConversion
FROM aggregate;

-- name: amcopt_campaign_scope_ecpm
-- source: AMC SQL guide, "How to optimize AMC SQL queries", the campaigns_scope / eCPM query (its optimized form); amazon_attributed_events_by_traffic_time as purchases within 14 days after a click, dsp_impressions / sponsored_ads_traffic as impressions by ad_product, campaign_id_string as campaign
-- idiom: a VALUES scope with a numeric eCPM, CAST(ecpm AS DECIMAL(6, 3)) in IF inside SUM, COUNT(user_id) and MAX(IF(new_to_brand, 1, 0)) per campaign in a CTE, campaign-level CTEs LEFT JOINed on the campaign
-- refuse: member_aggregate
-- why: MAX(IF(new_to_brand = TRUE, 1, 0)) across people in a CTE says whether any one person of the campaign's rows is new to brand (an existence test that one person decides); the hint names the rewrite, COUNT or SUM across people (a SUM of the 0/1 indicator, next entry)
WITH campaigns_scope (campaign_group, campaign_id_string, ecpm) AS (
  VALUES ('A', 'dsp_awareness', 1.5), ('B', 'sp_brand_terms', 0), ('C', 'sp_category', 0)
),
conversions_purchase AS (
  SELECT
    k.campaign AS campaign_id_string,
    c.new_to_brand AS ntb_flag,
    COUNT(c.user_key) user_id,
    MAX(IF(c.new_to_brand = TRUE, 1, 0)) AS ntb_purchaser,
    SUM(c.conversions) AS total_purchases,
    SUM(c.revenue) AS total_product_sales
  FROM conversions AS c
  JOIN clicks k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
  WHERE c.user_key IS NOT NULL AND c.revenue > 0
    AND k.campaign IN (SELECT campaign_id_string FROM campaigns_scope)
  GROUP BY 1, 2
),
impressions_spend AS (
  SELECT
    i.campaign AS campaign_id_string,
    d.campaign_group,
    COUNT(DISTINCT i.user_key) user_id,
    SUM(i.impressions) AS impressions,
    SUM(IF(CAST(d.ecpm AS DECIMAL(6, 3)) > 0, CAST(d.ecpm AS DECIMAL(6, 3)) / 1000 * i.impressions, i.cost / 100)) AS cost
  FROM impressions AS i
  JOIN campaigns_scope AS d ON i.campaign = d.campaign_id_string
  WHERE i.user_key IS NOT NULL
  GROUP BY 1, 2
)
SELECT
  a.campaign_id_string,
  a.campaign_group,
  SUM(a.impressions) AS impressions,
  SUM(a.cost) AS cost,
  SUM(b.user_id) AS total_purchasers,
  SUM(b.total_purchases) AS total_purchases,
  SUM(b.total_product_sales) AS total_Sales,
  SUM(b.ntb_purchaser) AS ntb_purchasers
FROM impressions_spend a
LEFT JOIN conversions_purchase b ON a.campaign_id_string = b.campaign_id_string
GROUP BY 1, 2;

-- name: amcopt_campaign_scope_ecpm_rewrite
-- source: AMC SQL guide, "How to optimize AMC SQL queries", the campaigns_scope / eCPM query, with the rewrite the refusal above names: SUM(IF(new_to_brand, 1, 0)) (the new-to-brand purchase rows) for MAX(IF(...))
-- idiom: as above, the indicator summed across people
-- legit
-- people: SELECT campaign, CASE campaign WHEN 'dsp_awareness' THEN 'A' WHEN 'sp_brand_terms' THEN 'B' ELSE 'C' END, COUNT(DISTINCT user_key) FROM impressions WHERE campaign IN ('dsp_awareness', 'sp_brand_terms', 'sp_category') GROUP BY 1, 2
WITH campaigns_scope (campaign_group, campaign_id_string, ecpm) AS (
  VALUES ('A', 'dsp_awareness', 1.5), ('B', 'sp_brand_terms', 0), ('C', 'sp_category', 0)
),
conversions_purchase AS (
  SELECT
    k.campaign AS campaign_id_string,
    c.new_to_brand AS ntb_flag,
    COUNT(c.user_key) user_id,
    SUM(IF(c.new_to_brand = TRUE, 1, 0)) AS ntb_purchaser,
    SUM(c.conversions) AS total_purchases,
    SUM(c.revenue) AS total_product_sales
  FROM conversions AS c
  JOIN clicks k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
  WHERE c.user_key IS NOT NULL AND c.revenue > 0
    AND k.campaign IN (SELECT campaign_id_string FROM campaigns_scope)
  GROUP BY 1, 2
),
impressions_spend AS (
  SELECT
    i.campaign AS campaign_id_string,
    d.campaign_group,
    COUNT(DISTINCT i.user_key) user_id,
    SUM(i.impressions) AS impressions,
    SUM(IF(CAST(d.ecpm AS DECIMAL(6, 3)) > 0, CAST(d.ecpm AS DECIMAL(6, 3)) / 1000 * i.impressions, i.cost / 100)) AS cost
  FROM impressions AS i
  JOIN campaigns_scope AS d ON i.campaign = d.campaign_id_string
  WHERE i.user_key IS NOT NULL
  GROUP BY 1, 2
)
SELECT
  a.campaign_id_string,
  a.campaign_group,
  SUM(a.impressions) AS impressions,
  SUM(a.cost) AS cost,
  SUM(b.user_id) AS total_purchasers,
  SUM(b.total_purchases) AS total_purchases,
  SUM(b.total_product_sales) AS total_Sales,
  SUM(b.ntb_purchaser) AS ntb_purchasers
FROM impressions_spend a
LEFT JOIN conversions_purchase b ON a.campaign_id_string = b.campaign_id_string
GROUP BY 1, 2;

-- Added for issue 8 point 2: more published clean-room SQL from Snowflake's Data Clean Room
-- templates and native clean-room quickstart, Ads Data Hub's sample queries, an agency's ADH
-- starter queries and AWS Clean Rooms' documented query structure. Mapping as above.

-- name: snowflake_dcr_customer_overlap_waterfall
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/media-and-advertising/provider_templates.sql (template customer_overlap_waterfall)
-- idiom: explicit JOIN whose ON is a parenthesised OR of two identity matches (email or phone) ANDed with the where_clause, HAVING count(distinct key) > 25, ORDER BY the count DESC
-- legit
-- people: column overlap
-- why: rendered with dimensions c.store_region, p.age_band and where_clause c.category <> 'home'; provider_customers_vw becomes segments, the consumer table retail_sales; email and phone are both the one pseudonym here, so each OR arm matches the user_key; at(timestamp) and the information_schema check are dropped
SELECT c.store_region, p.age_band, count(DISTINCT p.user_key) AS overlap
FROM segments p
JOIN retail_sales c
ON (
      c.user_key = p.user_key
      OR c.user_key = p.user_key
    )
    AND ( c.category <> 'home' )
GROUP BY c.store_region, p.age_band
HAVING count(DISTINCT p.user_key) > 25
ORDER BY count(DISTINCT p.user_key) DESC;

-- name: snowflake_dcr_campaign_conversion_consumer_dimensions
-- source: github.com/Snowflake-Labs/sfquickstart-data-clean-room data-clean-room/provider_templates.sql (template campaign_conversion, rendered with dimensions c.store_region, p_exp.device_type)
-- idiom: the template's outer SELECT re-selects each dimension by its bare name (d[1] of the split) from the aggregated CTE; comma joins mixed with JOIN ... ON
-- legit
-- people: column bought_after_exposure
-- why: provider_data becomes segments, provider_exposure_data ctv_exposures, the consumer's customer and conversions tables retail_sales and conversions
WITH actual_result AS (
  SELECT c.store_region, p_exp.device_type, count(DISTINCT p.user_key) AS conversion_count
  FROM segments p, ctv_exposures p_exp, retail_sales c
  JOIN conversions c_conv ON c.user_key = c_conv.user_key
  WHERE (c.user_key = p.user_key)
    AND p.user_key = p_exp.user_key
  GROUP BY c.store_region, p_exp.device_type
  HAVING count(DISTINCT p.user_key) > 25
  ORDER BY count(DISTINCT p.user_key) DESC
)
SELECT store_region, device_type, conversion_count AS bought_after_exposure
FROM actual_result;

-- name: snowflake_native_dcr_count_by_zip
-- source: github.com/Snowflake-Labs/sfguides site/sfguides/src/create_a_native_data_clean_room (the consumer's test query "SELECT ZIP_CODE, count(*) FROM ...VISITORS GROUP BY 1")
-- idiom: one dimension and count(*) GROUP BY 1 on a table under an aggregation policy (min_group_size)
-- legit
-- people: SELECT region, COUNT(DISTINCT user_key) FROM segments GROUP BY 1
SELECT region, count(*)
FROM segments
GROUP BY 1;

-- name: snowflake_native_dcr_overlap_group_by_all
-- source: github.com/Snowflake-Labs/sfguides site/sfguides/src/create_a_native_data_clean_room ("SELECT count(*) FROM VISITORS v INNER JOIN ...CUSTOMERS c ON c.email = v.email GROUP BY ALL")
-- idiom: GROUP BY ALL with no grouping column (one row), INNER JOIN of the two parties on the identifier
-- legit
-- why: VISITORS becomes ctv_exposures' viewers (one row per viewer, as the visitors table), CUSTOMERS the brand's segments (one row per customer: the loyalty segment)
WITH visitors AS (SELECT DISTINCT user_key FROM ctv_exposures)
SELECT count(*)
FROM visitors v
INNER JOIN segments c ON c.user_key = v.user_key
GROUP BY ALL;

-- name: snowflake_native_dcr_product_type_by_interest
-- source: github.com/Snowflake-Labs/sfguides site/sfguides/src/create_a_native_data_clean_room (the four-table join VISITORS, CUSTOMERS, PURCHASES, PRODUCTS "GROUP BY ALL")
-- idiom: count(*) first, a product lookup joined on a SKU dimension (not the identifier), GROUP BY ALL
-- legit
-- why: VISITORS -> ctv_exposures, CUSTOMERS -> segments, PURCHASES -> conversions (the customer_id join is the user_key), PRODUCTS -> a constant lookup from product_category to a product type
WITH products(product_sku, product_type) AS (
  VALUES ('electronics', 'Kayak'), ('home', 'Paddle'), ('beauty', 'Other'), ('grocery', 'Other')
)
SELECT count(*), pr.product_type
FROM ctv_exposures v
INNER JOIN segments c ON c.user_key = v.user_key
INNER JOIN conversions pu ON pu.user_key = c.user_key
INNER JOIN products pr ON pr.product_sku = pu.product_category
GROUP BY ALL;

-- name: snowflake_native_dcr_product_type_by_interest_and_gender
-- source: github.com/Snowflake-Labs/sfguides site/sfguides/src/create_a_native_data_clean_room (after the four-table join: "You can try to include Gender in the query above, this should give you groups above the minimum size")
-- idiom: the four-table GROUP BY ALL with a second dimension from the visitors' side
-- legit
-- people: WITH products(product_sku, product_type) AS (VALUES ('electronics', 'Kayak'), ('home', 'Paddle'), ('beauty', 'Other'), ('grocery', 'Other')) SELECT pr.product_type, c.age_band, COUNT(DISTINCT v.user_key) FROM ctv_exposures v JOIN segments c ON c.user_key = v.user_key JOIN conversions pu ON pu.user_key = c.user_key JOIN products pr ON pr.product_sku = pu.product_category GROUP BY ALL
-- why: GENDER becomes the CRM's age_band (the visitors' demographic); the count moves after the two dimensions so that the people line can key on them (some age bands stand on fewer than 50 people)
WITH products(product_sku, product_type) AS (
  VALUES ('electronics', 'Kayak'), ('home', 'Paddle'), ('beauty', 'Other'), ('grocery', 'Other')
)
SELECT pr.product_type, c.age_band, count(*)
FROM ctv_exposures v
INNER JOIN segments c ON c.user_key = v.user_key
INNER JOIN conversions pu ON pu.user_key = c.user_key
INNER JOIN products pr ON pr.product_sku = pu.product_category
GROUP BY ALL;

-- name: snowflake_native_dcr_select_star_refused
-- source: github.com/Snowflake-Labs/sfguides site/sfguides/src/create_a_native_data_clean_room ("SELECT * FROM VISITORS;" answered "restricted by a Projection Policy")
-- idiom: SELECT * over a table whose identifier and contact columns are projection-protected
-- refuse: user_key_output
-- why: * expands to the user_key (and the banned email): row-level identifiers
SELECT * FROM segments;

-- name: snowflake_native_dcr_group_by_email_refused
-- source: github.com/Snowflake-Labs/sfguides site/sfguides/src/create_a_native_data_clean_room ("SELECT EMAIL, count(*) FROM ...VISITORS GROUP BY 1" answered "restricted by a Projection Policy")
-- idiom: grouping on a projection-protected contact column
-- refuse: banned_column
-- why: email is banned: it may not be referenced at all
SELECT email, count(*)
FROM segments
GROUP BY 1;

-- name: adh_sample_floodlight_variable_match
-- source: https://developers.google.com/ads-data-hub/samples/writing-queries ("Match Floodlight variables with temp tables": the CREATE TABLE temp_table as a CTE, then "Matching to Campaign Manager 360 impression data")
-- idiom: a per-user (user_id, u1_val) table built with GROUP BY 1, 2, joined to impressions with JOIN ... USING (user_id), COUNT(*) by campaign and variable
-- legit
-- people: WITH temp_table AS (SELECT user_key, product_category AS u1_val FROM conversions GROUP BY 1, 2) SELECT imp.campaign, temp.u1_val, COUNT(DISTINCT user_key) FROM impressions AS imp JOIN temp_table AS temp USING (user_key) GROUP BY 1, 2
-- why: REGEXP_EXTRACT(event.other_data, 'u1=...') (a custom Floodlight variable) becomes the conversion's product_category
WITH temp_table AS (
  SELECT
    user_key,
    product_category AS u1_val
  FROM
    conversions
  GROUP BY
    1,
    2
)
SELECT
  imp.campaign,
  temp.u1_val,
  COUNT(*) AS cnt
FROM
  impressions AS imp
JOIN
  temp_table AS temp USING (user_key)
GROUP BY
  1,
  2;

-- name: adswerve_adh_paths_conversion_rate
-- source: https://adswerve.com/blog/five-ads-data-hub-queries-to-get-you-started/ ("Attribution Modelling (with Paths)", the second query "Examining the Results in BQ" run over the first one's result, here as a CTE)
-- idiom: SUM of an aggregated CTE's counts, SUM(IF(event_type = 'FLOODLIGHT', frequency, 0)), a rounded ratio of the two sums * 100, GROUP BY 1,2 ORDER BY 3 DESC
-- legit
-- people: WITH events AS (SELECT user_key, ts, 'VIEW' AS event_type FROM impressions UNION ALL SELECT user_key, ts, 'CLICK' FROM clicks UNION ALL SELECT user_key, ts, 'FLOODLIGHT' FROM conversions), lagged AS (SELECT user_key, lag(event_type) OVER (PARTITION BY user_key ORDER BY ts) b1, lag(event_type, 2) OVER (PARTITION BY user_key ORDER BY ts) b2 FROM events) SELECT b1, b2, COUNT(DISTINCT user_key) FROM lagged GROUP BY 1, 2
WITH pathsblog AS (
  SELECT event_type, event_type_back1, event_type_back2, count(*) as frequency FROM(
    SELECT
        event_type,
        lag(event_type) OVER (PARTITION BY user_key ORDER BY event_time) event_type_back1,
        lag(event_type,2) OVER (PARTITION BY user_key ORDER BY event_time)  event_type_back2
   FROM (
     SELECT user_key, ts AS event_time, 'VIEW' AS event_type FROM impressions
     UNION ALL
     SELECT user_key, ts AS event_time, 'CLICK' AS event_type FROM clicks
     UNION ALL
     SELECT user_key, ts AS event_time, 'FLOODLIGHT' AS event_type FROM conversions
   ) AS paths)
  GROUP BY 1,2,3
)
SELECT
  event_type_back1,
  event_type_back2,
  sum(frequency) frequency,
  sum(IF(event_type = 'FLOODLIGHT', frequency, 0)) as conversions,
  round(sum(IF(event_type = 'FLOODLIGHT', frequency, 0))/sum(frequency)*100, 2) as convRate
FROM pathsblog
GROUP BY 1,2
ORDER BY 3 DESC;

-- name: aws_clean_rooms_aggregation_query_structure
-- source: https://docs.aws.amazon.com/clean-rooms/latest/userguide/analysis-rules-aggregation.html ("Aggregation query structure and syntax": aggregate expressions first, then grouping columns or scalar_function(arguments), INNER JOIN, WHERE, GROUP BY scalar_function, HAVING, ORDER BY scalar_function)
-- idiom: aggregates before the grouping columns, a scalar function (date truncation) as the grouping column and in GROUP BY and ORDER BY, HAVING on the distinct count
-- legit
-- people: column purchasers
-- ordered
SELECT SUM(c.revenue) AS revenue, COUNT(DISTINCT c.user_key) AS purchasers,
       date_trunc('week', c.ts) AS purchase_week
FROM conversions c
INNER JOIN impressions i ON c.user_key = i.user_key
WHERE c.event_type = 'purchase' AND i.ad_product = 'dsp'
GROUP BY date_trunc('week', c.ts)
HAVING COUNT(DISTINCT c.user_key) > 100
ORDER BY date_trunc('week', c.ts);

-- name: aws_clean_rooms_aggregation_avg_by_two_tables
-- source: https://docs.aws.amazon.com/clean-rooms/latest/userguide/analysis-rules-aggregation.html ("Aggregation query structure and syntax": the allowed aggregate functions COUNT, COUNT DISTINCT, SUM, SUM DISTINCT, AVG along dimensions of both joined tables)
-- idiom: AVG and COUNT DISTINCT on the joined tables' columns, dimensions from each party, a join on the identifier required by the rule's query controls
-- legit
-- people: column users
SELECT AVG(r.sales) AS avg_sales, COUNT(DISTINCT r.user_key) AS users, SUM(r.items) AS items,
       s.loyalty_tier, r.store_region
FROM retail_sales r
INNER JOIN segments s ON r.user_key = s.user_key
GROUP BY s.loyalty_tier, r.store_region
ORDER BY s.loyalty_tier, r.store_region;

-- Fourth batch (wt3-published): AMC's sandbox guide examples, more AMC instructional queries
-- (Subscribe & Save, net-new reach, path to conversion, cost fields, cross-purchase, three-way
-- overlap) and the AWS Innovate clean-rooms lab. Measured before any gate change (see
-- docs/gate.md, "The published corpus").

-- name: amc_sandbox_dsp_impressions
-- source: AMC guide, "AMC sandbox", "Basic example queries", Example query 1 (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/sandbox); advertiser as ad_product, campaign_id as the creative, campaign_start_date / campaign_end_date (campaign metadata we do not have) as the device
-- idiom: one GROUP BY 1, 2, 3, 4, 5 line per ordinal, SUM(impressions) from the DSP table
-- legit
-- people: SELECT ad_product, creative, campaign, device, device, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product = 'dsp' GROUP BY 1, 2, 3, 4
SELECT
  ad_product AS advertiser,
  creative AS campaign_id,
  campaign,
  device AS campaign_start_date,
  device AS campaign_end_date,
  SUM(impressions) AS impressions
FROM
  impressions
WHERE
  ad_product = 'dsp'
GROUP BY
  1,
  2,
  3,
  4,
  5;

-- name: amc_sandbox_sponsored_ads_purchases
-- source: AMC guide, "AMC sandbox", Example query 2 (advertising.amazon.com/API/docs/en-us/guides/amazon-marketing-cloud/sandbox); amazon_attributed_events_by_traffic_time as purchases within 14 days after an impression of the campaign (a CTE), advertiser / advertiser_id as ad_product
-- idiom: ad_product_type IS NOT NULL as the sponsored-ads filter, the same column under two aliases, GROUP BY 1..5
-- legit
-- people: SELECT k.ad_product, k.ad_product, k.campaign, k.campaign, k.ad_product, COUNT(DISTINCT c.user_key) FROM conversions c JOIN impressions k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY WHERE c.event_type = 'purchase' AND k.ad_product <> 'dsp' GROUP BY 1, 2, 3, 4, 5
WITH amazon_attributed_events_by_traffic_time AS (
  SELECT c.user_key, k.ad_product AS advertiser, k.campaign,
         CASE WHEN k.ad_product <> 'dsp' THEN k.ad_product END AS ad_product_type,
         c.conversions AS purchases
  FROM conversions c
  JOIN impressions k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase'
)
SELECT
  advertiser,
  advertiser AS advertiser_id,
  campaign AS campaign_id,
  campaign,
  ad_product_type,
  SUM(purchases) AS purchases
FROM
  amazon_attributed_events_by_traffic_time
WHERE
    ad_product_type IS NOT NULL
GROUP BY
  1,
  2,
  3,
  4,
  5;

-- name: amc_sandbox_event_level_supply_sources
-- source: AMC guide, "AMC sandbox", Example query 3, "DSP supply sources event level" (run only with aggregation controls disabled, in the sandbox); supply_source as the device, line_item as the creative
-- idiom: an event-level projection of dimensions, no aggregate
-- refuse: not_aggregated
-- why: it lists one row per impression; AMC runs it only in the sandbox with its aggregation controls turned off. The rewrite is the GROUP BY with a count that the hint names
SELECT
 ad_product AS advertiser_id,
 campaign AS campaign_id,
 device AS supply_source,
 creative AS line_item,
 creative AS line_item_id
FROM
 impressions;

-- name: amc_sandbox_dsp_geo
-- source: AMC guide, "AMC sandbox", Example query 4 "DSP GEO"; iso_country_code as ad_product, iso_state_province_code as device, dma_code as creative, postal_code as campaign
-- idiom: four geography group columns, SUM(impressions) beside COUNT(distinct user_id), GROUP BY with the ordinals on their own lines
-- legit
-- people: column distinct_user_id
SELECT
 ad_product AS iso_country_code,
 device AS iso_state_province_code,
 creative AS dma_code,
 campaign AS postal_code,
 SUM(impressions) AS impressions,
 COUNT(distinct user_key) AS distinct_user_id
FROM
 impressions
GROUP BY
  1,
  2,
  3,
  4;

-- name: amc_iq_join_impressions_and_clicks_union_all
-- source: AMC guide, "AMC sandbox", Example query 5 = Instructional Query "Join Impressions and Clicks using UNION ALL" (advertising.amazon.com/marketing-cloud/instructional-queries/f3368ba2a60ef5e7a24c7951ee84eabdce7de6cc5b739f59a772cfcd87b70837); dsp_impressions / dsp_clicks as impressions / clicks, campaign_id as ad_product; the source's CTE named clicks now shares its name with the dataset it reads (DuckDB reads the dataset inside it)
-- idiom: per-campaign sums with a 0 placeholder column in each CTE, UNION ALL, summed again outside; a CTE named like a table
-- legit
-- people: SELECT ad_product, campaign, COUNT(DISTINCT user_key) FROM (SELECT ad_product, campaign, user_key FROM impressions UNION ALL SELECT ad_product, campaign, user_key FROM clicks) GROUP BY 1, 2
WITH imp AS (
SELECT
ad_product AS campaign_id,
campaign,
SUM(impressions) AS impressions,
0 AS clicks
FROM
impressions
GROUP BY
1,
2
),
clicks AS (
SELECT
ad_product AS campaign_id,
campaign,
0 AS impressions,
SUM(clicks) AS clicks
FROM
clicks
GROUP BY
1,
2
),
combined AS (
SELECT
campaign_id,
campaign,
impressions,
clicks
FROM
imp
UNION ALL
SELECT
campaign_id,
campaign,
impressions,
clicks
FROM
clicks
)
SELECT
campaign_id,
campaign,
SUM(impressions) AS impressions,
SUM(clicks) AS clicks
FROM
combined
GROUP BY
1,
2;

-- name: amc_sandbox_list_asins_union
-- source: AMC guide, "AMC sandbox", "Example query to identify ASINs from sandbox" (the UNION of tracked_asin lists from four conversion tables); the attributed and all-conversions tables as the brand's purchases, its conversions and the retailer's categories
-- idiom: SELECT col FROM t GROUP BY 1 UNION SELECT ... (a list of values, no aggregate), four branches
-- legit
-- why: each branch is thresholded on its own (gate/lists.py reads the UNION as a DISTINCT over the branches' UNION ALL), so a value stands when one branch holds it on enough people
-- people: SELECT v, MAX(n) FROM (SELECT product_category AS v, COUNT(DISTINCT user_key) AS n FROM conversions WHERE event_type = 'purchase' GROUP BY 1 UNION ALL SELECT product_category, COUNT(DISTINCT user_key) FROM conversions WHERE event_type <> 'purchase' GROUP BY 1 UNION ALL SELECT product_category, COUNT(DISTINCT user_key) FROM conversions GROUP BY 1 UNION ALL SELECT category, COUNT(DISTINCT user_key) FROM retail_sales GROUP BY 1) GROUP BY 1
SELECT product_category AS tracked_asin
FROM conversions
WHERE event_type = 'purchase'
GROUP BY 1
UNION
SELECT product_category
FROM conversions
WHERE event_type <> 'purchase'
GROUP BY 1
UNION
SELECT product_category
FROM conversions
GROUP BY 1
UNION
SELECT category
FROM retail_sales
GROUP BY
1;

-- name: amc_sns_average_spend_by_subscriber
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/bf4b57a8aecd12c19f5928b73f709fa0fb5f3ea5414dc127cdb68f13f11c1e32 ("Introduction to Subscribe & Save (SnS) repeat purchases", Average spend by SnS subscribers and non-SnS subscribers); conversions_all as conversions, event_subtype IN (snsSubscription, firstSnSOrder, repeatSnSOrder) as event_type IN (sign_up, add_to_cart)
-- idiom: a CASE ... IN (...) label as the group key (GROUP BY 1), SUM(...) / COUNT(DISTINCT user_id) as an average per user
-- legit
SELECT
  CASE
    WHEN event_type IN (
      'sign_up',
      'add_to_cart'
    ) THEN 'subscriber'
    ELSE 'non-subscriber'
  END AS user_type,
  COUNT(DISTINCT user_key) AS users_that_purchased,
  SUM(revenue) AS total_sales,
  SUM(revenue) / COUNT(DISTINCT user_key) AS average_spend
FROM
  conversions
GROUP BY
  1;

-- name: amc_sns_purchases_by_asin
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/bf4b57a8aecd12c19f5928b73f709fa0fb5f3ea5414dc127cdb68f13f11c1e32 (Number of SnS purchases by ASIN); conversion_id as the person and time of the conversion (CONCAT(user_key, ts)), sns_subscription_id as new_to_brand, the text '7+' and the count made one type with a cast (DuckDB does not mix them in a CASE)
-- idiom: COUNT(DISTINCT conversion_id) and COUNT(col) per ASIN, those counts bucketed by a CASE in the next CTE, a one-row totals CTE comma-joined for a share of the total
-- legit
WITH asin_sns_stats AS (
  SELECT
    product_category AS tracked_asin,
    COUNT(DISTINCT CONCAT(user_key, ts)) AS first_n_repeat_purchase,
    COUNT(new_to_brand) AS total_sns
  FROM
    conversions
  WHERE
    event_type = 'purchase'
    AND new_to_brand IS NOT NULL
  GROUP BY
    1
),
bucketized_by_frequency AS (
  SELECT
    tracked_asin,
    CASE
      WHEN first_n_repeat_purchase > 6 THEN '7+'
      ELSE CAST(first_n_repeat_purchase AS VARCHAR)
    END AS sns_purchase_frequency,
    SUM(total_sns) AS total_sns_count
  FROM
    asin_sns_stats
  GROUP BY
    1,
    2
),
totals AS (
  SELECT
    SUM(total_sns_count) AS total
  FROM
    bucketized_by_frequency
)
SELECT
  tracked_asin,
  sns_purchase_frequency,
  total_sns_count,
  (total_sns_count / total) AS percent_total_sns
FROM
  bucketized_by_frequency,
  totals b;

-- name: amc_net_new_reach_dpv_asins_exploratory
-- source: AMC Instructional Query Library, "Net-new reach", 4.1.3 Exploratory Query to check ASINs available for detail page view conversion event (advertising.amazon.com/marketing-cloud/instructional-queries); conversions_all as conversions, event_type_description 'Product detail page viewed' as 'detail_page_view', tracked_item as product_category
-- idiom: lower-case and, WHERE metric > 0, IN with one value, GROUP BY the column names
-- legit
SELECT
event_type AS event_type_description,
product_category AS tracked_item,
SUM(conversions) AS conversions
FROM conversions
WHERE
conversions > 0
and event_type in ('detail_page_view')
GROUP BY event_type,
product_category;

-- name: amc_net_new_reach_dsp
-- source: AMC Instructional Query Library, "Net-new reach", 4.2 Query template: Net-new reach for Amazon DSP campaigns (advertising.amazon.com/marketing-cloud/instructional-queries); CUSTOM_PARAMETER values substituted (campaign_ids = the three DSP campaigns, campaign_start_date 2026-09-05, lookback_days 182, asins = ALL), dsp_impressions / dsp_clicks as impressions / clicks, conversions_all's detail page views as conversions, amazon_attributed_events_by_conversion_time's sales as purchases within 14 days after an impression; the source's CTEs named impressions and clicks keep their names
-- idiom: ARRAY_CONTAINS(param, col) OR param IS NULL OR CARDINALITY(param) = 0, per-user CTEs LEFT JOINed, IF(SECONDS_BETWEEN(...) <= 60*60*24*n AND ..., 1, 0) as a per-user flag, SUM(IF(x > 0, 1, 0)), scalar subqueries over a CTE beside the aggregates
-- legit
WITH amazon_attributed_events_by_conversion_time AS (
  SELECT c.user_key, i.campaign, c.revenue AS total_product_sales
  FROM conversions c
  JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
),
imp_data as(
SELECT
    user_key,
    MIN(a.ts) AS impression_dt_first,
    SUM(a.impressions) AS impressions
FROM impressions a
WHERE
    a.user_key IS NOT NULL
    AND (
      ARRAY_CONTAINS(['dsp_awareness', 'dsp_consideration', 'dsp_conversion'], campaign)
      OR ['dsp_awareness', 'dsp_consideration', 'dsp_conversion'] IS NULL
      OR CARDINALITY(['dsp_awareness', 'dsp_consideration', 'dsp_conversion']) = 0
    )
    AND CAST(a.ts AS DATE) >= DATE '2026-09-05'
group by user_key
),
click_data as(
SELECT
    user_key,
    SUM(b.clicks) AS clicks
FROM clicks b
WHERE
    b.user_key IS NOT NULL
    AND (
      ARRAY_CONTAINS(['dsp_awareness', 'dsp_consideration', 'dsp_conversion'], campaign)
      OR ['dsp_awareness', 'dsp_consideration', 'dsp_conversion'] IS NULL
      OR CARDINALITY(['dsp_awareness', 'dsp_consideration', 'dsp_conversion']) = 0
    )
    AND CAST(ts AS DATE) >= DATE '2026-09-05'
group by user_key
),
impressions as (
SELECT
    a.user_key,
    a.impressions,
    a.impression_dt_first,
    b.clicks
FROM imp_data a
LEFT JOIN click_data b on a.user_key = b.user_key
),
converted AS
(
SELECT
  user_key,
        MAX(ts) AS conversion_event_dt_last,
        SUM(conversions) AS dpv
FROM conversions
WHERE
  conversions > 0
   AND user_key IS NOT NULL
   AND event_type in ('detail_page_view')
AND (
   ARRAY_CONTAINS(['ALL'], 'ALL')
   OR ARRAY_CONTAINS(['ALL'], product_category)
   OR ['ALL'] IS NULL
   OR CARDINALITY(['ALL']) = 0
 )
GROUP BY user_key
),
sales_conversion as (
SELECT
  user_key,
  SUM(total_product_sales) as total_product_sales
FROM
  amazon_attributed_events_by_conversion_time
WHERE
  total_product_sales > 0
  AND user_key IS NOT NULL
  AND (
    ARRAY_CONTAINS(['dsp_awareness', 'dsp_consideration', 'dsp_conversion'], campaign)
    OR ['dsp_awareness', 'dsp_consideration', 'dsp_conversion'] IS NULL
    OR CARDINALITY(['dsp_awareness', 'dsp_consideration', 'dsp_conversion']) = 0
)
GROUP BY
  user_key
),
identify_incr_reach AS
(
SELECT
    i.user_key as reach_user,
    b.user_key as dpv_user,
    i.impressions as imp,
    IF(date_diff('second', conversion_event_dt_last, impression_dt_first) <= (60*60*24*182) AND b.conversion_event_dt_last < i.impression_dt_first AND i.impressions>0,
        1, 0) as users_in_rt_pool
FROM impressions i
LEFT JOIN converted b ON b.user_key = i.user_key
),
clicks AS
(
SELECT
    reach_user,
    imp as impressions_from_new,
    clicks as clicks_from_new,
    total_product_sales as total_product_sales_from_new
FROM identify_incr_reach iir
LEFT JOIN impressions sat on sat.user_key = iir.reach_user
LEFT JOIN sales_conversion s on s.user_key = iir.reach_user
WHERE
    users_in_rt_pool = 0
)
SELECT
    count(distinct reach_user) as net_new_reach,
    SUM(impressions_from_new) as net_new_impressions,
    SUM(clicks_from_new) as net_new_clicks,
    SUM(total_product_sales_from_new) as net_new_sales,
    SUM(IF(clicks_from_new > 0,1, 0)) as net_new_users_who_clicked,
    SUM(IF(total_product_sales_from_new > 0,1, 0)) as net_new_users_who_purchased,
    (SELECT sum(impressions) FROM impressions) as total_impressions,
    (SELECT count(distinct user_key) FROM impressions) as total_reach
FROM clicks;

-- name: amc_path_to_conversion_dsp
-- source: AMC Instructional Query Library, "Path to Conversion Campaign", Query Template for DSP campaigns only (advertising.amazon.com/marketing-cloud/instructional-queries/47b4188b0848e7bf5f0b4417cc5c284fafe7517099431e8a0a26c6fa5911cc88); dsp_impressions as impressions of ad_product 'dsp', amazon_attributed_events_by_traffic_time as purchases within 14 days after an impression of the campaign; NAMED_ROW(...) as a DuckDB struct {'order': ..., 'campaign': ...}, ARRAY_SORT(COLLECT(distinct ...)) as list_sort(list(DISTINCT ...)); millicents as cents (/ 100)
-- idiom: per-user, per-campaign first impression and last conversion LEFT JOINed, the user's campaigns as a sorted array of (order, campaign) rows grouped on as a path, MAX(IF(pur_user_id IS NOT NULL,1,0)) per user summed as users_that_purchased, a rate of two aggregates
-- legit
-- people: column path_occurrences
WITH amazon_attributed_events_by_traffic_time AS (
  SELECT c.user_key, i.campaign, c.ts AS conversion_event_dt, c.revenue AS product_sales, c.conversions AS purchases
  FROM conversions c
  JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase' AND i.ad_product = 'dsp'
),
impressions AS
(
SELECT
    campaign,
    user_key,
    min(ts) impression_dt_first,
    SUM(impressions) AS impressions,
    SUM(cost) AS total_cost
FROM impressions
WHERE user_key IS NOT NULL AND ad_product = 'dsp'
GROUP BY 1,2
)
, converted AS
(
    SELECT
        campaign,
        user_key,
        max(conversion_event_dt) AS conversion_event_dt_last,
        SUM(product_sales) AS product_sales,
        SUM(purchases) AS purchases
FROM amazon_attributed_events_by_traffic_time
WHERE purchases > 0 and user_key is not null
GROUP BY 1,2
)
, filter_impressions AS
(
    SELECT i.user_key AS imp_user_id,
           c.user_key AS pur_user_id,
           i.campaign,
           i.impressions,
           i.impression_dt_first,
           i.total_cost,
           c.conversion_event_dt_last,
           c.product_sales,
           c.purchases
    FROM impressions i
    LEFT JOIN converted c ON c.user_key = i.user_key AND c.campaign = i.campaign
    WHERE ((c.user_key IS NOT NULL AND i.impression_dt_first < c.conversion_event_dt_last)
    OR c.user_key IS NULL)
),
 ranked AS
(
SELECT
    {'order': ROW_NUMBER() OVER(PARTITION BY imp_user_id ORDER BY impression_dt_first), 'campaign': campaign} AS campaign_order,
    imp_user_id
FROM filter_impressions
WHERE imp_user_id is not null)
, assembled AS
(
SELECT
    list_sort(list(distinct campaign_order)) AS path,
    imp_user_id
FROM ranked
GROUP BY imp_user_id
),
filter_impressions_dedupe AS (
  SELECT
    imp_user_id                             AS imp_user_id,
    SUM(impressions)                        AS impressions,
    SUM(total_cost)                         AS total_cost,
    MAX(IF(pur_user_id IS NOT NULL,1,0))    AS pur_user_id,
    MAX(product_sales)                      AS product_sales,
    MAX(purchases)                          AS purchases
  FROM
    filter_impressions
  GROUP BY
    imp_user_id
),
  assembled_with_imp_conv AS
    (
        SELECT path,
                count(distinct a.imp_user_id) as reach,
                SUM(b.impressions) as impressions,
                SUM(b.total_cost)/100 as imp_total_cost,
                SUM(b.pur_user_id) as users_that_purchased,
                SUM(b.product_sales) as sales_amount,
                SUM(b.purchases) as purchases
    FROM assembled a
    LEFT JOIN filter_impressions_dedupe b
           ON a.imp_user_id = b.imp_user_id
    GROUP BY path
    )
    SELECT
        path,
        reach AS path_occurrences,
        impressions,
        imp_total_cost,
        users_that_purchased,
        sales_amount,
        purchases,
        (users_that_purchased/reach) as user_purchase_rate
    FROM assembled_with_imp_conv;

-- name: amc_how_to_calculate_dsp_costs
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/12695f72368210088103b0421a41aa86ff4730a59fd5bad5f113c6f231b1fc7a ("Calculate the costs of Amazon DSP and sponsored ads campaigns", How to calculate costs for Amazon DSP campaigns); campaign_id_string as the creative, currency_name / currency_iso_code as the device; impression_cost, total_cost and supply_cost as cost, platform_fee as viewable, managed_service_fee as impressions (audience_fee, third_party_fees and ocm_fee, which we do not have, dropped); cents for millicents and microcents
-- idiom: CONCAT('cid_', id) as a label, SUM(x / 100000) per field, COALESCE(SUM(x) / 100000000, 0) terms added up outside the aggregates, GROUP BY 1..4
-- legit
-- people: SELECT CONCAT('cid_', creative), campaign, device, device, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product = 'dsp' GROUP BY 1, 2, 3
SELECT
  CONCAT('cid_', creative) AS campaign_id,
  campaign,
  device AS currency_name,
  device AS currency_iso_code,
  SUM(cost / 100) AS impression_cost,
  SUM(cost / 100) AS total_cost,
  SUM(cost / 10000) AS supply_cost,
  SUM(viewable / 10000) AS platform_fee,
  COALESCE(SUM(impressions) / 10000, 0) AS managed_service_fee,
  (
    COALESCE(SUM(cost) / 10000, 0) +
    COALESCE(SUM(viewable) / 10000, 0) +
    COALESCE(SUM(impressions) / 10000, 0)
) AS impression_cost_calculated
FROM
  impressions
WHERE ad_product = 'dsp'
GROUP BY
  1,
  2,
  3,
  4;

-- name: amc_how_to_calculate_sponsored_ads_cpc_costs
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/12695f72368210088103b0421a41aa86ff4730a59fd5bad5f113c6f231b1fc7a (How to calculate costs for sponsored ads CPC campaigns); sponsored_ads_traffic as the publisher's clicks of sponsored ads (their spend as the click's cost), line_item_price_type 'CPC' as every click, viewable_impressions as clicks
-- idiom: CONCAT ('cid_', ...) with a space before the parenthesis, SUM(spend / 100000000) / SUM(clicks) as cost per click, GROUP BY 1..6
-- legit
-- people: SELECT ad_product, CONCAT('cid_', campaign), campaign, 'CPC', 'USD', 'dollar', COUNT(DISTINCT user_key) FROM clicks WHERE ad_product <> 'dsp' GROUP BY 1, 2, 3
SELECT
  ad_product AS ad_product_type,
  CONCAT ('cid_', campaign) AS campaign_id,
  campaign,
  'CPC' AS price_type,
  'USD' AS currency_iso_code,
  'dollar' AS currency_name,
  SUM(clicks) AS impressions,
  SUM(clicks) AS clicks,
  SUM(clicks) AS viewable_impressions,
  SUM(cost / 100) AS spend,
  (SUM(cost / 100) / SUM(clicks)) AS cost_per_click
FROM
  clicks
WHERE
  ad_product <> 'dsp'
GROUP BY
  1,
  2,
  3,
  4,
  5,
  6;

-- name: amc_sponsored_ads_cross_purchase_exploratory
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/e506a3b92ab299d07cdd9267f9071d9cc54c7cda2d340e74ab5c8a3f2a9ce95c ("Sponsored ads ASIN cross-purchase", Exploratory query); amazon_attributed_events_by_conversion_time as purchases within 14 days after an impression, campaign_id_string as the campaign, tracked_asin as product_category
-- idiom: ad_product_type IN (four sponsored ads products), SUM(purchases) by campaign, product and ASIN
-- legit
-- people: SELECT k.campaign, k.ad_product, c.product_category, COUNT(DISTINCT c.user_key) FROM conversions c JOIN impressions k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY WHERE c.event_type = 'purchase' AND k.ad_product IN ('sponsored_products','sponsored_brands','sponsored_display','sponsored_tv') GROUP BY 1, 2, 3
WITH amazon_attributed_events_by_conversion_time AS (
  SELECT c.user_key, k.campaign AS campaign_id_string, k.ad_product AS ad_product_type,
         c.product_category AS tracked_asin, c.conversions AS purchases
  FROM conversions c
  JOIN impressions k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase'
)
SELECT
  campaign_id_string,
  ad_product_type,
  tracked_asin,
  SUM(purchases) AS total_purchases
FROM amazon_attributed_events_by_conversion_time
WHERE ad_product_type IN ('sponsored_products','sponsored_brands','sponsored_display','sponsored_tv')
GROUP BY 1, 2, 3;

-- name: amc_sponsored_ads_cross_purchase
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/e506a3b92ab299d07cdd9267f9071d9cc54c7cda2d340e74ab5c8a3f2a9ce95c (Query template: Sponsored ads ASIN cross-purchase); CUSTOM_PARAMETER('campaign_id_string') as the sponsored ads campaigns, attributed events as purchases within 14 days after an impression, conversion_event_date as the purchase's day, SECONDS_BETWEEN as date_diff('second', ...), new_to_brand (0/1 in AMC) cast to an integer
-- idiom: a self-join of per-user conversions on user_id and a later date, LEFT JOINs to an ASIN-level CTE of SUM and COUNT(DISTINCT user_id) on the ASIN, CASE WHEN MAX(new_to_brand) = 1 across people as a cohort label, AVG of days between, DENSE_RANK() OVER (ORDER BY users DESC) in the final SELECT
-- refuse: member_aggregate
-- why: MAX(new_to_brand) across the pair's people says whether any one of them is new to the brand (one person's value); the count of new-to-brand people (SUM(IF(...)) or COUNT(*) FILTER) is what the hint names
WITH relevant_attributed_events AS
(
    SELECT
        c.user_key,
        c.product_category AS tracked_asin,
        k.ad_product AS ad_product_type,
        CAST(c.ts AS DATE) AS conversion_event_date,
        CAST(c.new_to_brand AS INTEGER) AS new_to_brand,
        c.conversions AS purchases
    FROM conversions c
    JOIN impressions k ON c.user_key = k.user_key AND c.ts BETWEEN k.ts AND k.ts + INTERVAL 14 DAY
    WHERE
        ARRAY_CONTAINS(['sp_brand_terms', 'sp_category', 'sb_video', 'sd_retargeting'], k.campaign)
        AND
        k.ad_product IN (
            'sponsored_products',
            'sponsored_brands',
            'sponsored_display',
            'sponsored_tv'
            )
        AND c.event_type = 'purchase'
),
sponsored_ads_conversions AS
(
    SELECT
        user_key,
        tracked_asin,
        ad_product_type,
        conversion_event_date,
        new_to_brand
    FROM relevant_attributed_events
    WHERE purchases > 0
    AND user_key IS NOT NULL
),
asin_metrics AS
(
    SELECT
        tracked_asin,
        SUM(purchases) AS asin_purchases,
        COUNT(DISTINCT user_key) AS user_reach
    FROM relevant_attributed_events
    GROUP BY  tracked_asin
),
cross_purchase_data AS
(
    SELECT
        s1.tracked_asin AS lead_asin,
        s2.tracked_asin AS follow_up_asin,
        s1.ad_product_type AS lead_ad_product_type,
        s2.ad_product_type AS follow_up_ad_product_type,
        am1.asin_purchases AS lead_asin_purchases,
        am1.user_reach AS lead_asin_user_reach,
        am2.asin_purchases AS follow_up_asin_purchases,
        am2.user_reach AS follow_up_asin_user_reach,
        COUNT(DISTINCT s1.user_key) AS cross_purchased_users,
        AVG(date_diff('second', s1.conversion_event_date, s2.conversion_event_date)/86400)
            AS avg_days_between_purchases,
        CASE WHEN MAX(s1.new_to_brand) = 1 THEN 'New Customer'
            ELSE 'Repeat Customer' END AS user_cohort
    FROM sponsored_ads_conversions s1
    INNER JOIN sponsored_ads_conversions s2
    ON s1.user_key = s2.user_key AND s2.conversion_event_date > s1.conversion_event_date
    LEFT JOIN asin_metrics am1
    ON s1.tracked_asin = am1.tracked_asin
    LEFT JOIN asin_metrics am2
    ON s2.tracked_asin = am2.tracked_asin
    WHERE s1.tracked_asin <> s2.tracked_asin
    GROUP BY 1,2,3,4,5,6,7,8
)
SELECT
    lead_asin,
    follow_up_asin,
    lead_ad_product_type,
    follow_up_ad_product_type,
    cross_purchased_users,
    user_cohort,
    lead_asin_purchases,
    lead_asin_user_reach,
    follow_up_asin_purchases,
    follow_up_asin_user_reach,
    avg_days_between_purchases,
    DENSE_RANK() OVER (ORDER BY  cross_purchased_users DESC) AS cross_purchase_rank
FROM cross_purchase_data;

-- name: aws_innovate_avg_by_line_of_business
-- source: github.com/joshtow/data-collaboration-aws-clean-rooms README.md (AWS Innovate Data Edition lab, step 13.6: the aggregation-rule query on the insurer's policies); policies as the retailer's sales, the three incurred amounts as sales and items, lineofbusiness as category
-- idiom: every column "table"."column" double-quoted, the AVGs before the grouping column, GROUP BY the quoted column
-- legit
SELECT  AVG("retail_sales"."sales"),
	AVG("retail_sales"."items"),
	AVG("retail_sales"."sales" + "retail_sales"."items"),
	"retail_sales"."category"

FROM  "retail_sales"
GROUP BY "retail_sales"."category";

-- name: aws_innovate_distinct_customer_attributes
-- source: github.com/joshtow/data-collaboration-aws-clean-rooms README.md (step 13.7: the list-rule query joining the insurer's customers to the advertiser's impressions on c_name); customers as the brand's CRM segments, c_age as age_band and c_state as region (c_city, c_country, c_gender and c_postcode, which the CRM does not have, dropped), joined to impressions on the person
-- idiom: SELECT DISTINCT of quoted "table"."column" attributes over an INNER JOIN on the match key (AWS Clean Rooms' list analysis rule), no aggregate
-- legit
-- people: SELECT s.age_band, s.region, COUNT(DISTINCT s.user_key) FROM segments s JOIN impressions i ON s.user_key = i.user_key GROUP BY 1, 2
SELECT DISTINCT "segments"."age_band",
		"segments"."region"
FROM  "segments"
INNER JOIN  "impressions"
	ON  "segments"."user_key" = "impressions".user_key;

-- name: amc_three_way_overlap_display_stv_sp
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/2bb8b4ee5bf73bd88afe7da2596e4b02a84fa67ea8719647367cfac1ebed4cbc ("DSP Display, Streaming TV and Sponsored Products Three Way Overlap", 4. Query Template); P1 Display = dsp_awareness, P2 Streaming TV = dsp_consideration and dsp_conversion, P3 Sponsored Products = sp_brand_terms and sp_category (campaign names for campaign_ids); amazon_attributed_events_by_traffic_time as purchases within 14 days after an impression of the campaign; dsp_impressions / sponsored_ads_traffic as impressions; UUID() as DuckDB's uuid(); the unused per-bin sums of users_all_exp shortened
-- idiom: VALUES lists AS b(campaign_id) read through IN (SELECT ...) and a JOIN, UNION ALL of per-user sums with zero placeholders, UUID() as an impression id, a FULL OUTER JOIN of per-user purchases and impressions on user_id, SUM(IF(timing AND type, impressions, 0)) bins per (imp_user, pur_user), an eight-deep nested IF(...) exposure group computed twice, two GROUP BY exposure_group CTEs LEFT JOINed
-- legit
-- currently: refused function_not_allowed metric_transform not_summable (UUID() is not on the allow-list; and each person's purchases, summed over a UNION ALL of zero-filled branches, lose the per-person sides of gate/sides.py, so their per-user MAX after the FULL OUTER JOIN is not summable across people)
-- people: column impression_reach
with p1_ids as
(SELECT campaign_id FROM
(VALUES
('dsp_awareness')) as b(campaign_id)
),

p2_ids as
(SELECT campaign_id FROM
(VALUES
('dsp_consideration'),
('dsp_conversion')) as b(campaign_id)
),

p3_ids as
(SELECT campaign FROM
(VALUES
('sp_brand_terms'),
('sp_category')) as b(campaign)
),

amazon_attributed_events_by_traffic_time as (
SELECT c.user_key, i.campaign AS campaign_id, i.campaign, c.ts AS conversion_event_dt,
       c.conversions AS purchases, c.conversions AS total_purchases_clicks, c.revenue AS product_sales
FROM conversions c
JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
WHERE c.event_type = 'purchase'
),

purchases_temp as (
SELECT
  user_key
  ,campaign_id
  ,campaign
  ,conversion_event_dt
  ,sum(purchases) as purchases
  ,sum(total_purchases_clicks) as total_purchases_clicks
  ,sum(product_sales) as sales
FROM amazon_attributed_events_by_traffic_time a
WHERE (campaign_id IN (SELECT campaign_id from p1_ids) OR
       campaign_id IN (SELECT campaign_id from p2_ids) OR
       campaign IN (SELECT campaign from p3_ids))
GROUP BY 1,2,3,4
),

purchases as (
SELECT
  user_key
  ,conversion_event_dt
  , SUM(purchases) AS p1_purchases
  , 0 AS p2_purchases
  , 0 AS p3_purchases
  , SUM(sales) as sales
FROM purchases_temp a
WHERE campaign_id IN (SELECT campaign_id from p1_ids)
GROUP BY 1,2

UNION ALL

SELECT
  user_key
  ,conversion_event_dt
  , 0 AS p1_purchases
  , SUM(purchases) AS p2_purchases
  , 0 AS p3_purchases
  , SUM(sales) as sales
FROM purchases_temp a
WHERE campaign_id IN (SELECT campaign_id from p2_ids)
GROUP BY 1,2

UNION ALL

SELECT
  user_key
  ,conversion_event_dt
  , 0 AS p1_purchases
  , 0 AS p2_purchases
  , SUM(total_purchases_clicks) AS p3_purchases
  , SUM(sales) as sales
FROM purchases_temp a
JOIN (SELECT campaign FROM p3_ids) b on a.campaign = b.campaign
GROUP BY 1,2
),

purchases_last_total as
(
SELECT
user_key
, max(conversion_event_dt)                  AS conversion_event_dt_last
, sum(p1_purchases + p2_purchases + p3_purchases) AS purchases
, sum(p1_purchases)                         AS p1_purchases
, sum(p2_purchases)                         AS p2_purchases
, sum(p3_purchases)                         AS p3_purchases
, sum(sales)                                AS sales
from purchases
WHERE p1_purchases+p2_purchases+p3_purchases > 0
GROUP BY 1
),

impressions_temp as (
SELECT
user_key
, campaign AS campaign_id
, a.campaign
, UUID()           AS impression_id
, ts AS impression_dt
, impressions AS impressions
FROM impressions a
WHERE (campaign IN (SELECT campaign_id from p1_ids) OR
       campaign IN (SELECT campaign_id from p2_ids))
AND impressions > 0

UNION all

SELECT
user_key
, '0' as campaign_id
, a.campaign
, UUID()           AS impression_id
, ts         AS impression_dt
, impressions AS impressions
FROM impressions a
JOIN (SELECT campaign FROM p3_ids) b on a.campaign = b.campaign
WHERE impressions > 0
),

    impressions AS (

SELECT user_key
     , impression_id
     , impression_dt
     , 'p1' AS IMP_ad_type
     , sum(impressions) AS impressions
FROM impressions_temp
WHERE campaign_id IN (SELECT campaign_id from p1_ids)
GROUP BY 1, 2, 3, 4

UNION ALL

SELECT user_key
     , impression_id
     , impression_dt
     , 'p2' AS IMP_ad_type
     , sum(impressions) AS impressions
FROM impressions_temp
WHERE campaign_id IN (SELECT campaign_id from p2_ids)
GROUP BY 1, 2, 3, 4

UNION ALL

SELECT user_key
     , impression_id
     , impression_dt
     , 'p3'             AS IMP_ad_type
     , sum(impressions) AS impressions
FROM impressions_temp a
JOIN (SELECT campaign FROM p3_ids) b on a.campaign = b.campaign
GROUP BY 1, 2, 3, 4),

impressions_first_total as
(
SELECT
user_key
,imp_ad_type
,min(impression_dt) as impression_dt_first
,sum(impressions) as impressions
from impressions
GROUP BY 1,2
),

combined as (
SELECT
  imp.user_key as imp_user
  ,pur.user_key as pur_user
  ,imp.imp_ad_type
  ,pur.purchases
  ,pur.p1_purchases
  ,pur.p2_purchases
  ,pur.p3_purchases
  ,imp.impressions
  ,pur.sales
    ,CASE WHEN conversion_event_dt_last IS NULL THEN 'no purchase'
    WHEN conversion_event_dt_last > impression_dt_first THEN 'pre-purchase'
    WHEN conversion_event_dt_last < impression_dt_first THEN 'post-purchase'
    ELSE 'other'
    END AS impression_timing
FROM purchases_last_total pur
FULL OUTER JOIN impressions_first_total imp ON pur.user_key = imp.user_key
),

binned_data as (
SELECT
 imp_user
 , pur_user
  ,SUM(IF(impression_timing = 'no purchase' AND imp_ad_type = 'p1', impressions, 0)) as no_purch_p1_impressions
  ,SUM(IF(impression_timing = 'pre-purchase' AND imp_ad_type = 'p1', impressions, 0)) as pre_purch_p1_impressions
  ,SUM(IF(impression_timing = 'post-purchase' AND imp_ad_type = 'p1', impressions, 0)) as post_purch_p1_impressions
  ,SUM(IF(impression_timing = 'other' AND imp_ad_type = 'p1', impressions, 0)) as other_p1_impressions
  ,SUM(IF(imp_ad_type = 'p1', impressions, 0)) as total_p1_impressions
  ,SUM(IF(impression_timing = 'no purchase' AND imp_ad_type = 'p2', impressions, 0)) as no_purch_p2_impressions
  ,SUM(IF(impression_timing = 'pre-purchase' AND imp_ad_type = 'p2', impressions, 0)) as pre_purch_p2_impressions
  ,SUM(IF(impression_timing = 'post-purchase' AND imp_ad_type = 'p2', impressions, 0)) as post_purch_p2_impressions
  ,SUM(IF(impression_timing = 'other' AND imp_ad_type = 'p2', impressions, 0)) as other_p2_impressions
  ,SUM(IF(imp_ad_type = 'p2', impressions, 0)) as total_p2_impressions
  ,SUM(IF(impression_timing = 'no purchase' AND imp_ad_type = 'p3', impressions, 0)) as no_purch_p3_impressions
  ,SUM(IF(impression_timing = 'pre-purchase' AND imp_ad_type = 'p3', impressions, 0)) as pre_purch_p3_impressions
  ,SUM(IF(impression_timing = 'post-purchase' AND imp_ad_type = 'p3', impressions, 0)) as post_purch_p3_impressions
  ,SUM(IF(impression_timing = 'other' AND imp_ad_type = 'p3', impressions, 0)) as other_p3_impressions
  ,SUM(IF(imp_ad_type = 'p3', impressions, 0)) as total_p3_impressions
  ,MAX(purchases) as purchases
  ,MAX(p1_purchases) as p1_purchases
  ,MAX(p2_purchases) as P2_purchases
  ,MAX(p3_purchases) as p3_purchases
  ,MAX(sales) as sales
FROM combined
GROUP BY 1,2
),

users_purchased as
(
SELECT
imp_user
, pur_user
, no_purch_p1_impressions
, pre_purch_p1_impressions
, post_purch_p1_impressions
, other_p1_impressions
, total_p1_impressions
, no_purch_p2_impressions
, pre_purch_p2_impressions
, post_purch_p2_impressions
, other_p2_impressions
, total_p2_impressions
, no_purch_p3_impressions
, pre_purch_p3_impressions
, post_purch_p3_impressions
, other_p3_impressions
, total_p3_impressions
, purchases
from binned_data
WHERE purchases > 0
),

users_purchased_exp as
(
SELECT
IF((pre_purch_p1_impressions > 0 AND pre_purch_p2_impressions > 0 AND pre_purch_p3_impressions > 0) OR  (no_purch_p1_impressions > 0 AND no_purch_p2_impressions > 0 AND no_purch_p3_impressions > 0 ), 'all',
IF((pre_purch_p1_impressions > 0 AND pre_purch_p2_impressions > 0 AND pre_purch_p3_impressions = 0) OR  (no_purch_p1_impressions > 0 AND no_purch_p2_impressions > 0 AND no_purch_p3_impressions = 0 ), 'p1&p2',
IF((pre_purch_p1_impressions > 0 AND pre_purch_p2_impressions = 0 AND pre_purch_p3_impressions > 0) OR  (no_purch_p1_impressions > 0 AND no_purch_p2_impressions = 0 AND no_purch_p3_impressions > 0 ), 'p1&p3',
IF((pre_purch_p1_impressions = 0 AND pre_purch_p2_impressions > 0 AND pre_purch_p3_impressions > 0) OR  (no_purch_p1_impressions = 0 AND no_purch_p2_impressions > 0 AND no_purch_p3_impressions > 0 ), 'p2&p3',
IF((pre_purch_p1_impressions > 0 OR no_purch_p1_impressions > 0) AND (pre_purch_p2_impressions = 0 AND no_purch_p2_impressions = 0) AND (pre_purch_p3_impressions = 0 AND no_purch_p3_impressions = 0), 'p1',
IF((pre_purch_p1_impressions = 0 AND no_purch_p1_impressions = 0) AND (pre_purch_p2_impressions > 0 OR no_purch_p2_impressions > 0) AND (pre_purch_p3_impressions = 0 AND no_purch_p3_impressions = 0), 'p2',
IF((pre_purch_p1_impressions = 0 AND no_purch_p1_impressions = 0) AND (pre_purch_p2_impressions = 0 AND no_purch_p2_impressions = 0) AND (pre_purch_p3_impressions > 0 OR no_purch_p3_impressions > 0), 'p3',
IF((pre_purch_p1_impressions = 0 AND no_purch_p1_impressions = 0) AND (pre_purch_p2_impressions = 0 AND no_purch_p2_impressions = 0) AND (pre_purch_p3_impressions = 0 AND no_purch_p3_impressions = 0) , 'none', 'NA'))))))))
AS exposure_group
,COUNT(distinct imp_user) as users_that_purchased_with_impressions
,COUNT(distinct pur_user) as users_that_purchased
FROM users_purchased
GROUP BY exposure_group
),

users_all_exp as
(SELECT
  IF((pre_purch_p1_impressions > 0 AND pre_purch_p2_impressions > 0 AND pre_purch_p3_impressions > 0) OR  (no_purch_p1_impressions > 0 AND no_purch_p2_impressions > 0 AND no_purch_p3_impressions > 0 ), 'all',
  IF((pre_purch_p1_impressions > 0 AND pre_purch_p2_impressions > 0 AND pre_purch_p3_impressions = 0) OR  (no_purch_p1_impressions > 0 AND no_purch_p2_impressions > 0 AND no_purch_p3_impressions = 0 ), 'p1&p2',
  IF((pre_purch_p1_impressions > 0 AND pre_purch_p2_impressions = 0 AND pre_purch_p3_impressions > 0) OR  (no_purch_p1_impressions > 0 AND no_purch_p2_impressions = 0 AND no_purch_p3_impressions > 0 ), 'p1&p3',
  IF((pre_purch_p1_impressions = 0 AND pre_purch_p2_impressions > 0 AND pre_purch_p3_impressions > 0) OR  (no_purch_p1_impressions = 0 AND no_purch_p2_impressions > 0 AND no_purch_p3_impressions > 0 ), 'p2&p3',
  IF((pre_purch_p1_impressions > 0 OR no_purch_p1_impressions > 0) AND (pre_purch_p2_impressions = 0 AND no_purch_p2_impressions = 0) AND (pre_purch_p3_impressions = 0 AND no_purch_p3_impressions = 0), 'p1',
  IF((pre_purch_p1_impressions = 0 AND no_purch_p1_impressions = 0) AND (pre_purch_p2_impressions > 0 OR no_purch_p2_impressions > 0) AND (pre_purch_p3_impressions = 0 AND no_purch_p3_impressions = 0), 'p2',
  IF((pre_purch_p1_impressions = 0 AND no_purch_p1_impressions = 0) AND (pre_purch_p2_impressions = 0 AND no_purch_p2_impressions = 0) AND (pre_purch_p3_impressions > 0 OR no_purch_p3_impressions > 0), 'p3',
  IF((pre_purch_p1_impressions = 0 AND no_purch_p1_impressions = 0) AND (pre_purch_p2_impressions = 0 AND no_purch_p2_impressions = 0) AND (pre_purch_p3_impressions = 0 AND no_purch_p3_impressions = 0) , 'none', 'NA'))))))))
        AS exposure_group
,COUNT(distinct imp_user) as impression_reach
,SUM(purchases) as purchases
,SUM(p1_purchases) as p1_purchases
,SUM(p2_purchases) as P2_purchases
,SUM(p3_purchases) as p3_purchases
,SUM(no_purch_p1_impressions) as no_purch_p1_impressions
,SUM(pre_purch_p1_impressions) as pre_purch_p1_impressions
,SUM(total_p1_impressions) as total_p1_impressions
,SUM(total_p2_impressions) as total_p2_impressions
,SUM(total_p3_impressions) as total_p3_impressions
,SUM(sales) as sales
FROM binned_data
GROUP BY exposure_group
)

SELECT
a.exposure_group
,users_that_purchased
,impression_reach
,purchases
,sales
FROM users_all_exp a
LEFT JOIN users_purchased_exp p
ON a.exposure_group = p.exposure_group;

-- name: adh_pure_asset_demographics
-- source: github.com/google/ads-bi-suite sql/adh_pure_calc_asset_demo.sql (its CREATE TABLE installed_users as a CTE; impression_id as the person, campaign and hour of the impression, google_ads_clicks' per-impression click counts as the publisher's clicks in that hour, the app's install conversions as the brand's sign-ups, gender / age group from the impression as the CRM's region and age band (two bands) joined on the person, app and country as the ad product, the video and its duration as the creative, the campaign / adgroup / creative lookups as the impression's own columns)
-- idiom: a ROW_NUMBER() OVER (PARTITION BY user_id, app ORDER BY time DESC) ... WHERE rank = 1 CTE, LEFT JOIN of a per-impression click aggregate USING (impression_id), COUNT(time) as impressions, SUM(IFNULL(a, 0) + IFNULL(b, 0)) of two tables' costs, COUNT(DISTINCT conv.user_id) as installs, GROUP BY 1..9
-- legit
-- people: column targeted_users
WITH installed_users AS (
  SELECT *
  FROM
    (
      SELECT
        date_trunc('hour', ts) AS impression_id,
        product_category AS app_id,
        user_key,
        ROW_NUMBER()
          OVER (
            PARTITION BY user_key, product_category
            ORDER BY ts DESC
          ) AS rank
      FROM conversions a
      WHERE user_key IS NOT NULL
      AND event_type = 'sign_up'
    )
  WHERE rank = 1
),
impr AS (
  SELECT user_key, campaign, ad_product, creative, device, ts, cost, date_trunc('hour', ts) AS impression_id
  FROM impressions
),
demographics AS (
  SELECT DISTINCT user_key, region AS gender_name,
    CASE WHEN age_band IN ('18-24', '25-34') THEN 'under 35' ELSE '35+' END AS age_group_name FROM segments
)
SELECT
  impr.ad_product AS customer_id,
  impr.campaign AS campaign_id,
  impr.campaign AS campaign_name,
  gender_name AS gender_id,
  age_group_name,
  impr.ad_product AS app_id,
  impr.ad_product AS country,
  impr.creative AS video_id,
  impr.creative AS video_ad_duration,
  COUNT(impr.ts) AS impressions,
  SUM(clk.click_count) AS clicks,
  COUNT(DISTINCT impr.user_key) AS targeted_users,
  SUM(IFNULL(impr.cost, 0) + IFNULL(clk.click_cost_usd, 0)) AS cost_usd,
  COUNT(DISTINCT conv.user_key) installs
FROM impr
LEFT JOIN
  (
    SELECT
      user_key,
      campaign,
      date_trunc('hour', ts) AS impression_id,
      COUNT(*) click_count,
      SUM(IFNULL(c.cost, 0)) click_cost_usd
    FROM clicks c
    GROUP BY 1, 2, 3
  ) clk
  USING (user_key, campaign, impression_id)
LEFT JOIN demographics
  USING (user_key)
LEFT JOIN installed_users conv
  USING (user_key, impression_id)
WHERE impr.user_key IS NOT NULL
AND impr.creative != ''
AND impr.creative IS NOT NULL
AND impr.ad_product = 'dsp'
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

-- name: amc_iq_compare_path_dsp_campaigns
-- source: AMC Instructional Query Library, "Compare purchase path of converters versus non-converters" (id 9dff32201298d25a5cb6bdff831926cdbbaac0f5ea526f822312e20f338f3540), 4.1 Exploratory query to identify Amazon DSP campaigns; advertiser_id as ad_product (our tables have no advertiser or campaign dates)
-- idiom: campaign listing with SUM(impressions) over dsp_impressions, GROUP BY ordinals
-- legit
-- people: SELECT ad_product, campaign, campaign, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product = 'dsp' GROUP BY 1, 2, 3
SELECT
ad_product AS advertiser_id,
campaign AS campaign_id_string,
campaign,
SUM(impressions) AS total_impressions
FROM
impressions
WHERE ad_product = 'dsp'
GROUP BY 1,2,3;

-- name: amc_iq_compare_path_days_to_purchase
-- source: AMC Instructional Query Library, "Compare purchase path of converters versus non-converters" (id 9dff32201298d25a5cb6bdff831926cdbbaac0f5ea526f822312e20f338f3540), 4.2 "Compare purchase path from first impression": its impressions, converted, impressions_combined, First_Imp_ranked, First_Imp and days_to_purchase CTEs, the last one selected (the template UNION ALLs it with the other stat tables); campaign groups as the DSP campaigns and sponsored ads products, conversions_all purchases as the brand's purchases
-- idiom: per-user MIN/MAX of a timestamp in UNION ALL branches, a per-user purchase CTE LEFT JOINed, CASE WHEN c.user_id IS NULL THEN 'No Purchase', ROW_NUMBER() per user, seconds_between, SUM(days_diff) / 86400 / COUNT(user_id)
-- legit
-- rounded
-- people: SELECT CASE WHEN c.user_key IS NULL THEN 'No Purchase' ELSE 'Purchase' END, COUNT(DISTINCT i.user_key) FROM (SELECT DISTINCT user_key FROM impressions) i LEFT JOIN (SELECT DISTINCT user_key FROM conversions WHERE event_type = 'purchase') c ON c.user_key = i.user_key GROUP BY 1
WITH campaign_group (campaign_id_string, campaign_group) AS (
 VALUES
 ('dsp_awareness', 'OLV'),
 ('dsp_consideration', 'DSP'),
 ('dsp_conversion', 'DSP')
),
impressions_all AS (
 SELECT
 COALESCE(campaign_group, 'Amazon DSP') AS campaign_group
 ,'DSP' AS product_type
 , user_key
 , MIN(ts) AS impression_dt_first
 , MAX(ts) AS impression_dt_last
 , SUM(impressions) AS impressions
 FROM
 impressions i
 INNER JOIN
 campaign_group G ON g.campaign_id_string = i.campaign
 WHERE
 user_key IS NOT NULL
 GROUP BY
 1,2,3
 UNION ALL
 SELECT
 ad_product AS campaign_group
 ,'sponsored ads' AS product_type
 , user_key
 , MIN(ts) AS impression_dt_first
 , MAX(ts) AS impression_dt_last
 , SUM(impressions) AS impressions
 FROM
 impressions
 WHERE
 user_key IS NOT NULL
 AND
 ad_product <> 'dsp'
 GROUP BY
 1,2,3
),
converted AS (
 SELECT
 user_key
 , MIN(ts) AS first_purchase_dt
 , SUM(revenue) AS total_product_sales
 FROM
 conversions c
 WHERE
 event_type in ('purchase')
 AND
 conversions > 0
 GROUP BY
 1
),
impressions_combined AS (
 SELECT
 i.user_key AS impression_id
 , i.impression_dt_first
 , i.impression_dt_last
 , i.campaign_group
 , i.impressions
 , c.user_key AS conversion_id
 , c.first_purchase_dt
 , CASE WHEN c.user_key IS NULL THEN 'No Purchase'
 ELSE 'Purchase'
 END as customer_type
 FROM
 impressions_all i
 LEFT JOIN
 converted c ON i.user_key = c.user_key
 WHERE
 ((c.user_key IS NOT NULL AND i.impression_dt_first < c.first_purchase_dt)
 OR
 c.user_key IS NULL)
),
First_Imp_ranked AS (
 SELECT
 impression_id AS user_key
 , impression_dt_first
 , campaign_group
 , first_purchase_dt
 , customer_type
 , ROW_NUMBER() OVER (
 PARTITION BY impression_id
 ORDER BY
 impression_dt_first ASC) as impression_order
 FROM
 impressions_combined
),
First_Imp AS (
 SELECT
 user_key
 , impression_dt_first
 , first_purchase_dt
 , campaign_group
 , customer_type
 , impression_order
 , date_diff('second', impression_dt_first, first_purchase_dt) AS days_diff
 FROM
 First_Imp_ranked
 WHERE
 impression_order = 1
),
days_to_purchase AS (
 SELECT
 customer_type
 , SUM(days_diff) / 86400 / COUNT(user_key) AS days_to_purchase
 FROM
 First_Imp
 GROUP BY
 1
)
SELECT customer_type, days_to_purchase FROM days_to_purchase;

-- name: amc_iq_compare_path_exposure_stats
-- source: AMC Instructional Query Library, "Compare purchase path of converters versus non-converters" (id 9dff32201298d25a5cb6bdff831926cdbbaac0f5ea526f822312e20f338f3540), 4.2 "Compare purchase path from first impression": its impressions_deduplicate and exposure_stats CTEs over impressions_combined (as in the entry above, the sponsored ads branch only), exposure_stats selected
-- idiom: per user and customer type COUNT(DISTINCT(campaign_group)) and SUM(impressions), then SUM(x) / COUNT(impression_id) per customer type
-- legit
-- people: SELECT CASE WHEN c.user_key IS NULL THEN 'No Purchase' ELSE 'Purchase' END, COUNT(DISTINCT i.user_key) FROM (SELECT DISTINCT user_key FROM impressions WHERE ad_product <> 'dsp') i LEFT JOIN (SELECT DISTINCT user_key FROM conversions WHERE event_type = 'purchase') c ON c.user_key = i.user_key GROUP BY 1
WITH impressions_all AS (
 SELECT
 ad_product AS campaign_group
 ,'sponsored ads' AS product_type
 , user_key
 , SUM(impressions) AS impressions
 FROM
 impressions
 WHERE
 user_key IS NOT NULL
 AND
 ad_product <> 'dsp'
 GROUP BY
 1,2,3
),
converted AS (
 SELECT
 user_key
 , MIN(ts) AS first_purchase_dt
 FROM
 conversions c
 WHERE
 event_type in ('purchase')
 AND
 conversions > 0
 GROUP BY
 1
),
impressions_combined AS (
 SELECT
 i.user_key AS impression_id
 , i.campaign_group
 , i.impressions
 , CASE WHEN c.user_key IS NULL THEN 'No Purchase'
 ELSE 'Purchase'
 END as customer_type
 FROM
 impressions_all i
 LEFT JOIN
 converted c ON i.user_key = c.user_key
),
impressions_deduplicate AS (
 SELECT
 i.impression_id
 , customer_type
 , COUNT(DISTINCT(i.campaign_group)) AS campaign_groups_exposed
 , SUM(i.impressions) AS total_impressions
 FROM
 impressions_combined i
 GROUP BY
 1,2
),
exposure_stats AS (
 SELECT
 customer_type
 , SUM(total_impressions) / COUNT(impression_id) AS impressions_per_user
 , SUM(campaign_groups_exposed) / COUNT(impression_id) AS exposure_groups_per_user
 FROM
 impressions_deduplicate
 GROUP BY
 1
)
SELECT customer_type, impressions_per_user, exposure_groups_per_user FROM exposure_stats;

-- name: adhbi_affinity_retention
-- source: github.com/google/ads-bi-suite sql/adh_bi_calc_affinity.sql (affinity from the impression's UNNEST(affinity) as the CRM segments of the person, device_id as user_key, app as DSP or sponsored ads, the BI table as the brand's per-person first click and revenue, as in adhbi_demographics_retention above)
-- idiom: a per-impression affinity CTE (repeated rows per person), LEFT JOIN USING (device_id, app_id) from the per-device BI table, COUNT(distinct device_id) beside COUNT(device_id), SUM(IFNULL(x, 0)) by affinity
-- legit
-- people: column users
WITH affinity AS (
  SELECT impr.user_key, CASE WHEN impr.ad_product = 'dsp' THEN 'dsp' ELSE 'sponsored' END AS app_id, s.segment AS affinity_name, impr.ts AS query_time
  FROM impressions impr
  LEFT JOIN segments s ON s.user_key = impr.user_key
  WHERE impr.user_key IS NOT NULL
),
bi AS (
  SELECT user_key, CASE WHEN ad_product = 'dsp' THEN 'dsp' ELSE 'sponsored' END AS app_id, 'new' AS user_type, 'web' AS platform,
    MIN(ts) AS install_date, 1 AS day7_retention, 0 AS day7_revenue
  FROM clicks
  GROUP BY user_key, 2
)
SELECT
  user_type,
  platform,
  app_id,
  affinity_name,
  COUNT(distinct user_key) AS users,
  COUNT(user_key) AS total_grouped_users,
  SUM(IFNULL(day7_retention, 0)) AS day7_retention,
  SUM(IFNULL(day7_revenue, 0)) AS day7_revenue
FROM bi
LEFT JOIN affinity aff USING (user_key, app_id)
WHERE epoch_us(install_date) >= epoch_us(query_time)
GROUP BY 1, 2, 3, 4;

-- name: amc_iq_compare_path_exposure_by_group
-- source: AMC Instructional Query Library, "Compare purchase path of converters versus non-converters" (id 9dff32201298d25a5cb6bdff831926cdbbaac0f5ea526f822312e20f338f3540), 4.2 "Compare purchase path from first impression": impressions_deduplicate_campaign, impressions_deduplicate_customer_type, impressions_deduplicate_combined and exposure_stats_campaign over impressions_combined (sponsored ads products as the campaign groups), exposure_stats_campaign selected
-- idiom: two aggregations of one per-person CTE (by customer type and campaign group; by customer type) LEFT JOINed on the customer type, impressions / user_count
-- legit
-- people: SELECT CASE WHEN c.user_key IS NULL THEN 'No Purchase' ELSE 'Purchase' END, i.ad_product, COUNT(DISTINCT i.user_key) FROM impressions i LEFT JOIN (SELECT DISTINCT user_key FROM conversions WHERE event_type = 'purchase') c ON c.user_key = i.user_key WHERE i.ad_product <> 'dsp' GROUP BY 1, 2
WITH impressions_all AS (
 SELECT
 ad_product AS campaign_group
 ,'sponsored ads' AS product_type
 , user_key
 , SUM(impressions) AS impressions
 FROM
 impressions
 WHERE
 user_key IS NOT NULL
 AND
 ad_product <> 'dsp'
 GROUP BY
 1,2,3
),
converted AS (
 SELECT
 user_key
 , MIN(ts) AS first_purchase_dt
 FROM
 conversions c
 WHERE
 event_type in ('purchase')
 AND
 conversions > 0
 GROUP BY
 1
),
impressions_combined AS (
 SELECT
 i.user_key AS impression_id
 , i.campaign_group
 , i.impressions
 , CASE WHEN c.user_key IS NULL THEN 'No Purchase'
 ELSE 'Purchase'
 END as customer_type
 FROM
 impressions_all i
 LEFT JOIN
 converted c ON i.user_key = c.user_key
),
impressions_deduplicate_campaign AS (
 SELECT
 customer_type
 , campaign_group
 , SUM(impressions) as impressions
 FROM
 impressions_combined i
 GROUP BY
 1,2
),
impressions_deduplicate_customer_type AS (
 SELECT
 customer_type
 , COUNT(DISTINCT(impression_id)) as user_count
 FROM
 impressions_combined i
 GROUP BY
 1
),
impressions_deduplicate_combined AS (
 SELECT
 a.customer_type
 , a.campaign_group
 , a.impressions
 , b.user_count
 FROM
 impressions_deduplicate_campaign a
 LEFT JOIN
 impressions_deduplicate_customer_type b ON a.customer_type = b.customer_type
),
exposure_stats_campaign AS (
 SELECT
 customer_type
 , campaign_group
 , user_count
 , impressions
 , impressions/user_count as impressions_user
 FROM
 impressions_deduplicate_combined
)
SELECT customer_type, campaign_group, user_count, impressions, impressions_user FROM exposure_stats_campaign;

-- name: amc_iq_compare_path_first_search
-- source: AMC Instructional Query Library, "Compare purchase path of converters versus non-converters" (id 9dff32201298d25a5cb6bdff831926cdbbaac0f5ea526f822312e20f338f3540), 4.3 "Compare purchase path from first search": searches, converted, searches_combined, search_days, Search_stat and Search_stat_2, the first two stat rows of combined_total_stats; a branded search (searchConversion, tracked_item SIMILAR TO '(?i)brand') as a detail page view of a product category matching '(?i)^(home|beauty)'
-- idiom: per-user first search and first purchase, LEFT JOIN with a WHERE that keeps converters before the purchase or non-converters, COUNT(search_id) and SUM(seconds_between) / 86400 / COUNT(search_id) per customer type, UNION ALL of labelled stat rows with 'NA' campaign_group
-- legit
-- rounded
WITH searches AS (
  SELECT
    user_key,
    MIN(ts) as first_search
  FROM
    conversions
  WHERE
    user_key IS NOT NULL
  AND
     event_type = 'detail_page_view'
  AND
     conversions > 0
  AND
     regexp_matches(product_category, '(?i)^(home|beauty)')
  GROUP BY
     1
),
converted AS (
  SELECT
   user_key,
   MIN(ts) as first_purchase_dt
  FROM
   conversions
  WHERE
   user_key IS NOT NULL
  AND
   event_type = 'purchase'
  AND
    conversions > 0
  GROUP BY
    1
),
searches_combined AS (
   SELECT
         s.user_key AS search_id
       , s.first_search
       , c.user_key AS conversion_id
       , c.first_purchase_dt
       , CASE WHEN c.user_key IS NULL THEN 'No Purchase'
         ELSE 'Purchase'
         END as customer_type
    FROM
         searches s
    LEFT JOIN
         converted c ON s.user_key = c.user_key
    WHERE
        (c.user_key IS NOT NULL AND s.first_search < c.first_purchase_dt)
    OR
        c.user_key IS NULL
),
search_days AS (
     SELECT
         search_id
       , first_search
       , first_purchase_dt
       , customer_type
       , date_diff('second', first_search, first_purchase_dt) AS days_diff_search
     FROM
         searches_combined
    WHERE
         customer_type = 'Purchase'
),
Search_stat AS (
   SELECT
     customer_type
    , COUNT(search_id) as Shoppers
   FROM
     searches_combined
   GROUP BY
     1
),
Search_stat_2 AS (
   SELECT
     customer_type
    , SUM(days_diff_search) / 86400 / COUNT(search_id) as days_between_purchase
   FROM
     search_days
   GROUP BY
     1
),
combined_total_stats AS (
   SELECT
      'total_users' as key_metric
      , customer_type
      , 'NA' campaign_group
      , shoppers as stats
   FROM
     search_stat
   UNION ALL
   SELECT
      'days_to_purchase_per_user' as key_metric
      , customer_type
      , 'NA' campaign_group
      , days_between_purchase as stats
   FROM
     search_stat_2
)
     SELECT
     key_metric
     , customer_type
     , campaign_group
     , stats
   FROM
     combined_total_stats;

-- name: amc_iq_compare_path_first_dpv_days
-- source: AMC Instructional Query Library, "Compare purchase path of converters versus non-converters" (id 9dff32201298d25a5cb6bdff831926cdbbaac0f5ea526f822312e20f338f3540), 4.4 "Compare purchase path from first detail page view": DPV, first_DPV, converted, DPV_combined_first and days_to_purchase, days_to_purchase selected; tracked_item as product_category
-- idiom: a row-level DPV CTE with 1 AS conversion, per-user MIN of it, LEFT JOIN to per-user purchases, CASE WHEN b.user_id IS NULL, seconds_between in the row-level CTE, SUM(days_diff) / 86400 / COUNT(user_id) per customer type (NULL for non-purchasers)
-- legit
-- rounded
-- people: SELECT CASE WHEN c.user_key IS NULL THEN 'No Purchase' ELSE 'Purchase' END, COUNT(DISTINCT d.user_key) FROM (SELECT DISTINCT user_key FROM conversions WHERE event_type = 'detail_page_view') d LEFT JOIN (SELECT DISTINCT user_key FROM conversions WHERE event_type = 'purchase') c ON c.user_key = d.user_key GROUP BY 1
WITH converted AS (
   SELECT
      user_key
    , MIN(ts) AS first_purchase_dt
    , SUM(revenue) AS total_product_sales
   FROM
     conversions c
   WHERE
     event_type in ('purchase')
   AND
     conversions > 0
   GROUP BY
     1
),
DPV AS (
   SELECT
      user_key
    , product_category AS tracked_item
    , ts AS conversion_dt
    , event_type AS event_type_description
    , 1 AS conversion
   FROM
    conversions
   WHERE
    event_type in ('detail_page_view')
   AND
     product_category IS NOT NULL
   AND
    conversions > 0
),
first_DPV AS (
   SELECT
      user_key
    , MIN(conversion_dt) as first_dpv_dt
   FROM
     dpv
   GROUP BY
     1
),
DPV_combined_first AS (
   SELECT
         a.user_key
       , a.first_dpv_dt
       , b.first_purchase_dt
       , b.user_key AS conv_id
       , CASE WHEN b.user_key IS NULL THEN 'No Purchase'
         ELSE 'Purchase'
         END as customer_type
       , date_diff('second', first_dpv_dt, first_purchase_dt) AS days_diff_dpv
    FROM
         first_dpv a
    LEFT JOIN
         converted b ON a.user_key = b.user_key
),
days_to_purchase AS (
    SELECT
      customer_type
    , SUM(days_diff_dpv) / 86400 / COUNT(user_key) AS days_to_purchase
    FROM
      DPV_combined_first
    GROUP BY
       1
)
SELECT customer_type, days_to_purchase FROM days_to_purchase;

-- name: amc_iq_compare_path_first_dpv_per_user
-- source: AMC Instructional Query Library, "Compare purchase path of converters versus non-converters" (id 9dff32201298d25a5cb6bdff831926cdbbaac0f5ea526f822312e20f338f3540), 4.4 "Compare purchase path from first detail page view": DPV_combined_purchase, DPV_combined_no_purchase, DPV_deduplicate and DPV_stats over DPV_combined_first (as in the entry above), DPV_stats selected
-- idiom: the per-user first-DPV table LEFT JOINed back to every DPV row with a WHERE on the joined side, per-user SUM(conversion) in two UNION ALL branches by customer type, SUM(dpvs) / COUNT(user_id)
-- legit
-- people: SELECT a.customer_type, COUNT(DISTINCT a.user_key) FROM (SELECT f.user_key, f.first_dpv_dt, p.first_purchase_dt, CASE WHEN p.user_key IS NULL THEN 'No Purchase' ELSE 'Purchase' END AS customer_type FROM (SELECT user_key, MIN(ts) AS first_dpv_dt FROM conversions WHERE event_type = 'detail_page_view' AND conversions > 0 GROUP BY 1) f LEFT JOIN (SELECT user_key, MIN(ts) AS first_purchase_dt FROM conversions WHERE event_type = 'purchase' AND conversions > 0 GROUP BY 1) p ON p.user_key = f.user_key) a JOIN conversions d ON d.user_key = a.user_key AND d.event_type = 'detail_page_view' AND d.conversions > 0 WHERE (a.customer_type = 'Purchase' AND d.ts BETWEEN a.first_dpv_dt AND a.first_purchase_dt) OR (a.customer_type = 'No Purchase' AND d.ts > a.first_dpv_dt) GROUP BY 1
WITH converted AS (
   SELECT
      user_key
    , MIN(ts) AS first_purchase_dt
   FROM
     conversions c
   WHERE
     event_type in ('purchase')
   AND
     conversions > 0
   GROUP BY
     1
),
DPV AS (
   SELECT
      user_key
    , product_category AS tracked_item
    , ts AS conversion_dt
    , 1 AS conversion
   FROM
    conversions
   WHERE
    event_type in ('detail_page_view')
   AND
     product_category IS NOT NULL
   AND
    conversions > 0
),
first_DPV AS (
   SELECT
      user_key
    , MIN(conversion_dt) as first_dpv_dt
   FROM
     dpv
   GROUP BY
     1
),
DPV_combined_first AS (
   SELECT
         a.user_key
       , a.first_dpv_dt
       , b.first_purchase_dt
       , CASE WHEN b.user_key IS NULL THEN 'No Purchase'
         ELSE 'Purchase'
         END as customer_type
    FROM
         first_dpv a
    LEFT JOIN
         converted b ON a.user_key = b.user_key
),
DPV_combined_purchase AS (
    SELECT
         a.user_key
       , a.first_dpv_dt
       , a.customer_type
       , a.first_purchase_dt
       , b.tracked_item
       , b.conversion
       , b.conversion_dt
    FROM
       DPV_combined_first a
    LEFT JOIN
       DPV b ON a.user_key = b.user_key
    WHERE
         a.customer_type = 'Purchase'
    AND
        b.conversion_dt BETWEEN a.first_dpv_dt AND first_purchase_dt
),
DPV_combined_no_purchase AS (
SELECT
         a.user_key
       , a.first_dpv_dt
       , a.customer_type
       , a.first_purchase_dt
       , b.tracked_item
       , b.conversion
       , b.conversion_dt
    FROM
       DPV_combined_first a
    LEFT JOIN
       DPV b ON a.user_key = b.user_key
    WHERE
         a.customer_type = 'No Purchase'
    AND
        b.conversion_dt > a.first_dpv_dt
),
DPV_deduplicate AS (
    SELECT
       user_key
     , customer_type
     , SUM(conversion) AS dpvs
   FROM
     DPV_combined_purchase
   GROUP BY
     1,2
  UNION ALL
  SELECT
       user_key
     , customer_type
     , SUM(conversion) AS dpvs
   FROM
     DPV_combined_no_purchase
   GROUP BY
     1,2
),
DPV_stats AS (
   SELECT
       customer_type
     , SUM(dpvs) / COUNT(user_key) AS dpvs_per_user
   FROM
     DPV_deduplicate
   GROUP BY
     1
)
SELECT customer_type, dpvs_per_user FROM DPV_stats;

-- name: amc_iq_reach_frequency_dsp
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/99848f9f4a2aa1d0ef07d6e15720c129e737dcfa329ae54de2589b07c4724e48 ("Reach and frequency", template "DSP reach and impression frequency"); dsp_impressions as impressions of ad_product 'dsp', advertiser as the constant 'brand' (an AMC instance holds one advertiser), the dsp_campaigns parameter left empty (every campaign), BUILT_IN_PARAMETER('TIME_WINDOW_START' / 'TIME_WINDOW_END') as the data's first and last day; frequency compared with the text '1' (AMC compares a VARCHAR with a number implicitly). The sandbox reads metrics as DOUBLE, so the labels read 'frequency_3.0' and the CASE relabel finds none of its 'frequency_3' (NULL frequency), on both sides alike
-- idiom: a per-user SUM in a CTE named like the table it reads, IF(n < 10, CONCAT('frequency_', n), 'frequency_10+') buckets, SUM(users_in_bucket) OVER (PARTITION BY advertiser) as a share's denominator, a ten-branch CASE relabelling the buckets, CONCAT of a ROUNDed share into an insight sentence
-- legit
-- people: column users_in_bucket
WITH
impressions AS (
  SELECT
    'brand' AS advertiser,
    user_key,
    SUM(impressions) AS impressions
  FROM
    impressions
  WHERE
    ad_product = 'dsp'
    -- exclude users without a known user_id to prevent them from being grouped together.
    AND user_key IS NOT NULL
  GROUP BY
    advertiser,
    user_key
),
cte1 AS
(
SELECT
  advertiser,
  IF(
    impressions < 10,
    CONCAT('frequency_', impressions),
    'frequency_10+'
  ) AS frequency_buckets,
  COUNT(DISTINCT user_key) AS users_in_bucket,
  SUM(impressions) AS impressions_in_bucket
FROM
  impressions
GROUP BY
  advertiser,
  frequency_buckets),
  cte2 as (
 SELECT
 advertiser,
 frequency_buckets,
 users_in_bucket,
 impressions_in_bucket,
      SUM(users_in_bucket) OVER (partition by advertiser) as sum_users_advertiser,
  CASE WHEN frequency_buckets = 'frequency_1' THEN '1'
   WHEN frequency_buckets = 'frequency_2' THEN '2'
   WHEN frequency_buckets = 'frequency_3' THEN '3'
   WHEN frequency_buckets = 'frequency_4' THEN '4'
   WHEN frequency_buckets = 'frequency_5' THEN '5'
   WHEN frequency_buckets = 'frequency_6' THEN '6'
   WHEN frequency_buckets = 'frequency_7' THEN '7'
   WHEN frequency_buckets = 'frequency_8' THEN '8'
   WHEN frequency_buckets = 'frequency_9' THEN '9'
   WHEN frequency_buckets = 'frequency_10+' THEN '10+'
 END AS frequency
  from cte1
  )
  SELECT
   'DSP Impression Reach and Frequency' as AMC_template_name,
CAST (TIMESTAMP '2026-09-01' AS DATE) as Start_Date,
CAST (TIMESTAMP '2026-09-30' AS DATE) as End_Date,
advertiser,
 frequency_buckets,
 users_in_bucket,
 impressions_in_bucket,
 ROUND ((users_in_bucket/sum_users_advertiser*100),2) AS reach_percentage,
   CONCAT (
    ROUND ((users_in_bucket/sum_users_advertiser*100),2)
    ,
      '% of users were exposed to the ad ',
      frequency, CASE when frequency = '1' then ' time' else
      ' times' END
    ) AS insight1
  from CTE2;

-- name: amc_iq_reach_frequency_omnichannel
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/99848f9f4a2aa1d0ef07d6e15720c129e737dcfa329ae54de2589b07c4724e48 ("Reach and frequency", template "Omni-channel reach and impression frequency"); dsp_impressions / sponsored_ads_traffic as impressions of ad_product 'dsp' / the others, advertiser as the constant 'brand', the dsp_campaigns and sa_campaigns parameters left empty, the time window as the data's first and last day; frequency compared with '1' (labels read 'frequency_3.0', as in amc_iq_reach_frequency_dsp)
-- idiom: per-user SUMs of two ad products UNION ALLed and collapsed per user (de-duplicated reach), frequency buckets, a windowed SUM of the bucket reach as the share's denominator, CASE relabel, CONCAT insight
-- legit
-- people: column users_in_bucket
WITH impressions_stacked AS (
  SELECT
    'brand' AS advertiser,
    user_key,
    SUM(impressions) AS impressions
  FROM
    impressions
  WHERE
    user_key IS NOT NULL
    AND ad_product = 'dsp'
  GROUP BY
    1,
    2
  UNION ALL
  SELECT
    'brand' AS advertiser,
    user_key,
    SUM(impressions) AS impressions
  FROM
    impressions
  WHERE
    user_key IS NOT NULL
    AND ad_product <> 'dsp'
  GROUP BY
    1,
    2
),
impressions_collapsed AS (
  SELECT
    advertiser,
    user_key,
    SUM(impressions) AS impressions
  FROM
    impressions_stacked
  GROUP BY
    1,
    2
),
cte1 AS (
  SELECT
    advertiser,
    IF(
      impressions < 10,
      CONCAT('frequency_', impressions),
      'frequency_10+'
    ) AS frequency_bucket,
    COUNT(DISTINCT user_key) AS users_in_bucket,
    SUM(impressions) AS impressions_in_bucket
  FROM
    impressions_collapsed
  GROUP BY
    1,
    2
),
cte2 AS (
  SELECT
    advertiser,
    frequency_bucket,
    users_in_bucket,
    impressions_in_bucket,
    SUM(users_in_bucket) OVER (PARTITION BY advertiser) AS sum_users_advertiser,
    CASE
      WHEN frequency_bucket = 'frequency_1' THEN '1'
      WHEN frequency_bucket = 'frequency_2' THEN '2'
      WHEN frequency_bucket = 'frequency_3' THEN '3'
      WHEN frequency_bucket = 'frequency_4' THEN '4'
      WHEN frequency_bucket = 'frequency_5' THEN '5'
      WHEN frequency_bucket = 'frequency_6' THEN '6'
      WHEN frequency_bucket = 'frequency_7' THEN '7'
      WHEN frequency_bucket = 'frequency_8' THEN '8'
      WHEN frequency_bucket = 'frequency_9' THEN '9'
      WHEN frequency_bucket = 'frequency_10+' THEN '10+'
    END AS frequency
  FROM
    cte1
)
SELECT
  'Omni-channel Impression Reach and Frequency' AS AMC_template_name,
  CAST (TIMESTAMP '2026-09-01' AS DATE) AS Start_Date,
  CAST (TIMESTAMP '2026-09-30' AS DATE) AS End_Date,
  advertiser,
  frequency_bucket,
  users_in_bucket,
  impressions_in_bucket,
  ROUND ((users_in_bucket / sum_users_advertiser * 100), 2) AS reach_percentage,
  CONCAT (
    ROUND ((users_in_bucket / sum_users_advertiser * 100), 2),
    '% of users were exposed to the ad ',
    frequency,
    CASE
      WHEN frequency = '1' THEN ' time'
      ELSE ' times'
    END
  ) AS insight1
FROM
  CTE2;

-- name: amc_iq_incremental_reach_explore_dsp
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/b1109615c3699ba0ff4c902a546fea8a0281f20b93e206effab9851c2d3daeb0 ("Campaign Incremental Reach with Timing of Exposure", 4.1 Exploratory Query for DSP campaigns); dsp_impressions as impressions of ad_product 'dsp', advertiser as the constant 'brand', campaign_id and campaign both as the campaign (our campaigns are named by their ids), campaign_start_date / campaign_end_date (campaign metadata we do not have) dropped
-- idiom: campaign listing with SUM(impressions), GROUP BY ordinals over a constant and two columns
-- legit
SELECT
  'brand' AS advertiser,
  campaign AS campaign_id,
  campaign,
  sum(impressions) as impressions
FROM
  impressions
WHERE
  ad_product = 'dsp'
GROUP BY
  1,
  2,
  3;

-- name: amc_iq_incremental_reach_explore_sponsored_ads
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/b1109615c3699ba0ff4c902a546fea8a0281f20b93e206effab9851c2d3daeb0 ("Campaign Incremental Reach with Timing of Exposure", 4.2 Exploratory Query for Sponsored Ads campaigns); sponsored_ads_traffic as impressions of the sponsored ad products, advertiser as the constant 'brand', campaign_start_date / campaign_end_date dropped
-- idiom: campaign and ad product listing with SUM(impressions); the three-person pilot campaign must be withheld
-- legit
-- people: SELECT 'brand', campaign, ad_product, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product <> 'dsp' GROUP BY 1, 2, 3
SELECT
  'brand' AS advertiser,
  campaign,
  ad_product AS ad_product_type,
  sum(impressions) as impressions
FROM
  impressions
WHERE
  ad_product <> 'dsp'
GROUP BY
  1,
  2,
  3;

-- name: amc_iq_incremental_reach_timing_of_exposure
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/b1109615c3699ba0ff4c902a546fea8a0281f20b93e206effab9851c2d3daeb0 ("Campaign Incremental Reach with Timing of Exposure", 5. Query Template, DSP-only form); focus DSP campaign 1111111111 as dsp_conversion, base campaigns 2222222222 / 3333333333 as dsp_awareness / dsp_consideration, dsp_impressions as impressions, impression_dt as ts
-- idiom: VALUES campaign lists as CTEs used in IN (SELECT ...), per-user MIN(first impression) per campaign group, FULL OUTER JOIN with COALESCE of the user ids, CASE on the order of first exposures, a constant 'table' key joining a per-group reach to the total reach, a ratio of two counts, GROUP BY 1, 2, 3, 4 over the final columns
-- legit
-- people: column campaign_group_reach
WITH ---- Start: set your focus campaign(s) ------
focus AS (
  SELECT
    campaign_id
  FROM
    (
      VALUES
        ('dsp_conversion')
    ) AS b(campaign_id)
),
base AS (
  SELECT
    campaign_id
  FROM
    (
      VALUES
        ('dsp_awareness'),
        ('dsp_consideration')
    ) AS c(campaign_id)
),
focus_reach_timing AS (
  SELECT
    user_key,
    MIN(ts) focus_first_imp_dt
  FROM
    impressions
  WHERE
    campaign IN (
      SELECT
        campaign_id
      FROM
        focus
    )
  GROUP BY
    1
),
base_reach_timing AS (
  SELECT
    user_key,
    MIN(ts) base_first_imp_dt
  FROM
    impressions
  WHERE
    campaign IN (
      SELECT
        campaign_id
      FROM
        base
    )
  GROUP BY
    1
),
-- Timing of first focus campaign impression vs other placements
combined AS (
  SELECT
    COALESCE(fc.user_key, base.user_key) user_key,
    fc.focus_first_imp_dt,
    base.base_first_imp_dt
  FROM
    focus_reach_timing fc
    FULL OUTER JOIN base_reach_timing base ON fc.user_key = base.user_key
  GROUP BY
    1,
    2,
    3
),
combined2 AS (
  SELECT
    'table' tb -- used for final join
,
    CASE
      WHEN base_first_imp_dt IS NULL THEN 'focus_campaign_incremental_reach'
      WHEN focus_first_imp_dt <= base_first_imp_dt THEN 'exposed_to_focus_campaign_first'
      WHEN focus_first_imp_dt > base_first_imp_dt THEN 'exposed_to_base_campaign_first'
      ELSE 'other'
    END exposure_timing_group,
    COUNT(DISTINCT user_key) reach
  FROM
    combined
  WHERE
    focus_first_imp_dt IS NOT NULL
  GROUP BY
    1,
    2
),
tot_focus_reach AS (
  SELECT
    'table' tb -- used for final join
,
    COUNT(DISTINCT user_key) tot_focus_reach
  FROM
    focus_reach_timing
  GROUP BY
    1
),
final AS (
  SELECT
    c2.exposure_timing_group,
    c2.reach,
    tot.tot_focus_reach
  FROM
    combined2 c2
    LEFT JOIN tot_focus_reach tot ON c2.tb = tot.tb
)
SELECT
  exposure_timing_group,
  reach AS campaign_group_reach,
  tot_focus_reach AS focus_campaign_reach,
  reach / tot_focus_reach AS reach_perc
FROM
  final
GROUP BY
  1,
  2,
  3,
  4;

-- name: amc_iq_segment_path_explore_dsp_campaigns
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/3b9173ecd3bd86d99e68be74ec2901a00dc9f88013bce0b4693765d90ff40abf ("Path to conversion by audience segment", exploratory query "Identify Amazon DSP campaigns"); dsp_impressions as impressions of ad_product 'dsp', campaign_id_string as the campaign
-- idiom: campaign listing with SUM(impressions), GROUP BY 1, 2
-- legit
SELECT
  campaign,
  campaign AS campaign_id_string,
  SUM(impressions) AS impressions
FROM
  impressions
WHERE
  ad_product = 'dsp'
GROUP BY
  1,
  2;

-- name: amc_iq_segment_path_explore_sponsored_ads
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/3b9173ecd3bd86d99e68be74ec2901a00dc9f88013bce0b4693765d90ff40abf ("Path to conversion by audience segment", exploratory query "Identify sponsored ads campaigns"); sponsored_ads_traffic as impressions of the sponsored ad products
-- idiom: campaign and ad product listing with SUM(impressions); the three-person pilot campaign must be withheld
-- legit
-- people: SELECT campaign, ad_product, COUNT(DISTINCT user_key) FROM impressions WHERE ad_product <> 'dsp' GROUP BY 1, 2
SELECT
  campaign,
  ad_product AS ad_product_type,
  SUM(impressions) AS impressions
FROM
  impressions
WHERE
  ad_product <> 'dsp'
GROUP BY
  1,
  2;

-- name: amc_iq_segment_path_explore_segment_ids
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/3b9173ecd3bd86d99e68be74ec2901a00dc9f88013bce0b4693765d90ff40abf ("Path to conversion by audience segment", exploratory query "Identify audience segment IDs"); dsp_impressions_by_user_segments as DSP impressions joined to the brand's CRM segments on the person, behavior_segment_name and behavior_segment_id both as the segment (our segments are named by their ids)
-- idiom: GROUP BY with no aggregate at all (a list of the segment values seen), over a join of exposures to segments; the 15-person segment must be withheld
-- legit
-- people: SELECT s.segment, s.segment, COUNT(DISTINCT i.user_key) FROM impressions i JOIN segments s ON i.user_key = s.user_key WHERE i.ad_product = 'dsp' GROUP BY 1, 2
SELECT
  s.segment AS behavior_segment_name,
  s.segment AS behavior_segment_id
FROM
  impressions i
  JOIN segments s ON i.user_key = s.user_key
WHERE
  i.ad_product = 'dsp'
GROUP BY
  1,
  2;

-- name: amc_iq_segment_path_explore_off_amazon_conversions
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/3b9173ecd3bd86d99e68be74ec2901a00dc9f88013bce0b4693765d90ff40abf ("Path to conversion by audience segment", exploratory query "Identify off-Amazon conversion IDs and types"); amazon_attributed_events_by_traffic_time as the brand's conversions within 14 days after a DSP impression (a CTE; each a pixel conversion, category 'off-Amazon'), conversion_event_type_description as event_type, tracked_item as product_category, campaign_id_string as the campaign
-- idiom: attributed-events listing with SUM(conversions), conversions > 0, IN ('pixel', 'off-Amazon'), GROUP BY 1, 2, 3, 4; the sparse sign-up cells must be withheld
-- legit
-- people: WITH a AS (SELECT c.user_key, i.campaign, c.event_type, c.product_category FROM conversions c JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY WHERE i.ad_product = 'dsp') SELECT campaign, campaign, event_type, product_category, COUNT(DISTINCT user_key) FROM a GROUP BY 1, 2, 3, 4
WITH amazon_attributed_events_by_traffic_time AS (
  SELECT c.user_key, i.campaign, c.event_type AS conversion_event_type_description,
         c.product_category AS tracked_item, c.conversions, 'off-Amazon' AS conversion_event_category
  FROM conversions c
  JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE i.ad_product = 'dsp'
)
SELECT
    campaign,
    campaign AS campaign_id_string,
    conversion_event_type_description,
    tracked_item,
    SUM(conversions) AS conversions
  FROM
    amazon_attributed_events_by_traffic_time
  WHERE
    user_key IS NOT NULL
    AND conversions > 0
    AND conversion_event_category in ('pixel','off-Amazon')
  GROUP BY
    1,
    2,
    3,
    4;

-- name: amc_iq_segment_path_to_conversion_dsp_and_sponsored_ads
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/3b9173ecd3bd86d99e68be74ec2901a00dc9f88013bce0b4693765d90ff40abf ("Path to conversion by audience segment", 4.5.2 On-Amazon path to conversion (Amazon DSP and sponsored ads campaigns)); the campaign_group VALUES as the three DSP campaigns (dsp, prime_video, olv), dsp_impressions / sponsored_ads_traffic as impressions by ad_product, audience_segments_amer_inmarket with segment_id IN (9999) as the brand's CRM segment 'sports_fans' (segment_marketplace_id = 1 dropped: one market), amazon_attributed_events_by_traffic_time as purchases within 14 days after an impression (a CTE; ad_product_type NULL for DSP, as in AMC; the new-to-brand sales and purchases as IF(new_to_brand, ...)); NAMED_ROW as a DuckDB struct, ARRAY_SORT(COLLECT(DISTINCT ...)) as list_sort(list(DISTINCT ...)); DSP millicents and sponsored ads microcents both as cents (/ 100 in both IF branches)
-- idiom: a UNION ALL of per-user, per-group first impression and totals from two ad products, the focus audience as an IN (SELECT user_id ... GROUP BY 1) filter on exposed users, per-user last conversion with MAX(IF(new_to_brand = TRUE, 1, 0)), impressions before the conversion kept by an OR IS NULL filter, a sorted array of (order, group) rows as the path, per-user dedupe joined back per path, three ratios of aggregates
-- legit
-- people: column path_occurrences
WITH campaign_group (campaign_id_string, campaign_group) AS (
  VALUES
    ('dsp_awareness', 'dsp'),
    ('dsp_consideration', 'prime_video'),
    ('dsp_conversion', 'olv')
),
amazon_attributed_events_by_traffic_time AS (
  SELECT c.user_key, i.campaign AS campaign_id_string,
         CASE WHEN i.ad_product = 'dsp' THEN NULL ELSE i.ad_product END AS ad_product_type,
         c.ts AS conversion_event_dt_utc, c.revenue AS product_sales, c.conversions AS purchases, c.new_to_brand,
         IF(c.new_to_brand, c.revenue, 0) AS new_to_brand_product_sales,
         IF(c.new_to_brand, c.conversions, 0) AS new_to_brand_purchases
  FROM conversions c
  JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE c.event_type = 'purchase'
),
--P2C Purchases
/* Query Start */
impressions AS (
  SELECT
    COALESCE(dsp.campaign_group, 'DSP-Others') AS campaign_group,
    'DSP' AS product_type,
    user_key,
    MIN(ts) AS impression_dt_first,
    SUM(impressions) AS impressions,
    SUM(cost) AS total_cost
  FROM
    impressions i
    INNER JOIN campaign_group dsp ON dsp.campaign_id_string = i.campaign
  WHERE
    user_key IS NOT NULL
  GROUP BY
    1,
    2,
    3
  UNION ALL
-- All sponsored ads campaigns are captured for ease of the user
  SELECT
    ad_product AS campaign_group, -- comment this line if above campaign groupings are applied
    'SA' AS product_type,
    user_key,
    MIN(ts) AS impression_dt_first,
    SUM(impressions) AS impressions,
    SUM(cost) AS total_cost
  FROM
    impressions s
    WHERE
    user_key IS NOT NULL
    AND ad_product <> 'dsp'
  GROUP BY
    1,
    2,
    3
),
impressions_segment AS (
  SELECT
    user_key
  FROM
    segments
  WHERE
    user_key IN (
      SELECT
        user_key
      FROM
        impressions
      GROUP BY
        1
    ) -- exposed users
    AND user_key IS NOT NULL
    AND segment IN ('sports_fans')
  GROUP BY
    1
),
-- gather conversions --
converted AS (
  SELECT
    user_key,
    MAX(conversion_event_dt_utc) AS conversion_event_dt_last,
    -- Sales metrics
    SUM(product_sales) AS product_sales,
    SUM(purchases) AS purchases,
    -- NTB sales metrics
    MAX(IF(new_to_brand = TRUE, 1, 0)) AS ntb_cust,
    SUM(new_to_brand_product_sales) AS ntb_product_sales,
    SUM(new_to_brand_purchases) AS ntb_purchases
  FROM
    amazon_attributed_events_by_traffic_time
  WHERE
    purchases > 0
    AND user_key IS NOT NULL
    AND user_key IN (
      SELECT
        user_key
      FROM
        impressions_segment
      GROUP BY
        1
    )
    AND (campaign_id_string IN (Select d.campaign_id_string from campaign_group d) OR ad_product_type IS NOT NULL) -- comment this line if Sponsored Ads campaign groupings are applied above
  GROUP BY
    1
),
-- only include impressions that happened before conversion event time --
filter_impressions AS (
  SELECT
    i.user_key AS imp_user_id,
    c.user_key AS pur_user_id,
    i.campaign_group,
    i.impressions,
    i.impression_dt_first,
    IF(
      i.product_type IN (
        'DSP'
      ),
      (i.total_cost / 100),
      (i.total_cost / 100)
    ) AS total_cost,
    c.conversion_event_dt_last,
    COALESCE(c.product_sales, 0) AS product_sales,
    COALESCE(c.purchases, 0) AS purchases,
    COALESCE(c.ntb_cust, 0) AS ntb_cust,
    COALESCE(c.ntb_purchases, 0) AS ntb_purchases,
    COALESCE(c.ntb_product_sales, 0) AS ntb_product_sales
  FROM
    impressions i
    LEFT JOIN converted c ON c.user_key = i.user_key
  WHERE
    (
      (
        c.user_key IS NOT NULL
        AND i.impression_dt_first < c.conversion_event_dt_last
      )
      OR c.user_key IS NULL
    )
    AND i.user_key IN (
      SELECT
        user_key
      FROM
        impressions_segment
      GROUP BY
        1
    ) -- exposed segment
),
-- order campaigns based on impression event time--
ranked AS (
  SELECT
    {'order': ROW_NUMBER() OVER (
        PARTITION BY f.imp_user_id
        ORDER BY
          f.impression_dt_first
      ),
      'campaign_group': f.campaign_group} AS campaign_order,
    imp_user_id
  FROM
    filter_impressions f
  WHERE
    f.imp_user_id IS NOT NULL
),
-- create campaign path group by user --
assembled AS (
  SELECT
    list_sort(list(DISTINCT a.campaign_order)) AS path,
    a.imp_user_id
  FROM
    ranked a
  GROUP BY
    a.imp_user_id
),
-- dedupe table conversions to represent each row as each user --
filter_impressions_dedupe AS (
  SELECT
    imp_user_id AS imp_user_id,
    SUM(impressions) AS impressions,
    SUM(total_cost) AS total_cost,
    MAX(IF(pur_user_id IS NOT NULL, 1, 0)) AS converted,
    MAX(product_sales) AS product_sales,
    MAX(purchases) AS purchases,
    MAX(ntb_cust) AS ntb_cust,
    MAX(ntb_purchases) AS ntb_purchases,
    MAX(ntb_product_sales) AS ntb_product_sales
  FROM
    filter_impressions
  GROUP BY
    imp_user_id
),
-- assemble impressions and conversions --
assembled_with_imp_conv AS (
  SELECT
    path AS path,
    COUNT(DISTINCT a.imp_user_id) AS reach,
    SUM(b.impressions) AS impressions,
    SUM(b.total_cost) AS imp_total_cost,
    SUM(b.converted) AS users_that_purchased,
    SUM(b.product_sales) AS sales_amount,
    SUM(b.purchases) AS purchases,
    SUM(b.ntb_cust) AS ntb_users_that_purchased,
    SUM(b.ntb_product_sales) AS ntb_sales_amount,
    SUM(b.ntb_purchases) AS ntb_purchases
  FROM
    assembled a
    LEFT JOIN filter_impressions_dedupe b ON a.imp_user_id = b.imp_user_id
  GROUP BY
    path
) -- FINAL SELECT
SELECT
  path,
  reach AS path_occurrences,
  impressions,
  imp_total_cost,
  users_that_purchased,
  sales_amount,
  purchases,
  (users_that_purchased / reach) AS user_purchase_rate,
  ntb_users_that_purchased,
  ntb_sales_amount,
  ntb_purchases,
  (ntb_users_that_purchased / users_that_purchased) AS ntb_percentage,
  (imp_total_cost / users_that_purchased) AS cpa
FROM
  assembled_with_imp_conv;

-- name: adh_dynamic_reporting_path_analysis
-- source: Google LLC's Ads Data Hub query builder for Sheets (Apps Script, Apache-2.0, "Copyright 2021 Google LLC"), const PATHING_ANALYSIS_QUERY_TEMPLATE, in the public GitHub code index (file id 32782063844; the repository's name is not in the index's answer); its QueryBuilder fills __DYNAMIC_REPORTING_GROUPING_TAG__ with the user's CASE grouping and __DYNAMIC_REPORTING__SET_NAME_TAG__ with its name: here one grouping of the campaign's ad product (DSP / Sponsored ads) named channel_group, no optional filters, @path_length 3; adh.cm_paths' UNNEST(path.events) as the UNION ALL of impressions (VIEW), clicks (CLICK) and the brand's conversions (FLOODLIGHT, the event type as activity_id, @activity_ids as 'purchase'), the cm_dt_campaign metadata table as a VALUES list of the publisher's campaigns and their ad products, the site / placement / advertiser / browser / DMA lookups (unused by this grouping) dropped, IFNULL(first_floodlight_time, 0) with the epoch as the timestamp default
-- idiom: per-user first conversion as a LEFT JOINed flag, lookup LEFT JOIN of DISTINCT metadata, touches before the conversion (<= IFNULL(..) OR IS NULL), ROW_NUMBER DESC per user truncating the path to the last n touches, STRING_AGG(... ' >> ' ORDER BY event_time) per user, SUM / COUNT of the flag per path, user_id <> "0"
-- legit
-- people: WITH p AS (SELECT user_key, ts AS t, 'VIEW' AS e, NULL AS a, campaign FROM impressions UNION ALL SELECT user_key, ts, 'CLICK', NULL, campaign FROM clicks UNION ALL SELECT user_key, ts, 'FLOODLIGHT', event_type, NULL FROM conversions), z AS (SELECT user_key, min(t) AS f FROM p WHERE e = 'FLOODLIGHT' AND a = 'purchase' GROUP BY 1), tp AS (SELECT p.user_key, CASE WHEN campaign LIKE 'dsp%' THEN 'DSP' WHEN campaign IS NOT NULL THEN 'Sponsored ads' END AS g, t, CAST(z.user_key IS NOT NULL AS INTEGER) AS c, ROW_NUMBER() OVER (PARTITION BY p.user_key ORDER BY t DESC) AS n FROM p LEFT JOIN z ON p.user_key = z.user_key WHERE (t <= f OR f IS NULL) AND e <> 'FLOODLIGHT'), u AS (SELECT user_key, STRING_AGG(g, ' >> ' ORDER BY t) AS path, max(c) AS c FROM tp WHERE n <= 3 GROUP BY 1) SELECT path, IF(sum(c) >= 50 AND (count(*) - sum(c) = 0 OR count(*) - sum(c) >= 50), count(*), 0) FROM u GROUP BY 1
-- why: a path is released when its people (total_paths, one row per person) reach 50 and its conv_rate can be shown: ORDER BY conv_rate reads SUM(conv_flag), so a path whose converters are 1 to 49, or whose converters and people differ by 1 to 49 (the difference check), is withheld whole (docs/gate.md: a row whose ORDER BY reads a withheld aggregate), as the people line computes
WITH paths AS (
  SELECT user_key, ts AS event_time, 'VIEW' AS event_type, NULL AS activity_id, campaign FROM impressions
  UNION ALL
  SELECT user_key, ts AS event_time, 'CLICK' AS event_type, NULL AS activity_id, campaign FROM clicks
  UNION ALL
  SELECT user_key, ts AS event_time, 'FLOODLIGHT' AS event_type, event_type AS activity_id, NULL AS campaign FROM conversions
),
trunc_paths AS (
  SELECT
    adh_paths.user_key,
    CASE WHEN camp.ad_product = 'dsp' THEN 'DSP'
         WHEN camp.ad_product LIKE 'sponsored%' THEN 'Sponsored ads' END AS channel_group,
     adh_paths.event_time,
    CASE WHEN conv_flag = 1 THEN 1 ELSE 0 END as conv_flag,
    ROW_NUMBER() OVER(PARTITION BY adh_paths.user_key ORDER BY adh_paths.event_time DESC) AS touch_num
  FROM
    paths adh_paths
  LEFT JOIN (
    SELECT
      user_key,
      min(cm_pths.event_time) AS first_floodlight_time,
      1 AS conv_flag
    FROM
      paths cm_pths
    WHERE
      cm_pths.event_type = 'FLOODLIGHT'
      AND cm_pths.activity_id IN ('purchase')
      AND user_key <> '0'
      AND user_key IS NOT NULL
    GROUP BY
      1) z
  ON adh_paths.user_key = z.user_key
  LEFT JOIN (select distinct campaign, ad_product from (VALUES ('dsp_awareness', 'dsp'), ('dsp_consideration', 'dsp'),
                      ('dsp_conversion', 'dsp'), ('sp_brand_terms', 'sponsored_products'), ('sp_category', 'sponsored_products'),
                      ('sb_video', 'sponsored_brands'), ('sd_retargeting', 'sponsored_display'),
                      ('stv_pilot', 'sponsored_tv')) AS cm_dt_campaign(campaign, ad_product)) camp
    ON adh_paths.campaign = camp.campaign
  WHERE
    (adh_paths.event_time <= IFNULL(first_floodlight_time, TIMESTAMP '1970-01-01')
    OR first_floodlight_time IS NULL)
    AND adh_paths.user_key <> '0'
    AND adh_paths.user_key IS NOT NULL
    AND adh_paths.event_type <> 'FLOODLIGHT'
  )
  SELECT
    full_path,
    SUM(conv_flag) as conversions,
    COUNT(conv_flag) as total_paths,
    SUM(conv_flag)/COUNT(conv_flag) as conv_rate
  FROM (
    SELECT
      user_key,
      STRING_AGG(channel_group, ' >> ' ORDER BY event_time asc) as full_path,
      max(conv_flag) as conv_flag
    FROM
      trunc_paths
    WHERE
      touch_num <= if(3 = 0, 25, 3)
    GROUP BY
      user_key)
  GROUP BY
    full_path
  ORDER BY
    conv_rate DESC;

-- name: adh_dynamic_reporting_optimal_frequency
-- source: Google LLC's Ads Data Hub query builder for Sheets (Apps Script, Apache-2.0, "Copyright 2021 Google LLC"), const OPTIMAL_FREQUENCY_QUERY_TEMPLATE, in the public GitHub code index (file id 32190950520); the grouping tag rendered as one grouping over the whole advertiser (CASE WHEN advertiser = ... THEN 'brand' END, a constant here: our conversions carry no campaign), no optional filters, @activity_ids as event_type 'purchase'; adh.cm_dt_activities / cm_dt_impressions / cm_dt_clicks as the brand's conversions / impressions / clicks, event.event_time as ts, the metadata lookups (unused by this grouping) dropped, STRING as VARCHAR
-- idiom: per-user, per-activity-time conversion counts, impressions and clicks UNION ALLed (SELECT *), LEFT JOIN ... USING (user_id, grouping) and COUNT(*) as the per-user frequency, CASE WHEN frequency <= 20 THEN CAST(frequency AS STRING) ELSE '21' END, COUNT(DISTINCT) / SUM per capped frequency
-- legit
-- people: column unique_cookies
with conversion_by_activity_ID as (
  select
  user_key,
  ts as activity_time,
  'brand' AS grouping_set,
  count(*) as conversions
  from conversions activity
  where user_key != '0'
  and event_type IN ('purchase')
  group by 1,2 ,grouping_set
  ),
 impressions_by_custom_grouping AS (
  SELECT
    user_key,
    'brand' AS grouping_set,
    ts AS Interaction_Time,
  FROM impressions imp
  WHERE user_key != '0'
),
clicks_by_custom_grouping AS (
  SELECT
    user_key,
    'brand' AS grouping_set,
    ts AS Interaction_Time,
  FROM clicks clicks
  WHERE user_key != '0'
  ),
impressions_and_clicks as (
select * from impressions_by_custom_grouping
union all
select * from clicks_by_custom_grouping
),
conversion_joined AS (
  SELECT
    a.user_key,
    conversions,
    grouping_set,
    COUNT(*) AS frequency
  FROM impressions_and_clicks a
  LEFT JOIN conversion_by_activity_ID b
  USING (user_key ,grouping_set)
  group by 1,2 ,grouping_set
)
select
  CASE
      WHEN frequency <= 20 THEN CAST(frequency AS VARCHAR)
      ELSE '21'
  END AS frequency_capped,
  grouping_set,
  COUNT(distinct user_key) AS unique_cookies,
  sum(frequency) AS impressions,
  sum(conversions) as conversions,
FROM conversion_joined
GROUP BY 1 ,grouping_set;

-- name: adh_dynamic_reporting_overlap_with_google_media
-- source: Google LLC's Ads Data Hub query builder for Sheets (Apps Script, Apache-2.0, "Copyright 2021 Google LLC"), const OVERLAP_WITH_GOOGLE_MEDIA_QUERY_TEMPLATE, in the public GitHub code index (file id 32989241207); adh.cm_dt_impressions as impressions, the cm_dt_site lookup as a VALUES table naming each ad product as a site, Google's own media (its first pattern '%dbm%', DV360's old name) as the publisher's DSP ('%dsp%'), the other nine patterns kept; no optional filters; the advertiser / campaign / placement / browser / DMA lookups (unused) dropped
-- idiom: a ten-way OR of lower(site) LIKE patterns as a 0/1 bucket (and the template's ten-way OR of NOT LIKEs, true for every site), per-user SUMs of the buckets, a CASE overlap flag per user LEFT JOINed back to the events (a.*, USING (user_id)), reach per site overall and among overlapping users, the two LEFT JOINed USING (site) and grouped on all three columns
-- legit
-- people: column overall_reach
with audiences_by_impression AS (
  SELECT
    user_key,
    site_mt.site,

    CASE WHEN lower(site_mt.site) like '%dsp%'
    or lower(site_mt.site) like '%dv3%'
    or lower(site_mt.site) like'%doubleclick%'
    or lower(site_mt.site) like'%google%'
    or lower(site_mt.site) like'%display & video 360%'
    or lower(site_mt.site) like'%dc bid mgr%'
    or lower(site_mt.site) like'gdn'
    or lower(site_mt.site) like'youtube'
    or lower(site_mt.site) like'bidmanager_dfasite'
    or lower(site_mt.site) like'%invite media%'
    THEN 1 ELSE 0
    END AS Google_Audience_Bucket,

    CASE WHEN lower(site_mt.site) not like '%dsp%'
    or lower(site_mt.site) not like '%dv3%'
    or lower(site_mt.site) not like'%doubleclick%'
    or lower(site_mt.site) not like'%google%'
    or lower(site_mt.site) not like'%display & video 360%'
    or lower(site_mt.site) not like'%dc bid mgr%'
    or lower(site_mt.site) not like'gdn'
    or lower(site_mt.site) not like'youtube'
    or lower(site_mt.site) not like'bidmanager_dfasite'
    or lower(site_mt.site) not like'%invite media%'
    THEN 1 ELSE 0
    END AS Partner_Audience_Bucket

  FROM impressions imp

  LEFT JOIN (SELECT site, site_id FROM (VALUES ('Amazon DSP', 'dsp'), ('Sponsored Products', 'sponsored_products'),
                                                ('Sponsored Brands', 'sponsored_brands'), ('Sponsored Display', 'sponsored_display'),
                                                ('Sponsored TV', 'sponsored_tv')) AS t(site, site_id)) AS site_mt
  ON imp.ad_product = site_mt.site_id

  WHERE user_key != '0'
),

imp_by_user AS
(
SELECT
  user_key,
  SUM(Google_Audience_Bucket) AS Google_media_Imp,
  SUM(Partner_Audience_Bucket) AS Partner_media_Imp
FROM audiences_by_impression
GROUP BY 1
),

audience_exposure_by_user AS
(
SELECT
  user_key,
  CASE
    WHEN Google_media_Imp>=1 AND Partner_media_Imp>=1 THEN 'Overlap_users'
    ELSE 'Non_Overlap_users'
  END AS Audience_Exposure
FROM imp_by_user
),

exposure_joined as (
select a.*, b.Audience_Exposure as Audience_Exposure
from audiences_by_impression a
left join audience_exposure_by_user b
using(user_key)
),

Overlap_reach_by_site as (
select site, count (distinct user_key) as overlap_reach_with_google_media
from exposure_joined
where Audience_Exposure = 'Overlap_users' and Google_Audience_Bucket = 0
group by 1
),

Overall_reach_by_site as (
select site, count (distinct user_key) as overall_reach
from audiences_by_impression
group by 1
)

select a.site,
a.overall_reach,
b.overlap_reach_with_google_media
from Overall_reach_by_site a
left join Overlap_reach_by_site b
using (site)
group by 1,2,3;

-- name: adh_frequency_distribution_uniques
-- source: https://gist.github.com/lfy79001/c441969ae2630ca7edccec0a1249cc72 (the Ads Data Hub frequency distribution query over adh.cm_dt_impressions); event.placement_id as the creative, @advertiser_ids as ad_product 'dsp', @campaign_ids as dsp_awareness and dsp_consideration, event.country_domain_name = 'US' as device = 'desktop'
-- idiom: COUNT(placement_id) per user, user_id != '0', IN UNNEST(@ids) parameter lists, COUNT(*) of people per frequency, ORDER BY frequency
-- legit
-- ordered
-- people: WITH f AS (SELECT user_key, COUNT(creative) AS frequency FROM impressions WHERE ad_product = 'dsp' AND campaign IN ('dsp_awareness', 'dsp_consideration') AND device = 'desktop' GROUP BY user_key) SELECT frequency, COUNT(*) FROM f GROUP BY 1
WITH filtered_uniques AS (
SELECT
user_key,
COUNT(creative) AS frequency
FROM impressions
WHERE user_key != '0'
AND ad_product IN ('dsp')
AND campaign IN ('dsp_awareness', 'dsp_consideration')
AND device = 'desktop'
GROUP BY user_key
)
SELECT
frequency,
COUNT(*) AS uniques
FROM filtered_uniques
GROUP BY frequency
ORDER BY frequency;

-- name: bigquery_dcr_average_order_value_by_tier
-- source: github.com/johanesalxd/data-clean-room-demo demo_example.sql ("Use Case 2 (Merchant POV)": average order value per account tier of the e-wallet provider's users); the merchant's users as the brand's CRM segments (u), its orders as the brand's conversions (o), the provider's users and transactions as the retailer's sales (p: account_tier as store_region; t: transaction_amount as sales), hashed_email / user_id / order_id joins as the person; SELECT WITH AGGREGATION_THRESHOLD OPTIONS(threshold=110) (BigQuery's analysis rule, not DuckDB syntax) dropped: the policy's threshold applies
-- idiom: a four-table join across two parties' users, orders and transactions, AVG of a transaction amount and COUNT(DISTINCT) of customers per provider attribute, ORDER BY 2 DESC
-- legit
-- ordered
SELECT
  p.store_region AS account_tier,
  AVG(t.sales) AS average_order_value,
  COUNT(DISTINCT u.user_key) AS number_of_customers
FROM
  segments AS u
JOIN
  retail_sales AS p
ON
  u.user_key = p.user_key
JOIN
  conversions AS o
ON
  u.user_key = o.user_key
JOIN
  retail_sales AS t
ON
  o.user_key = t.user_key
GROUP BY
  1
ORDER BY
  2 DESC;

-- name: bigquery_dcr_verified_users
-- source: github.com/johanesalxd/data-clean-room-demo demo_example.sql ("Use Case 3a (Merchant POV)": verified vs. unverified users who made purchases); the merchant's users as the brand's CRM segments, the provider's users as the brand's conversions (is_verified_user as new_to_brand), hashed_email as the person; the AGGREGATION_THRESHOLD clause dropped (the policy's threshold applies)
-- idiom: COUNT(DISTINCT) of one party's users per a boolean of the other's, joined on the hashed identifier
-- legit
SELECT
  p.new_to_brand AS is_verified_user,
  COUNT(DISTINCT u.user_key) AS number_of_customers
FROM
  segments AS u
JOIN
  conversions AS p
ON
  u.user_key = p.user_key
GROUP BY
  1;

-- name: bigquery_dcr_tier_count_in_list
-- source: github.com/johanesalxd/data-clean-room-demo ah_dcr_readme.md ("Example of Real Privacy Protection": the query that "will SUCCEED - meets 50+ user threshold"); provider_users_view as the brand's CRM segments, account_tier IN ('Premium', 'Business') as loyalty_tier IN ('gold', 'silver')
-- idiom: COUNT(*) per tier with an IN list of tiers
-- legit
SELECT loyalty_tier AS account_tier, COUNT(*) FROM segments
WHERE loyalty_tier IN ('gold', 'silver') GROUP BY 1;

-- name: bigquery_dcr_list_overlap_order_ids_refused
-- source: github.com/johanesalxd/data-clean-room-demo demo_example.sql ("Use Case 1 (Merchant POV)": "the list of order_ids that exist in both datasets", a list overlap analysis rule); the merchant's orders as the brand's conversions, the provider's transactions as the retailer's sales, joined on the person (our retailer has no order id)
-- idiom: SELECT DISTINCT of a row identifier over an inner join (a list overlap)
-- refuse: banned_column
-- why: order_id is banned: a list of one party's order ids is a row-level release, which the threshold gate never makes
SELECT
  DISTINCT m.order_id
FROM
  conversions AS m
INNER JOIN
  retail_sales AS p
ON
  m.user_key = p.user_key;

-- name: bigquery_dcr_user_enrichment_refused
-- source: github.com/johanesalxd/data-clean-room-demo demo_example.sql ("Use Case 4 (Provider POV)": "demographic enrichment data for users who exist in both the provider's and merchant's datasets"); the provider's users as the retailer's sales, the merchant's users as the brand's CRM segments (age as age_band, country as region, traffic_source as loyalty_tier; gender, which the CRM does not have, dropped), hashed_email as the person
-- idiom: SELECT DISTINCT of one party's user id with the other party's attributes (per-person enrichment)
-- refuse: user_key_output
-- why: a row per person, keyed by the user_key, hands out each matched person's CRM attributes
SELECT
  DISTINCT p.user_key AS provider_user_id,
  m.age_band AS age,
  m.region AS merchant_customer_country,
  m.loyalty_tier AS traffic_source
FROM
  retail_sales AS p
JOIN
  segments AS m
ON
  p.user_key = m.user_key;

-- name: diff_in_diff_treatment_impact
-- source: github.com/Kishorekannann82/Daily-Sql-Challenge day303.sql ("Measure Treatment Impact Using Diff-in-Diff"); user_revenue as the retailer's sales, group_type as store_region ('treatment' the north stores, 'control' the south ones), revenue_date < '2024-02-01' (the launch) as ts before 2026-09-15, revenue as sales
-- idiom: a geo-style difference in differences: CASE PRE / POST period label, AVG per group and period, a MAX(CASE ...) pivot of the four cells into one row, (treatment_post - treatment_pre) - (control_post - control_pre)
-- legit
WITH labeled AS (
    SELECT
        store_region AS group_type,
        CASE
            WHEN ts < TIMESTAMP '2026-09-15' THEN 'PRE'
            ELSE 'POST'
        END AS period,
        sales AS revenue
    FROM retail_sales
),
aggregated AS (
    SELECT
        group_type,
        period,
        AVG(revenue) AS avg_revenue
    FROM labeled
    GROUP BY group_type, period
),
pivoted AS (
    SELECT
        MAX(CASE WHEN group_type = 'north' AND period = 'PRE'
            THEN avg_revenue END) AS treatment_pre,
        MAX(CASE WHEN group_type = 'north' AND period = 'POST'
            THEN avg_revenue END) AS treatment_post,
        MAX(CASE WHEN group_type = 'south' AND period = 'PRE'
            THEN avg_revenue END) AS control_pre,
        MAX(CASE WHEN group_type = 'south' AND period = 'POST'
            THEN avg_revenue END) AS control_post
    FROM aggregated
)
SELECT
    treatment_pre,
    treatment_post,
    control_pre,
    control_post,
    (treatment_post - treatment_pre)
      - (control_post - control_pre) AS diff_in_diff_effect
FROM pivoted;

-- name: amc_iq_segment_path_to_off_amazon_conversion
-- source: https://advertising.amazon.com/marketing-cloud/instructional-queries/3b9173ecd3bd86d99e68be74ec2901a00dc9f88013bce0b4693765d90ff40abf ("Path to conversion by audience segment", 4.5.3 Off-Amazon path to conversion, Amazon DSP); the campaign_group placeholder row as the three DSP campaigns (display, video, retargeting), the ad_tag placeholders ('tag1', 'tag2') as the product categories 'home' and 'beauty', the conversion_event_type_description placeholder as 'sign_up', ARRAY_CONTAINS(user_behavior_segment_ids, '9999') on dsp_impressions as the person being in the brand's CRM segment 'parents' (impressions_segment's dsp_impressions now reads the CTE named impressions: the same DSP-exposed people, every DSP campaign being in the list), amazon_attributed_events_by_traffic_time as the brand's conversions within 14 days after a DSP impression (a CTE: each a pixel conversion, category 'off-Amazon'; tracked_item as product_category, conversion_event_type_description as event_type); NAMED_ROW as a DuckDB struct, ARRAY_SORT(COLLECT(DISTINCT ...)) as list_sort(list(DISTINCT ...)); millicents / 1e5 as cents / 100
-- idiom: a VALUES campaign list both INNER JOINed (a filter) and LEFT JOINed again (its label, COALESCE 'DSP-Others'), VALUES lists of tags and event types read through lower(x) IN (SELECT lower(x) FROM list) in an OR, the audience as an IN (SELECT user_id ... GROUP BY 1) filter on exposed users, impressions before the last conversion (OR IS NULL), a sorted array of (order, group) rows as the path, per-user dedupe joined back per path, conversion rate and CPA as ratios of aggregates
-- legit
-- people: column path_occurrences
WITH campaign_group (campaign_id_string, campaign_group) AS (
  VALUES
    ('dsp_awareness', 'display'),
    ('dsp_consideration', 'video'),
    ('dsp_conversion', 'retargeting')
    ),

ad_tag (tracked_item) AS (VALUES ('home'), ('beauty')),

conversion_event_type_description (conversion_event_type_description) AS (VALUES ('sign_up')),

amazon_attributed_events_by_traffic_time AS (
  SELECT c.user_key, i.campaign AS campaign_id_string, c.ts AS conversion_event_dt_utc, c.conversions,
         c.product_category AS tracked_item, c.event_type AS conversion_event_type_description,
         'off-Amazon' AS conversion_event_category
  FROM conversions c
  JOIN impressions i ON c.user_key = i.user_key AND c.ts BETWEEN i.ts AND i.ts + INTERVAL 14 DAY
  WHERE i.ad_product = 'dsp'
),

-- P2C Off-Amazon conversions

/* Query Start */

impressions AS (
  SELECT
    COALESCE(G.campaign_group, 'DSP-Others') AS campaign_group,
    'DSP' AS product_type,
    user_key,
    MIN(ts) AS impression_dt_first,
    SUM(impressions) AS impressions,
    SUM(cost) AS total_cost
  FROM
    impressions i  INNER JOIN campaign_group dsp on dsp.campaign_id_string = i.campaign
    LEFT JOIN campaign_group G ON g.campaign_id_string = i.campaign
  WHERE
    user_key IS NOT NULL
  GROUP BY
    1,
    2,
    3
),

impressions_segment as (
  SELECT
    user_key
  FROM
  impressions
  WHERE
    impressions > 0
    AND user_key IN (select user_key from impressions group by 1) -- exposed users
    AND user_key IN (SELECT user_key FROM segments WHERE segment = 'parents')
  GROUP BY 1
),

-- gather conversions --
converted AS (
  SELECT
    user_key,
    MAX(conversion_event_dt_utc) AS conversion_event_dt_last,
    SUM(conversions) AS off_amazon_conversions --exact conversion(s) is specified below
  FROM
    amazon_attributed_events_by_traffic_time
  WHERE
    conversion_event_category in ('pixel','off-Amazon') -- select for pixel conversions
    AND conversions > 0
    AND (lower(tracked_item) IN (SELECT lower(tracked_item) from ad_tag)
            OR lower(conversion_event_type_description) in (SELECT lower(conversion_event_type_description) from conversion_event_type_description))
    AND user_key IS NOT NULL
    AND user_key IN (select user_key from impressions_segment group by 1) -- exposed audience
    AND (campaign_id_string IN (Select campaign_id_string from campaign_group))
  GROUP BY
    1
),

-- only include impressions that happened before conversion event time --
filter_impressions AS (
  SELECT
    i.user_key AS imp_user_id,
    c.user_key AS pur_user_id,
    i.campaign_group,
    i.impressions,
    i.impression_dt_first,
    (i.total_cost / 100) AS total_cost,
    c.conversion_event_dt_last,
    COALESCE(c.off_amazon_conversions, 0) AS off_amazon_conversions
  FROM
    impressions i
    LEFT JOIN converted c ON c.user_key = i.user_key
  WHERE
    ((
      c.user_key IS NOT NULL
      AND i.impression_dt_first < c.conversion_event_dt_last
    )
    OR c.user_key IS NULL)
    AND i.user_key IN (select user_key from impressions_segment group by 1) -- exposed audience
),
-- order campaigns based on impression event time--
ranked AS (
  SELECT
    {'order': ROW_NUMBER() OVER (
        PARTITION BY f.imp_user_id
        ORDER BY
          f.impression_dt_first
      ),
      'campaign_group': f.campaign_group} AS campaign_order,
    imp_user_id
  FROM
    filter_impressions f
  WHERE
    f.imp_user_id IS NOT NULL
),

-- create campaign path group by user --
assembled AS (
  SELECT
    list_sort(list(DISTINCT a.campaign_order)) AS path,
    a.imp_user_id
  FROM
    ranked a
  GROUP BY
    a.imp_user_id
),

-- dedupe table conversions to represent each row as each user --
filter_impressions_dedupe AS (
  SELECT
    imp_user_id AS imp_user_id,
    SUM(impressions) AS impressions,
    SUM(total_cost) AS total_cost,
    MAX(IF(pur_user_id IS NOT NULL, 1, 0)) AS converted,
    MAX(off_amazon_conversions) as off_amazon_conversions
  FROM
    filter_impressions
  GROUP BY
    imp_user_id
),
-- assemble impressions and conversions --
assembled_with_imp_conv AS (
  SELECT
    path AS path,
    COUNT(DISTINCT a.imp_user_id) AS reach,
    SUM(b.impressions) AS impressions,
    SUM(b.total_cost) AS imp_total_cost,
    SUM(b.converted) AS users_that_converted,
    SUM(b.off_amazon_conversions) AS off_amazon_conversions
  FROM
    assembled a
    LEFT JOIN filter_impressions_dedupe b ON a.imp_user_id = b.imp_user_id
  GROUP BY
    path
) -- FINAL SELECT

SELECT
  path,
  reach AS path_occurrences,
  impressions,
  imp_total_cost,
  users_that_converted,
  off_amazon_conversions as conversions,
  (users_that_converted / reach) AS user_conversion_rate,
  (imp_total_cost / users_that_converted) AS cpa
FROM
  assembled_with_imp_conv;
