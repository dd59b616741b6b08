-- idenfy-async's bulk journal in PostgreSQL: schema version 1.
--
-- The library runs this file itself when a PostgresJournal opens a database whose
-- schema is older (or absent), in one transaction under an advisory lock, so workers
-- starting together migrate once. A DBA who keeps DDL away from the application's
-- user runs it by hand, as a user allowed to create the schema, then grants the
-- application's user its rights on it:
--
--     python -c 'from idenfy_async.bulk.journal import postgres_schema; print(postgres_schema())' \
--         | psql "postgresql://admin@db.example.com/app" -v ON_ERROR_STOP=1
--     psql ... -c 'GRANT USAGE ON SCHEMA idenfy_async TO app'
--     psql ... -c 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA idenfy_async TO app'
--
-- (or `psql ... -f` this file, shipped inside the package). Running it again changes
-- nothing.
-- A journal refuses a database whose schema_version is newer than its own.

BEGIN;

SELECT pg_advisory_xact_lock(hashtext('idenfy_async.schema'));

CREATE SCHEMA IF NOT EXISTS idenfy_async;

-- One row per version applied.
CREATE TABLE IF NOT EXISTS idenfy_async.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (account, clientId): what was sent, and its outcome. ``account`` is the
-- scope the rows were sent with: iDenfy's base URL and a hash of the API key (never
-- the key). Times are wall-clock seconds since the epoch.
CREATE TABLE IF NOT EXISTS idenfy_async.entries (
    account text NOT NULL,
    client_id text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'created', 'failed', 'unknown', 'found')),
    scan_ref text,
    auth_token text,
    redirect_url text,
    error_name text,
    error_status integer,
    error_identifier text,
    error_message text,
    error_retryable boolean,
    attempts integer NOT NULL DEFAULT 0,
    pending_at double precision,
    verification_status text,
    expires_at double precision,
    reconciled text,
    fingerprint text,
    origin text,
    updated_at double precision NOT NULL,
    PRIMARY KEY (account, client_id)
);

-- The rows reconciliation reads when a run starts: few, in flight or undecided.
CREATE INDEX IF NOT EXISTS entries_open ON idenfy_async.entries (account)
    WHERE state IN ('pending', 'unknown');

-- Rows a worker claimed before taking their quota token. A claim without an entry was
-- never sent; once ``lease_until`` has passed another worker may take it.
CREATE TABLE IF NOT EXISTS idenfy_async.claims (
    account text NOT NULL,
    client_id text NOT NULL,
    owner text NOT NULL,
    lease_until double precision NOT NULL,
    PRIMARY KEY (account, client_id)
);

CREATE INDEX IF NOT EXISTS claims_owner ON idenfy_async.claims (account, owner);

INSERT INTO idenfy_async.schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;

COMMIT;
