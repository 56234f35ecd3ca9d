-- dialect: tsql
-- Regulatory capital report: risk-weighted assets and VaR per legal entity.
SELECT b.legal_entity_id, SUM(v.var_99) AS total_var
INTO #entity_var
FROM risk.var_daily AS v
JOIN refdata.books AS b ON b.book_id = v.book_id
GROUP BY b.legal_entity_id
GO

MERGE INTO regulatory.capital_report AS tgt
USING (
    SELECT e.legal_entity_id, e.total_var, r.rwa
    FROM #entity_var AS e
    JOIN finance.rwa_by_entity AS r ON r.legal_entity_id = e.legal_entity_id
) AS src
ON tgt.legal_entity_id = src.legal_entity_id
WHEN MATCHED THEN UPDATE SET tgt.total_var = src.total_var, tgt.rwa = src.rwa
WHEN NOT MATCHED THEN INSERT (legal_entity_id, total_var, rwa)
    VALUES (src.legal_entity_id, src.total_var, src.rwa);
GO
