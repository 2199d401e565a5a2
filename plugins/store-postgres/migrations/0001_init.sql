-- 0001: certificates and pre-signed OCSP responses.
-- Serials are decimal text without leading zeros, so (length, text) in the
-- C collation orders them numerically. Times are whole seconds (X.509
-- validity is second-precision).
CREATE TABLE certificates (
	serial            TEXT COLLATE "C" NOT NULL CHECK (serial ~ '^(0|[1-9][0-9]*)$'),
	aki               TEXT COLLATE "C" NOT NULL CHECK (aki <> ''),
	issuer_label      TEXT        NOT NULL DEFAULT '',
	subject           TEXT        NOT NULL DEFAULT '',
	sans              TEXT[]      NOT NULL DEFAULT '{}',
	not_before        TIMESTAMPTZ,
	not_after         TIMESTAMPTZ NOT NULL,
	status            TEXT        NOT NULL DEFAULT 'good' CHECK (status IN ('good', 'revoked')),
	revocation_reason SMALLINT    NOT NULL DEFAULT 0
		CHECK (revocation_reason BETWEEN 0 AND 10 AND revocation_reason <> 7),
	revoked_at        TIMESTAMPTZ,
	profile           TEXT        NOT NULL DEFAULT '',
	der               BYTEA       NOT NULL CHECK (octet_length(der) > 0),
	metadata          JSONB,
	created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
	PRIMARY KEY (serial, aki),
	CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

CREATE INDEX certificates_issuer_not_after ON certificates (issuer_label, not_after);
CREATE INDEX certificates_status_not_after ON certificates (status, not_after);
CREATE INDEX certificates_not_after ON certificates (not_after);
-- (aki, not_after) rather than (aki): it also serves List by AKI in order.
CREATE INDEX certificates_aki_not_after ON certificates (aki, not_after);

CREATE TABLE ocsp_responses (
	serial      TEXT COLLATE "C" NOT NULL,
	aki         TEXT COLLATE "C" NOT NULL,
	response    BYTEA       NOT NULL CHECK (octet_length(response) > 0),
	next_update TIMESTAMPTZ,
	updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
	PRIMARY KEY (serial, aki)
);

CREATE INDEX ocsp_responses_next_update ON ocsp_responses (next_update);
