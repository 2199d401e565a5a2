-- 0002: versioned JSON documents (sdk.DocStore) for state shared by core
-- features (ACME). Times are INTEGER unix milliseconds UTC.
CREATE TABLE docs (
	kind       TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	data       BLOB    NOT NULL,
	-- idx: the sorted index keys as a JSON array, so that reads need no
	-- second query; docs_index is what lookups use.
	idx        TEXT    NOT NULL DEFAULT '[]',
	expires_at INTEGER,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (kind, id)
);

CREATE INDEX docs_expires_at ON docs (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE docs_index (
	kind TEXT NOT NULL,
	key  TEXT NOT NULL,
	id   TEXT NOT NULL,
	PRIMARY KEY (kind, key, id),
	FOREIGN KEY (kind, id) REFERENCES docs (kind, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Serves the cascade from docs.
CREATE INDEX docs_index_doc ON docs_index (kind, id);
