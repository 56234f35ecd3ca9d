-- dialect: snowflake
-- Profit and loss by desk, joining ledger balances to the desk hierarchy.
CREATE VIEW finance.pnl_by_desk AS
WITH desk_accounts AS (
    SELECT a.account_id, d.desk_name
    FROM finance.accounts AS a
    JOIN refdata.desks AS d ON d.desk_id = a.desk_id
)
SELECT da.desk_name, b.period, SUM(b.balance) AS pnl
FROM finance.gl_balances AS b
JOIN desk_accounts AS da ON da.account_id = b.account_id
GROUP BY da.desk_name, b.period;
