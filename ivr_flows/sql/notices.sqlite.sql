-- Announcements the reference flows play before their menus (sqlite), switched on and off
-- with plain SQL, without editing a flow (docs/reference-flows.md, "Announcements").
-- Load once into fsapp's database:  fsapp db script ivr_flows/sql/notices.sqlite.sql
--   line           hotline (hotline_12345) or utility (utility_billing)
--   district_code  NULL: the whole line; else one district (the billing system's DIST_CD)
--   kind           which announcement: hotline service_disruption | severe_weather |
--                  high_volume; utility supply_interrupted | low_pressure | planned_maintenance
--   starts_at      in force from (local time); ends_at: until (NULL: until switched off),
--                  read to the caller as "expected to end at"
--   active         'Y' on, 'N' switched off
CREATE TABLE ivr_notices (
  notice_id INTEGER NOT NULL PRIMARY KEY,
  line VARCHAR(20) NOT NULL,
  district_code VARCHAR(10),
  kind VARCHAR(40) NOT NULL,
  starts_at TIMESTAMP NOT NULL,
  ends_at TIMESTAMP NULL,
  active CHAR(1) DEFAULT 'Y' NOT NULL
);
CREATE INDEX ix_ivr_notices_line ON ivr_notices (line, active);
