-- Named queries of the reference outbound campaigns (campaigns/*.yaml, docs/campaigns.md),
-- on fsapp's own tables in the default connection. A contact query returns `number`
-- (and optionally `contact_id`, `name` and any field the campaign's flow declares);
-- an exclusion query returns `number`. `since` is given the campaign's start time.

-- name: served_since
-- params: since:datetime, since:datetime
-- Customers served since the campaign started (a call recorded by a flow, or a ticket
-- opened at the counter or on the phone): the identity-update notice skips them. A
-- securities firm points this at its own CRM's contact log instead.
SELECT caller_number AS number FROM fsapp_call_records
WHERE started_at >= ? AND caller_number IS NOT NULL
UNION
SELECT caller_number AS number FROM fsapp_tickets
WHERE accepted_at >= ? AND caller_number IS NOT NULL;

-- name: closed_work_orders
-- Work orders closed and not yet surveyed: one callback survey per work order, to the
-- number the caller left.
SELECT serial AS contact_id, caller_number AS number, serial AS work_order
FROM fsapp_tickets
WHERE kind = 'work_order' AND status = 'closed' AND caller_number IS NOT NULL;
