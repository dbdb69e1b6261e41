-- Named queries of the citizen hotline (12345) against fsapp's own tables.

-- name: ticket_status
-- params: serial
-- What the status-lookup flow speaks: status, handling unit, result. No row = not found.
SELECT serial, status, handling_unit, result, accepted_at, closed_at
FROM fsapp_tickets
WHERE serial = ?;

-- name: open_tickets_of_caller
-- params: caller_number
-- The caller's tickets not yet closed, newest first ("you have 2 open complaints").
SELECT serial, kind, category, status, accepted_at
FROM fsapp_tickets
WHERE caller_number = ? AND status <> 'closed'
ORDER BY accepted_at DESC, serial DESC;

-- name: active_notice
-- params: line, district, as_of:datetime=now, as_of:datetime=now
-- types: starts_at=datetime, ends_at=datetime
-- The announcement the reference flows play before the menu: the newest notice of the
-- line ('hotline' or 'utility') switched on and in force now, for the caller's district
-- or for the whole line (district_code NULL). No row: no announcement. The table and how
-- operators switch notices: ivr_flows/sql/notices.*.sql, docs/reference-flows.md.
SELECT notice_id, kind, district_code, starts_at, ends_at
FROM ivr_notices
WHERE line = ? AND active = 'Y'
  AND (district_code IS NULL OR district_code = ?)
  AND starts_at <= ? AND (ends_at IS NULL OR ends_at > ?)
ORDER BY starts_at DESC, notice_id DESC;
