-- dialect: postgres
-- Positions enriched with end-of-day prices and the instrument's risk class.
CREATE TABLE risk.positions_enriched AS
SELECT
    p.position_id,
    p.book_id,
    p.instrument_id,
    p.quantity,
    m.close_price,
    p.quantity * m.close_price AS market_value,
    i.asset_class,
    i.currency
FROM trading.positions AS p
JOIN market.eod_prices AS m
    ON m.instrument_id = p.instrument_id AND m.price_date = p.as_of_date
JOIN refdata.instruments AS i
    ON i.instrument_id = p.instrument_id;
