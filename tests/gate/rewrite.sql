-- Rewrites: each input query and the SQL the sandbox runs (tests/gate/test_rewrite.py).
--   -- name: <id>   -- why: <what the rewrite shows>   -- output: <the rewritten SQL, one line>

-- name: final_aggregate_counts_people
-- why: the final SELECT is split; the inner one counts the people behind each group as __cr_n (for the release stage, last column), exactly: COUNT(DISTINCT user_key)
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS impressions, "__cr_q"."__cr_n" FROM (SELECT channel AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n" FROM impressions GROUP BY channel) AS __cr_q
SELECT channel, COUNT(*) AS impressions FROM impressions GROUP BY channel;

-- name: own_people_count_stays_exact
-- why: the query counts its people itself: __cr_n is the same exact COUNT(DISTINCT user_key), which DuckDB computes once
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS people, __cr_q.__cr_a2 AS n, "__cr_q"."__cr_n" FROM (SELECT channel AS __cr_k0, COUNT(DISTINCT user_key) AS __cr_a1, COUNT(*) AS __cr_a2, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n" FROM impressions GROUP BY channel) AS __cr_q
SELECT channel, COUNT(DISTINCT user_key) AS people, COUNT(*) AS n FROM impressions GROUP BY channel;

-- name: subtracted_counts_stay_exact
-- why: two aggregates on different rows are checked by subtracting their people counts (__cr_n - __cr_r0) and combined (__cr_x); the counts are exact, so a difference of one person never looks like none
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS spend, __cr_q.__cr_a2 AS n, FALSE AS "__cr_w0", "__cr_q"."__cr_r0" < 50 OR "__cr_q"."__cr_n" - "__cr_q"."__cr_r0" BETWEEN 1 AND 49 AS "__cr_w1", FALSE AS "__cr_w2", STRUCT_PACK(m := {'r': (SELECT HISTOGRAM(e % 65536) FROM UNNEST("__cr_q"."__cr_x") AS __cr_e(e)), 'p': (SELECT HISTOGRAM(pp) FROM (SELECT BIT_OR(e % 65536) AS pp FROM UNNEST("__cr_q"."__cr_x") AS __cr_e(e) GROUP BY e // 65536) AS __cr_pp)}, f := [COALESCE("__cr_q"."__cr_r0" < 50 OR "__cr_q"."__cr_n" - "__cr_q"."__cr_r0" BETWEEN 1 AND 49, TRUE), FALSE], n := ["__cr_q"."__cr_r0", "__cr_q"."__cr_n"], v := [[0], [-1]], c := [TRY_CAST([] AS INT[]), [0], [1]], h := TRY_CAST([] AS INT[])) AS "__cr_x", "__cr_q"."__cr_n" FROM (SELECT channel AS __cr_k0, SUM(CASE WHEN TRY(ABS(cost) < 1e20) THEN cost END) AS __cr_a1, COUNT(*) AS __cr_a2, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n", COUNT(DISTINCT CASE WHEN ("impressions"."cost") <> 0 THEN "impressions"."user_key" END) AS "__cr_r0", LIST(DISTINCT ((HASH("impressions"."user_key") >> 16) << 16) | TRY_CAST((0 + CASE WHEN (("impressions"."cost") <> 0) THEN 1 ELSE 0 END) AS UBIGINT)) AS "__cr_x" FROM impressions GROUP BY channel) AS __cr_q
SELECT channel, SUM(cost) AS spend, COUNT(*) AS n FROM impressions GROUP BY channel;

-- name: nonzero_support_for_sum
-- why: a SUM stands on the people whose value is non-zero (ELSE 0 cannot hide a few people among many): the row stands on its plain count __cr_n, the cell on __cr_r0, and its hidden flag __cr_w1 withholds it below 50
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS pricey, FALSE AS "__cr_w0", "__cr_q"."__cr_r0" < 50 AS "__cr_w1", "__cr_q"."__cr_n" FROM (SELECT channel AS __cr_k0, SUM(TRY(CASE WHEN cost > 4 THEN 1 ELSE 0 END)) AS __cr_a1, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n", COUNT(DISTINCT CASE WHEN TRY((CASE WHEN "impressions"."cost" > 4 THEN 1 ELSE 0 END)) <> 0 THEN "impressions"."user_key" END) AS "__cr_r0" FROM impressions GROUP BY channel) AS __cr_q
SELECT channel, SUM(CASE WHEN cost > 4 THEN 1 ELSE 0 END) AS pricey FROM impressions GROUP BY channel;

-- name: final_having_keeps_small_groups
-- why: HAVING runs on the outer SELECT, inside TRY, and never hides a group below the threshold (it is suppressed and counted instead)
-- output: SELECT __cr_q.__cr_k0 AS "campaign", __cr_q.__cr_a1 AS n, "__cr_q"."__cr_n" FROM (SELECT campaign AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(*) AS __cr_a2, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n" FROM impressions GROUP BY campaign) AS __cr_q WHERE (TRY(__cr_q.__cr_a2 > 400)) OR "__cr_q"."__cr_n" < 50
SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign HAVING COUNT(*) > 400;

-- name: intermediate_threshold
-- why: an aggregation inside a CTE keeps only groups with enough people; a SELECT that combines its rows (MAX over them) is tainted (__cr_w) when it dropped any group, of 1 to 49 people, since the dropped group is missing from the number; and, read before its threshold filters it, when it dropped every group (no row is left to carry the flag)
-- output: WITH c AS (SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS n, "__cr_q"."__cr_d" AS "__cr_w" FROM (SELECT channel AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n", COALESCE(BOOL_OR(COUNT(DISTINCT "impressions"."user_key") BETWEEN 1 AND 49) OVER (), FALSE) AS "__cr_d" FROM impressions GROUP BY channel) AS __cr_q WHERE "__cr_q"."__cr_n" >= 50) SELECT MAX(n) AS top, COALESCE(BOOL_OR(COALESCE("c"."__cr_w", FALSE)), FALSE) OR COALESCE((SELECT COALESCE(BOOL_OR("__cr_d"), FALSE) FROM (SELECT channel AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n", COALESCE(BOOL_OR(COUNT(DISTINCT "impressions"."user_key") BETWEEN 1 AND 49) OVER (), FALSE) AS "__cr_d" FROM impressions GROUP BY channel) AS __cr_tr), FALSE) AS "__cr_w0" FROM c
WITH c AS (SELECT channel, COUNT(*) AS n FROM impressions GROUP BY channel) SELECT MAX(n) AS top FROM c;

-- name: per_user_cte_carries_people
-- why: a per-user CTE that does not project user_key passes __cr_uid on, so the next aggregation counts people
-- output: SELECT __cr_q.__cr_k0 AS "n", __cr_q.__cr_a1 AS people, "__cr_q"."__cr_n" FROM (WITH u AS (SELECT __cr_q.__cr_a1 AS n, "__cr_q"."__cr_uid" FROM (SELECT user_key AS __cr_k0, COUNT(*) AS __cr_a1, "impressions"."user_key" AS "__cr_uid" FROM impressions GROUP BY user_key) AS __cr_q) SELECT n AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "u"."__cr_uid") AS "__cr_n" FROM u GROUP BY n) AS __cr_q
WITH u AS (SELECT COUNT(*) AS n FROM impressions GROUP BY user_key) SELECT n, COUNT(*) AS people FROM u GROUP BY n;

-- name: projected_user_key_carries_people
-- why: a CTE that projects user_key itself carries its people in that column: no copy of it beside (which DISTINCT and GROUP BY would hash twice)
-- output: SELECT __cr_q.__cr_k0 AS "n", __cr_q.__cr_a1 AS people, "__cr_q"."__cr_n" FROM (WITH u AS (SELECT __cr_q.__cr_k0 AS "user_key", __cr_q.__cr_a1 AS n FROM (SELECT user_key AS __cr_k0, COUNT(*) AS __cr_a1 FROM impressions GROUP BY user_key) AS __cr_q) SELECT n AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "u"."user_key") AS "__cr_n" FROM u GROUP BY n) AS __cr_q
WITH u AS (SELECT user_key, COUNT(*) AS n FROM impressions GROUP BY user_key) SELECT n, COUNT(*) AS people FROM u GROUP BY n;

-- name: set_operation_branches_keep_their_copy
-- why: branches of a set operation line up by position, so each still carries __cr_uid last
-- output: SELECT __cr_q.__cr_a0 AS both_sides, "__cr_q"."__cr_n" FROM (SELECT COUNT(*) AS __cr_a0, COUNT(DISTINCT "o"."__cr_uid") AS "__cr_n" FROM (SELECT user_key, "impressions"."user_key" AS "__cr_uid" FROM impressions INTERSECT SELECT user_key, "conversions"."user_key" AS "__cr_uid" FROM conversions) AS o) AS __cr_q
SELECT COUNT(*) AS both_sides FROM (SELECT user_key FROM impressions INTERSECT SELECT user_key FROM conversions) AS o;

-- name: window_rows_split_and_guarded
-- why: a per-user window runs in an inner SELECT; casts become TRY_CAST and comparisons that could raise run in TRY
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS firsts, "__cr_q"."__cr_n" FROM (WITH t AS (SELECT __cr_q.__cr_c0 AS "channel", __cr_q.__cr_a1 AS pos, "__cr_q"."__cr_uid" FROM (SELECT channel AS __cr_c0, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts) AS __cr_a1, "impressions"."user_key" AS "__cr_uid" FROM impressions WHERE TRY(TRY_CAST(campaign AS INT) IS NULL)) AS __cr_q) SELECT channel AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "t"."__cr_uid") AS "__cr_n" FROM t WHERE TRY(pos = 1) GROUP BY channel) AS __cr_q
WITH t AS (SELECT channel, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY ts) AS pos FROM impressions WHERE CAST(campaign AS INTEGER) IS NULL) SELECT channel, COUNT(*) AS firsts FROM t WHERE pos = 1 GROUP BY channel;

-- name: post_aggregate_arithmetic_in_try
-- why: arithmetic over aggregates runs in the outer SELECT inside TRY, so a small group's overflow or division by zero raises nothing
-- output: SELECT __cr_q.__cr_k0 AS "campaign", TRY(100 // (__cr_q.__cr_a1 - 6)) AS x, "__cr_q"."__cr_n" FROM (SELECT campaign AS __cr_k0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n" FROM impressions GROUP BY campaign) AS __cr_q
SELECT campaign, 100 // (COUNT(*) - 6) AS x FROM impressions GROUP BY campaign;

-- name: cells_difference_check
-- stream: cells
-- why: two aggregates of one row: the row stands on __cr_n, the conditional one on __cr_r0; it is withheld (__cr_w1) below 50 people or when the row's people and its own differ by 1 to 49; __cr_x lists the row's patterns for the release's combination check (isolation.py)
-- output: SELECT __cr_q.__cr_a0 AS everyone, __cr_q.__cr_a1 AS most, FALSE AS "__cr_w0", "__cr_q"."__cr_r0" < 50 OR "__cr_q"."__cr_n" - "__cr_q"."__cr_r0" BETWEEN 1 AND 49 AS "__cr_w1", STRUCT_PACK(m := {'r': (SELECT HISTOGRAM(e % 65536) FROM UNNEST("__cr_q"."__cr_x") AS __cr_e(e)), 'p': (SELECT HISTOGRAM(pp) FROM (SELECT BIT_OR(e % 65536) AS pp FROM UNNEST("__cr_q"."__cr_x") AS __cr_e(e) GROUP BY e // 65536) AS __cr_pp)}, f := [FALSE, COALESCE("__cr_q"."__cr_r0" < 50 OR "__cr_q"."__cr_n" - "__cr_q"."__cr_r0" BETWEEN 1 AND 49, TRUE)], n := ["__cr_q"."__cr_n", "__cr_q"."__cr_r0"], v := [[-1], [0]], c := [[0], [1]], h := TRY_CAST([] AS INT[])) AS "__cr_x", "__cr_q"."__cr_n" FROM (SELECT COUNT(DISTINCT user_key) AS __cr_a0, COUNT(DISTINCT TRY(CASE WHEN channel <> 'x' THEN user_key END)) AS __cr_a1, COUNT(DISTINCT "impressions"."user_key") AS "__cr_n", COUNT(DISTINCT CASE WHEN TRY(NOT CASE WHEN "impressions"."channel" <> 'x' THEN "impressions"."user_key" END IS NULL) THEN "impressions"."user_key" END) AS "__cr_r0", LIST(DISTINCT ((HASH("impressions"."user_key") >> 16) << 16) | TRY_CAST((0 + CASE WHEN (TRY(NOT CASE WHEN "impressions"."channel" <> 'x' THEN "impressions"."user_key" END IS NULL)) THEN 1 ELSE 0 END) AS UBIGINT)) AS "__cr_x" FROM impressions) AS __cr_q
SELECT COUNT(DISTINCT user_key) AS everyone, COUNT(DISTINCT CASE WHEN channel <> 'x' THEN user_key END) AS most FROM impressions;

-- name: joined_person_counts_the_querys_own
-- why: an inner join ON i.user_key = c.user_key makes c.user_key the person on every row (gate/people.py): __cr_n counts the query's own COUNT(DISTINCT c.user_key), which DuckDB computes once, not a second count over i.user_key
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS converters, "__cr_q"."__cr_n" FROM (SELECT i.channel AS __cr_k0, COUNT(DISTINCT c.user_key) AS __cr_a1, COUNT(DISTINCT "c"."user_key") AS "__cr_n" FROM impressions AS i JOIN conversions AS c ON i.user_key = c.user_key GROUP BY i.channel) AS __cr_q
SELECT i.channel, COUNT(DISTINCT c.user_key) AS converters FROM impressions i JOIN conversions c ON i.user_key = c.user_key GROUP BY i.channel;

-- name: cte_person_is_its_joined_user_key
-- why: a CTE that projects the joined c.user_key needs no hidden __cr_uid copy of i.user_key: its user_key is the person, so COUNT(DISTINCT user_key) stands on the row's own people (no support of its own) and the counts are over t.user_key
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS people, __cr_q.__cr_a2 AS revenue, FALSE AS "__cr_w0", FALSE AS "__cr_w1", "__cr_q"."__cr_r0" < 50 OR "__cr_q"."__cr_n" - "__cr_q"."__cr_r0" BETWEEN 1 AND 49 AS "__cr_w2", STRUCT_PACK(m := {'r': (SELECT HISTOGRAM(e % 65536) FROM UNNEST("__cr_q"."__cr_x") AS __cr_e(e)), 'p': (SELECT HISTOGRAM(pp) FROM (SELECT BIT_OR(e % 65536) AS pp FROM UNNEST("__cr_q"."__cr_x") AS __cr_e(e) GROUP BY e // 65536) AS __cr_pp)}, f := [FALSE, COALESCE("__cr_q"."__cr_r0" < 50 OR "__cr_q"."__cr_n" - "__cr_q"."__cr_r0" BETWEEN 1 AND 49, TRUE)], n := ["__cr_q"."__cr_n", "__cr_q"."__cr_r0"], v := [[-1], [0]], c := [TRY_CAST([] AS INT[]), [0], [1]], h := TRY_CAST([] AS INT[])) AS "__cr_x", "__cr_q"."__cr_n" FROM (WITH t AS (SELECT c.user_key, i.channel, c.revenue FROM impressions AS i JOIN conversions AS c ON i.user_key = c.user_key AND TRY(i.ts <= c.ts)) SELECT channel AS __cr_k0, COUNT(DISTINCT user_key) AS __cr_a1, SUM(CASE WHEN TRY(ABS(revenue) < 1e20) THEN revenue END) AS __cr_a2, COUNT(DISTINCT "t"."user_key") AS "__cr_n", COUNT(DISTINCT CASE WHEN ("t"."revenue") <> 0 THEN "t"."user_key" END) AS "__cr_r0", LIST(DISTINCT ((HASH("t"."user_key") >> 16) << 16) | TRY_CAST((0 + CASE WHEN (("t"."revenue") <> 0) THEN 1 ELSE 0 END) AS UBIGINT)) AS "__cr_x" FROM t GROUP BY channel) AS __cr_q
WITH t AS (SELECT c.user_key, i.channel, c.revenue FROM impressions i JOIN conversions c ON i.user_key = c.user_key AND i.ts <= c.ts) SELECT channel, COUNT(DISTINCT user_key) AS people, SUM(revenue) AS revenue FROM t GROUP BY channel;

-- name: left_joined_user_key_is_not_the_person
-- why: a LEFT JOIN's user_key is NULL where nothing matched, so it is not the person: the CTE still carries __cr_uid and COUNT(DISTINCT user_key) keeps its support (__cr_r0)
-- output: SELECT __cr_q.__cr_k0 AS "channel", __cr_q.__cr_a1 AS converters, FALSE AS "__cr_w0", "__cr_q"."__cr_r0" < 50 AS "__cr_w1", "__cr_q"."__cr_n" FROM (WITH t AS (SELECT c.user_key, i.channel, "i"."user_key" AS "__cr_uid" FROM impressions AS i LEFT JOIN conversions AS c ON i.user_key = c.user_key) SELECT channel AS __cr_k0, COUNT(DISTINCT user_key) AS __cr_a1, COUNT(DISTINCT "t"."__cr_uid") AS "__cr_n", COUNT(DISTINCT CASE WHEN NOT "t"."user_key" IS NULL THEN "t"."__cr_uid" END) AS "__cr_r0" FROM t GROUP BY channel) AS __cr_q
WITH t AS (SELECT c.user_key, i.channel FROM impressions i LEFT JOIN conversions c ON i.user_key = c.user_key) SELECT channel, COUNT(DISTINCT user_key) AS converters FROM t GROUP BY channel;

-- name: overlap_counts_rows_as_people
-- why: two relations keyed by user_key alone (SELECT DISTINCT user_key, GROUP BY user_key), inner-joined on it: every row is another person and never NULL, so __cr_n is the query's own COUNT(*) (gate/people.py), not a distinct count over the join
-- output: SELECT __cr_q.__cr_a0 AS both_sides, "__cr_q"."__cr_n" FROM (WITH a AS (SELECT DISTINCT user_key FROM impressions), b AS (SELECT __cr_q.__cr_k0 AS "user_key" FROM (SELECT user_key AS __cr_k0 FROM conversions GROUP BY user_key) AS __cr_q) SELECT COUNT(*) AS __cr_a0, COUNT(*) AS "__cr_n" FROM a JOIN b ON a.user_key = b.user_key) AS __cr_q
WITH a AS (SELECT DISTINCT user_key FROM impressions), b AS (SELECT user_key FROM conversions GROUP BY user_key) SELECT COUNT(*) AS both_sides FROM a JOIN b ON a.user_key = b.user_key;

-- name: one_keyed_relation_still_counts_distinct
-- why: one relation keyed by user_key may hold a NULL key's row (nothing ties it to another side's equal key), and a LEFT JOIN's missing side is NULL: both keep a distinct count of the person
-- output: SELECT __cr_q.__cr_v0 AS everyone, __cr_q.__cr_a1 AS n, "__cr_q"."__cr_t" AS "__cr_w0", "__cr_q"."__cr_t" AS "__cr_w1", "__cr_q"."__cr_n" FROM (WITH a AS (SELECT DISTINCT user_key FROM impressions), b AS (SELECT DISTINCT user_key FROM conversions) SELECT (SELECT __cr_q.__cr_a0 AS "COUNT(*)" FROM (SELECT COUNT(*) AS __cr_a0, COUNT(DISTINCT "a"."user_key") AS "__cr_n", COALESCE(BOOL_OR(COUNT(DISTINCT "a"."user_key") BETWEEN 25 AND 49) OVER (), FALSE) AS "__cr_d" FROM a) AS __cr_q WHERE "__cr_q"."__cr_n" >= 50) AS __cr_v0, COUNT(*) AS __cr_a1, COUNT(DISTINCT "a"."user_key") AS "__cr_n", COALESCE(BOOL_OR((SELECT COALESCE(BOOL_OR("__cr_w"), FALSE) FROM (SELECT __cr_q.__cr_a0 AS "COUNT(*)", "__cr_q"."__cr_d" AS "__cr_w" FROM (SELECT COUNT(*) AS __cr_a0, COUNT(DISTINCT "a"."user_key") AS "__cr_n", COALESCE(BOOL_OR(COUNT(DISTINCT "a"."user_key") BETWEEN 25 AND 49) OVER (), FALSE) AS "__cr_d" FROM a) AS __cr_q WHERE "__cr_q"."__cr_n" >= 50) AS __cr_tv)), FALSE) AS "__cr_t" FROM a LEFT JOIN b ON a.user_key = b.user_key) AS __cr_q
WITH a AS (SELECT DISTINCT user_key FROM impressions), b AS (SELECT DISTINCT user_key FROM conversions) SELECT (SELECT COUNT(*) FROM a) AS everyone, COUNT(*) AS n FROM a LEFT JOIN b ON a.user_key = b.user_key;
