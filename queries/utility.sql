-- Named queries of the utility line against the utility's own billing database
-- (the legacy schema of examples/billing: CUST_MST, ACCT_MST, BILL_HDR, ...).
-- A utility with a different billing system rewrites the SQL below for its tables and
-- keeps the names and the result columns: the utility flow does not change.
-- Codes: ACCT_STAT 'A' active; BILL_STAT 'O' open; money is BILL_AMT + LATE_FEE - PAID_AMT.

-- name: accounts_by_caller
-- connection: billing
-- params: caller, caller
-- Active accounts whose customer has the caller's number as first or second phone.
-- Several rows = the flow asks the caller to choose one.
SELECT a.ACCT_NO AS account_no, c.CUST_NM AS customer_name, a.SVC_ADDR AS service_address,
       a.ACCT_TYP AS account_type, a.DIST_CD AS district_code
FROM ACCT_MST a
JOIN CUST_MST c ON c.CUST_ID = a.CUST_ID
WHERE (c.TEL_NO1 = ? OR c.TEL_NO2 = ?) AND a.ACCT_STAT = 'A'
ORDER BY a.ACCT_NO;

-- name: account
-- connection: billing
-- params: account_no
-- One account by its number (any status): the flow checks `status` itself.
-- types: opened_on=date
SELECT a.ACCT_NO AS account_no, c.CUST_NM AS customer_name, a.SVC_ADDR AS service_address,
       a.ACCT_TYP AS account_type, a.ACCT_STAT AS status, a.DIST_CD AS district_code,
       a.OPEN_DT AS opened_on
FROM ACCT_MST a
JOIN CUST_MST c ON c.CUST_ID = a.CUST_ID
WHERE a.ACCT_NO = ?;

-- name: balance
-- connection: billing
-- params: as_of:date=today, account_no
-- types: prepaid_balance=money, amount_due=money, overdue_amount=money, balance=money, due_date=date, open_bills=int
-- Amount due over all open bills, the earliest due date, what of it is overdue on
-- `as_of`, and the balance (prepaid credit minus amount due; negative = owes money).
SELECT a.ACCT_NO AS account_no,
       a.PRE_BAL AS prepaid_balance,
       COALESCE(SUM(b.BILL_AMT + b.LATE_FEE - b.PAID_AMT), 0) AS amount_due,
       MIN(b.DUE_DT) AS due_date,
       COALESCE(SUM(CASE WHEN b.DUE_DT < ? THEN b.BILL_AMT + b.LATE_FEE - b.PAID_AMT ELSE 0 END), 0)
         AS overdue_amount,
       a.PRE_BAL - COALESCE(SUM(b.BILL_AMT + b.LATE_FEE - b.PAID_AMT), 0) AS balance,
       COUNT(b.BILL_NO) AS open_bills
FROM ACCT_MST a
LEFT JOIN BILL_HDR b ON b.ACCT_NO = a.ACCT_NO AND b.BILL_STAT = 'O'
WHERE a.ACCT_NO = ?
GROUP BY a.ACCT_NO, a.PRE_BAL;

-- name: last_payment
-- connection: billing
-- params: account_no, account_no
-- types: paid_at=datetime, amount=money
-- The latest payment of an account (no row: never paid).
SELECT p.PAY_DTM AS paid_at, p.PAY_AMT AS amount, p.PAY_CHNL AS channel
FROM PAY_TXN p
WHERE p.ACCT_NO = ?
  AND p.PAY_DTM = (SELECT MAX(p2.PAY_DTM) FROM PAY_TXN p2 WHERE p2.ACCT_NO = ?);

-- name: last_meter_reading
-- connection: billing
-- params: account_no, account_no
-- types: read_on=date, reading=decimal, usage_qty=decimal
-- The latest reading of the account's meter; reading_type A actual, E estimated.
SELECT r.MTR_NO AS meter_no, r.RDG_DT AS read_on, r.CUR_RDG AS reading, r.USG_QTY AS usage_qty,
       r.RDG_TYP AS reading_type
FROM MTR_RDG r
JOIN MTR_MST m ON m.MTR_NO = r.MTR_NO
WHERE m.ACCT_NO = ?
  AND r.RDG_DT = (SELECT MAX(r2.RDG_DT) FROM MTR_RDG r2
                  JOIN MTR_MST m2 ON m2.MTR_NO = r2.MTR_NO WHERE m2.ACCT_NO = ?);

-- name: district
-- connection: billing
-- params: account_no
-- The district an account is in, to match it against declared outages.
SELECT d.DIST_CD AS district_code, d.DIST_NM AS district_name, d.DIST_NM_EN AS district_name_en
FROM ACCT_MST a
JOIN DIST_CD_MST d ON d.DIST_CD = a.DIST_CD
WHERE a.ACCT_NO = ?;
