-- dialect: tsql
-- Liquidity coverage ratio inputs per legal entity.
INSERT INTO regulatory.lcr_inputs (legal_entity_id, hqla, net_outflows)
SELECT c.legal_entity_id,
       SUM(CASE WHEN c.hqla_level IN ('1', '2A', '2B') THEN c.market_value ELSE 0 END) AS hqla,
       SUM(c.outflow_30d - c.inflow_30d) AS net_outflows
FROM finance.cash_flows AS c
GROUP BY c.legal_entity_id;
