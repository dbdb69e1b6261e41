-- fsapp's own named queries (namespace "fsapp"), shipped with the package and loaded
-- besides [store] queries. They run on the default connection, on every dialect.

-- name: overdue_tickets
-- params: as_of:datetime=now, as_of:datetime=now
-- Tickets not closed whose reminder (follow-up) time or work-order due time has passed,
-- oldest first: the supervisors' list. `fsapp db query fsapp.overdue_tickets`
SELECT serial, kind, category, status, handling_unit, responsible, agent_id,
       accepted_at, reminder_at, due_at, caller_number, summary
FROM fsapp_tickets
WHERE status <> 'closed'
  AND ((reminder_at IS NOT NULL AND reminder_at < ?) OR (due_at IS NOT NULL AND due_at < ?))
ORDER BY accepted_at, serial;

-- name: ticket_status
-- params: serial
-- Status of one ticket by serial, for the status-lookup flow: status, handling unit, result.
SELECT serial, kind, category, status, handling_unit, result, accepted_at, closed_at
FROM fsapp_tickets
WHERE serial = ?;

-- name: caller_open_tickets
-- params: caller_number
-- A caller's tickets that are not closed yet, newest first.
SELECT serial, kind, category, status, handling_unit, accepted_at
FROM fsapp_tickets
WHERE caller_number = ? AND status <> 'closed'
ORDER BY accepted_at DESC, serial DESC;

-- name: survey_results
-- params: survey
-- Answer counts per question for one survey.
SELECT question, answer, COUNT(*) AS answers
FROM fsapp_survey_answers
WHERE survey = ?
GROUP BY question, answer
ORDER BY question, answer;
