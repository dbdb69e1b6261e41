-- Named queries of the end-to-end tests (tests/integration/). PostgreSQL only.

-- name: slow_report
-- types: report=str
-- A report that takes 2 seconds to compute: the query the "never block the hub" test
-- keeps running while 50 other calls go through their flows.
SELECT 'ready' AS report FROM pg_sleep(2);
