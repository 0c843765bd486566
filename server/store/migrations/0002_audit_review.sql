-- Gatehouse audit lines (server/audit) and access reviews (server/review).

-- One row per audit line a gateway wrote. Range-partitioned by day on time: the ingester creates
-- the day's partition (audit_events_YYYYMMDD) before it inserts into it, and retention drops whole
-- partitions (gatehouse audit prune). id is the SHA-256 of the line's JSON object (and of its
-- occurrence number among byte-identical lines of one batch): the same line ingested again, from the
-- same file or through the HTTP endpoint, hits the primary key and is not stored twice. A primary key
-- of a partitioned table must hold the partition key; time is part of the hashed bytes, so (time, id)
-- is as unique as id.
CREATE TABLE audit_events (
	time       timestamptz NOT NULL,
	id         bytea NOT NULL CHECK (length(id) = 32),
	middleware text NOT NULL,
	decision   text NOT NULL CHECK (decision IN ('allow', 'deny', 'shadow-deny')),
	status     smallint NOT NULL,
	reason     text NOT NULL DEFAULT '',
	route      text NOT NULL DEFAULT '',
	permission text NOT NULL DEFAULT '',
	subject    text NOT NULL DEFAULT '',
	issuer     text NOT NULL DEFAULT '',
	org        text NOT NULL DEFAULT '',
	method     text NOT NULL DEFAULT '',
	path       text NOT NULL DEFAULT '',
	client     text NOT NULL DEFAULT '',
	PRIMARY KEY (time, id)
) PARTITION BY RANGE (time);

-- The review's questions: did this subject make an allowed decision needing one of these
-- permissions in this org since T (unused assignments); which routes did a subject use (service
-- accounts); denials in a window (bursts, cross-tenant attempts, unknown issuers).
CREATE INDEX audit_events_allowed ON audit_events (subject, org, permission, time) WHERE decision = 'allow';
CREATE INDEX audit_events_subject_route ON audit_events (subject, route, time);
CREATE INDEX audit_events_denied ON audit_events (time) WHERE decision <> 'allow';

-- Where each ingested source stopped: a file's device and inode, the offset after the last line
-- stored, and a hash of its first bytes (a file rotated or truncated and grown again is read from
-- the start). Updated in the transaction that stores the lines it covers.
CREATE TABLE audit_sources (
	source     text PRIMARY KEY,
	device     bigint NOT NULL DEFAULT 0,
	inode      bigint NOT NULL DEFAULT 0,
	"offset"   bigint NOT NULL DEFAULT 0 CHECK ("offset" >= 0),
	head       bytea NOT NULL DEFAULT '',
	lines      bigint NOT NULL DEFAULT 0,
	stored     bigint NOT NULL DEFAULT 0,
	duplicates bigint NOT NULL DEFAULT 0,
	skipped    bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Access reviews: one row per review, one per finding. key identifies a finding across reviews
-- (class and the objects it names), so the next review tells new, still open and resolved ones.
CREATE TABLE reviews (
	id      bigserial PRIMARY KEY,
	at      timestamptz NOT NULL DEFAULT now(),
	since   timestamptz NOT NULL,
	options jsonb NOT NULL DEFAULT '{}',
	counts  jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE review_findings (
	review_id bigint NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
	key       text NOT NULL,
	class     text NOT NULL,
	severity  text NOT NULL CHECK (severity IN ('high', 'medium', 'low', 'info')),
	title     text NOT NULL,
	evidence  jsonb NOT NULL DEFAULT '{}',
	PRIMARY KEY (review_id, key)
);

-- Log shippers and gateways post audit lines with gatehouse:audit:write (POST /v1/audit).
INSERT INTO permissions (name, description) VALUES
	('gatehouse:audit:write', 'post audit lines (gateways, log shippers)');
INSERT INTO role_permissions (role, permission) VALUES
	('gatehouse-platform-admin', 'gatehouse:audit:write'),
	('gatehouse-gateway', 'gatehouse:audit:write');
