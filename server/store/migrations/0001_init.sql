-- Gatehouse control plane: permissions, roles, subjects, assignments and the append-only change log.
-- The rules of package policy are checked by its own code before every commit; the constraints
-- below are what SQL can say on its own (a second line of defence).

CREATE TABLE settings (
	key   text PRIMARY KEY,
	value text NOT NULL
);

-- The constraints below are what policy's rules say in ASCII, spelled with explicit ranges (not
-- [[:space:]] or [[:cntrl:]], whose meaning beyond ASCII depends on the database's locale): the
-- database never refuses what policy accepts, and policy's code refuses the rest first.

-- A name: not empty, no '*', no space, comma or ASCII control character (policy's validName).
CREATE DOMAIN gatehouse_name AS text
	CHECK (VALUE <> '' AND strpos(VALUE, '*') = 0 AND VALUE !~ '[\x01-\x20\x7f,]');

-- A forwarded value (subject, issuer, org): no ASCII control character, no leading or trailing
-- ASCII white space (tokens.ValidValue also refuses Unicode padding).
CREATE DOMAIN gatehouse_value AS text
	CHECK (VALUE !~ '[\x01-\x1f\x7f]' AND VALUE = btrim(VALUE, E' \t\n\r\f\v'));

CREATE TABLE permissions (
	name        gatehouse_name PRIMARY KEY CHECK (name NOT IN ('public', 'authenticated', 'deny')),
	description text NOT NULL DEFAULT '',
	version     bigint NOT NULL DEFAULT 1 CHECK (version > 0)
);

CREATE TABLE roles (
	name        gatehouse_name PRIMARY KEY,
	description text NOT NULL DEFAULT '',
	version     bigint NOT NULL DEFAULT 1 CHECK (version > 0)
);

-- Roles map to permissions only: the FK to permissions keeps roles out of roles. Both FKs
-- restrict: a role is deleted with its list explicitly, a permission only when no role grants it.
CREATE TABLE role_permissions (
	role       text NOT NULL REFERENCES roles (name) ON DELETE RESTRICT,
	permission text NOT NULL REFERENCES permissions (name) ON DELETE RESTRICT,
	PRIMARY KEY (role, permission)
);
CREATE INDEX role_permissions_permission ON role_permissions (permission);

CREATE TABLE subjects (
	id           gatehouse_value NOT NULL CHECK (id <> ''),
	issuer       gatehouse_value NOT NULL DEFAULT '', -- '' = every trusted issuer
	kind         text NOT NULL CHECK (kind IN ('user', 'service')),
	display_name text NOT NULL DEFAULT '' CHECK (display_name !~ '[\x01-\x1f\x7f]'),
	version      bigint NOT NULL DEFAULT 1 CHECK (version > 0),
	PRIMARY KEY (id, issuer)
);

CREATE TABLE assignments (
	id      bigserial PRIMARY KEY,
	subject text NOT NULL,
	issuer  text NOT NULL DEFAULT '',
	org     gatehouse_value NOT NULL CHECK (org <> ''),
	role    text NOT NULL REFERENCES roles (name) ON DELETE RESTRICT,
	scopes  text[] NOT NULL DEFAULT '{}' CHECK (array_position(scopes, NULL) IS NULL), -- '{}' = the whole org
	version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
	FOREIGN KEY (subject, issuer) REFERENCES subjects (id, issuer) ON DELETE RESTRICT,
	UNIQUE (subject, issuer, org, role, scopes)
);
CREATE INDEX assignments_org_role ON assignments (org, role);
CREATE INDEX assignments_role ON assignments (role);

CREATE TABLE change_log (
	seq    bigserial PRIMARY KEY,
	at     timestamptz NOT NULL DEFAULT now(),
	actor  text NOT NULL CHECK (actor <> ''),
	action text NOT NULL CHECK (action IN ('create', 'update', 'delete')),
	kind   text NOT NULL CHECK (kind IN ('permission', 'role', 'subject', 'assignment', 'setting')),
	key    text NOT NULL,
	org    text,
	before jsonb,
	after  jsonb,
	CHECK ((action = 'create') = (before IS NULL) AND (action = 'delete') = (after IS NULL))
);
CREATE INDEX change_log_org ON change_log (org, seq) WHERE org IS NOT NULL;

-- The change log is append-only: no UPDATE, DELETE or TRUNCATE, whoever asks (triggers fire for
-- superusers too, unless a session disables them with session_replication_role = replica, which
-- only a superuser can; the ALWAYS triggers below fire even then).
CREATE FUNCTION change_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'change_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER change_log_no_update_delete BEFORE UPDATE OR DELETE ON change_log
	FOR EACH ROW EXECUTE FUNCTION change_log_append_only();
CREATE TRIGGER change_log_no_truncate BEFORE TRUNCATE ON change_log
	FOR EACH STATEMENT EXECUTE FUNCTION change_log_append_only();
ALTER TABLE change_log ENABLE ALWAYS TRIGGER change_log_no_update_delete;
ALTER TABLE change_log ENABLE ALWAYS TRIGGER change_log_no_truncate;

-- The control plane's own permissions and roles (the admin API's policy). Not logged as changes:
-- they are part of the schema.
INSERT INTO permissions (name, description) VALUES
	('gatehouse:permissions:write', 'create, change and delete permissions'),
	('gatehouse:roles:write', 'create, change and delete roles'),
	('gatehouse:subjects:write', 'create, change and delete subjects'),
	('gatehouse:assignments:write', 'create, change and delete assignments'),
	('gatehouse:policy:read', 'read permissions, roles, subjects and assignments'),
	('gatehouse:audit:read', 'read the change log'),
	('gatehouse:bundle:read', 'fetch the policy bundle and per-subject assignments (gateways)');
INSERT INTO roles (name, description) VALUES
	('gatehouse-platform-admin', 'administers the whole control plane (assignable only in the admin org)'),
	('gatehouse-org-admin', 'administers the assignments and subjects of its org'),
	('gatehouse-auditor', 'reads the policy and the change log'),
	('gatehouse-gateway', 'a gateway: fetches the bundle');
INSERT INTO role_permissions (role, permission)
	SELECT 'gatehouse-platform-admin', name FROM permissions WHERE name LIKE 'gatehouse:%'
	UNION ALL VALUES
	('gatehouse-org-admin', 'gatehouse:assignments:write'),
	('gatehouse-org-admin', 'gatehouse:subjects:write'),
	('gatehouse-org-admin', 'gatehouse:policy:read'),
	('gatehouse-org-admin', 'gatehouse:audit:read'),
	('gatehouse-auditor', 'gatehouse:policy:read'),
	('gatehouse-auditor', 'gatehouse:audit:read'),
	('gatehouse-gateway', 'gatehouse:bundle:read');

-- The security rule: gatehouse-platform-admin only in the admin org (set once, by Bootstrap), or
-- an org admin could grant it to themselves in their own org.
CREATE FUNCTION assignments_platform_admin_in_admin_org() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.role = 'gatehouse-platform-admin'
		AND NEW.org IS DISTINCT FROM (SELECT value FROM settings WHERE key = 'admin_org') THEN
		RAISE EXCEPTION 'gatehouse-platform-admin may be assigned only in the admin org'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'platform_admin_in_admin_org';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER assignments_platform_admin BEFORE INSERT OR UPDATE ON assignments
	FOR EACH ROW EXECUTE FUNCTION assignments_platform_admin_in_admin_org();
