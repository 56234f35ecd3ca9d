-- dialect: snowflake
-- General-ledger balances per account and period.
INSERT INTO finance.gl_balances (account_id, period, balance)
SELECT j.account_id, j.period, SUM(j.debit - j.credit) AS balance
FROM finance.journal_lines AS j
WHERE j.status = 'POSTED'
GROUP BY j.account_id, j.period;
