-- 0001: certificates and pre-signed OCSP responses.
-- Times are INTEGER unix seconds UTC (X.509 validity is second-precision,
-- and seconds cover year 9999 where nanoseconds would overflow int64).
CREATE TABLE certificates (
	serial            TEXT    NOT NULL,
	aki               TEXT    NOT NULL,
	issuer_label      TEXT    NOT NULL DEFAULT '',
	subject           TEXT    NOT NULL DEFAULT '',
	sans              TEXT    NOT NULL DEFAULT '[]',
	not_before        INTEGER,
	not_after         INTEGER NOT NULL,
	status            TEXT    NOT NULL DEFAULT 'good' CHECK (status IN ('good', 'revoked')),
	revocation_reason INTEGER NOT NULL DEFAULT 0,
	revoked_at        INTEGER,
	profile           TEXT    NOT NULL DEFAULT '',
	der               BLOB    NOT NULL,
	metadata          TEXT,
	created_at        INTEGER NOT NULL,
	PRIMARY KEY (serial, aki)
);

CREATE INDEX certificates_issuer_not_after ON certificates (issuer_label, not_after);
CREATE INDEX certificates_status_not_after ON certificates (status, not_after);
CREATE INDEX certificates_not_after ON certificates (not_after);
-- (aki, not_after) rather than (aki): it also serves List by AKI in order.
CREATE INDEX certificates_aki_not_after ON certificates (aki, not_after);

CREATE TABLE ocsp_responses (
	serial      TEXT    NOT NULL,
	aki         TEXT    NOT NULL,
	response    BLOB    NOT NULL,
	next_update INTEGER,
	PRIMARY KEY (serial, aki)
);

CREATE INDEX ocsp_responses_next_update ON ocsp_responses (next_update);
