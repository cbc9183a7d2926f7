-- The readiness probe's write (Store.Ping, GET /readyz): one row per
-- instance name, upserted. A store that cannot take this write cannot take
-- a message either.

CREATE TABLE store_health (
	id         TEXT PRIMARY KEY,
	checked_at BIGINT NOT NULL
);
