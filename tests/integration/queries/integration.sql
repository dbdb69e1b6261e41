-- Named queries of the end-to-end tests (tests/integration/). PostgreSQL only.

-- name: slow_report
-- types: report=str
-- A report that takes as long as the "never block the hub" test wants: it waits for the
-- advisory lock 4242, which the test holds while 50 other calls go through their flows
-- (the lock is the database's: each test has its own database).
SELECT 'ready' AS report FROM pg_advisory_xact_lock_shared(4242);
