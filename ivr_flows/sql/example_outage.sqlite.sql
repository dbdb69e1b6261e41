-- An operator declares an outage (SQLite; docs/reference-flows.md, "Announcements"):
-- water cut in district D002 since an hour ago, expected back in a day.
INSERT INTO ivr_notices (line, district_code, kind, starts_at, ends_at, active)
VALUES ('utility', 'D002', 'supply_interrupted', datetime('now', 'localtime', '-1 hour'),
        datetime('now', 'localtime', '+1 day'), 'Y');
