-- dialect: postgres
-- Daily value-at-risk per book, from enriched positions and scenario P&L vectors.
CREATE TEMPORARY TABLE scenario_pnl AS
SELECT
    e.book_id,
    s.scenario_id,
    SUM(e.market_value * s.shock) AS pnl
FROM risk.positions_enriched AS e
JOIN risk.scenario_shocks AS s
    ON s.asset_class = e.asset_class
GROUP BY e.book_id, s.scenario_id;

INSERT INTO risk.var_daily (book_id, var_99)
SELECT book_id, PERCENTILE_CONT(0.01) WITHIN GROUP (ORDER BY pnl) AS var_99
FROM scenario_pnl
GROUP BY book_id;
