-- 0002: versioned JSON documents (sdk.DocStore) for state that core
-- features (ACME) share between nodes. The C collation makes ORDER BY id
-- byte order, as the contract asks. idx keeps the sorted index keys for
-- reads; docs_index is what lookups use.
CREATE TABLE docs (
	kind       TEXT COLLATE "C" NOT NULL,
	id         TEXT COLLATE "C" NOT NULL,
	version    BIGINT      NOT NULL CHECK (version > 0),
	data       BYTEA       NOT NULL,
	idx        TEXT[]      NOT NULL DEFAULT '{}',
	expires_at TIMESTAMPTZ,
	updated_at TIMESTAMPTZ NOT NULL,
	-- wtoken identifies the PutDoc call that wrote the row, so that a call
	-- retried after a broken connection recognises its own earlier write.
	wtoken     BIGINT      NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, id)
);

CREATE INDEX docs_expires_at ON docs (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE docs_index (
	kind TEXT COLLATE "C" NOT NULL,
	key  TEXT COLLATE "C" NOT NULL,
	id   TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (kind, key, id),
	FOREIGN KEY (kind, id) REFERENCES docs (kind, id) ON DELETE CASCADE
);

-- Serves the cascade from docs.
CREATE INDEX docs_index_doc ON docs_index (kind, id);
