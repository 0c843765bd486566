// Package store keeps Gatehouse's policy (permissions, roles, subjects, assignments) and its
// append-only change log in PostgreSQL. Every change is one transaction that also appends its
// change-log entry; the rules of package policy hold in the store because every change is checked
// by policy's own code before it commits (and by constraints where the database can enforce them).
//
// This file is the package's contract with the admin API (server/admin) and the CLI; the
// implementation lives beside it.
package store

import (
	"encoding/json"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Kinds of object, as the change log and errors name them.
const (
	KindPermission = "permission"
	KindRole       = "role"
	KindSubject    = "subject"
	KindAssignment = "assignment"
	KindSetting    = "setting" // the admin org, set by Bootstrap
)

// Reserved names: the control plane's own permissions start with SystemPermissionPrefix and its
// roles with SystemRolePrefix. They are created by migrations, cannot be created, changed or
// deleted through the methods below (422: no permission or role of any other name may start with
// either prefix), and are left out of the gateways' Document. Their assignments are made with
// CreateAssignment like any other; RolePlatformAdmin only in the admin org (Bootstrap sets it), and
// its last assignment cannot be deleted (409).
const (
	SystemPermissionPrefix = "gatehouse:"
	SystemRolePrefix       = "gatehouse-"

	PermPermissionsWrite = "gatehouse:permissions:write"
	PermRolesWrite       = "gatehouse:roles:write"
	PermSubjectsWrite    = "gatehouse:subjects:write"
	PermAssignmentsWrite = "gatehouse:assignments:write"
	PermPolicyRead       = "gatehouse:policy:read"
	PermAuditRead        = "gatehouse:audit:read"
	PermBundleRead       = "gatehouse:bundle:read"

	RolePlatformAdmin = "gatehouse-platform-admin" // every gatehouse: permission; assignable only in the admin org
	RoleOrgAdmin      = "gatehouse-org-admin"      // assignments:write, subjects:write, policy:read, audit:read
	RoleAuditor       = "gatehouse-auditor"        // policy:read, audit:read
	RoleGateway       = "gatehouse-gateway"        // bundle:read
)

// Permission is a declared permission.
type Permission struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Version     int64  `json:"version"` // bumped by every change; the admin API's ETag
}

// Role maps to permissions (never to roles).
type Role struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"` // sorted
	Version     int64    `json:"version"`
}

// Subject is a user or a service account, identified by its token's sub (and issuer, "" for
// every trusted issuer).
type Subject struct {
	ID          string `json:"id"`
	Issuer      string `json:"issuer,omitempty"`
	Kind        string `json:"kind"` // "user" or "service"
	DisplayName string `json:"displayName,omitempty"`
	Version     int64  `json:"version"`
}

// Assignment gives a subject a role in an org, optionally limited to resource subtrees.
type Assignment struct {
	ID      int64    `json:"id"`
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer,omitempty"`
	Org     string   `json:"org"`
	Role    string   `json:"role"`
	Scopes  []string `json:"scope,omitempty"` // nil: the whole org
	Version int64    `json:"version"`
}

// AssignmentFilter narrows ListAssignments; empty fields match everything.
type AssignmentFilter struct {
	Subject, Issuer, Org, Role string
}

// Change is one change-log entry. The log is append-only (a trigger refuses UPDATE and DELETE).
type Change struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`  // who: the admin's issuer and subject, or "cli:<user>" for bootstrap/import
	Action string          `json:"action"` // create, update, delete
	Kind   string          `json:"kind"`   // one of the Kind* constants
	Key    string          `json:"key"`    // the object's name or id
	Org    string          `json:"org,omitempty"`
	Before json.RawMessage `json:"before,omitempty"` // the object before (JSON), absent on create
	After  json.RawMessage `json:"after,omitempty"`  // the object after, absent on delete
}

// ChangeFilter narrows Changes.
type ChangeFilter struct {
	After int64  // entries with Seq > After
	Limit int    // at most this many (default 100, at most 1000)
	Org   string // only changes to this org's assignments ("" all)
	Kind  string
}

// Error is every refusal the store reports: the admin API turns it into an RFC 9457 problem.
// Status is 400 (malformed), 404 (no such object), 409 (conflict: exists, or still in use),
// 412 (the version does not match: a lost update), 422 (refused by the policy rules) or 503 (the
// database is unreachable). Field names the input field at fault (JSON name, "" when none).
type Error struct {
	Status int
	Field  string
	Detail string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

// DocumentOptions selects what Document returns.
type DocumentOptions struct {
	// System returns only the control plane's own entries (gatehouse: permissions, gatehouse-
	// roles and their assignments): the admin API's policy. Without it they are left out.
	System bool
	// NoAssignments leaves the assignments out ("assignments": []), for ?assignments=none.
	NoAssignments bool
}

// ImportResult reports what Import changed.
type ImportResult struct {
	Created  int   `json:"created"`  // objects created (permissions, roles, subjects, assignments)
	Updated  int   `json:"updated"`  // roles whose permission list changed
	Deleted  int   `json:"deleted"`  // objects the document no longer holds (permissions, roles, assignments)
	Revision int64 `json:"revision"` // the revision after the import (unchanged when nothing changed)
}

// Holder is one answer of WhoCan: an assignment through which a subject holds the permission.
type Holder struct {
	Subject      string   `json:"subject"`
	Issuer       string   `json:"issuer,omitempty"`
	Kind         string   `json:"kind"`
	DisplayName  string   `json:"displayName,omitempty"`
	Role         string   `json:"role"`
	Scopes       []string `json:"scope,omitempty"` // nil: the whole org
	AssignmentID int64    `json:"assignmentId"`
}

// Access is Can's answer: what a subject may do in an org at a resource, as the engine decides it
// (policy.Grants and policy.Explain over a document holding the store's roles and only that
// subject's assignments). Assignments without an issuer count (as for a gateway trusting one
// issuer); qualified ones only when Issuer equals theirs.
type Access struct {
	Subject     string   `json:"subject"`
	Issuer      string   `json:"issuer,omitempty"`
	Org         string   `json:"org"`
	Resource    string   `json:"resource"`    // the path the scopes were matched against ("/" for the org itself)
	Roles       []string `json:"roles"`       // the roles that count there, sorted
	Permissions []string `json:"permissions"` // the permissions they grant, sorted
	Checks      []Check  `json:"checks"`      // one per declared permission, sorted by permission
	Revision    int64    `json:"revision"`
}

// Check is the engine's decision for one permission.
type Check struct {
	Permission string          `json:"permission"`
	Allow      bool            `json:"allow"`
	Reason     string          `json:"reason"`  // policy.Decide's reason
	Sources    []policy.Source `json:"sources"` // every grant source considered (policy.Explain)
}

// The methods of *Store (store.go and friends): ctx first, then actor for writes; ifVersion 0
// means "unconditional", any other value must equal the object's Version or the change fails with
// a 412 Error. Every error a method returns for bad input or an unreachable database is an *Error.
//
//	Open(ctx, dsn string) (*Store, error)               // pgxpool; runs Migrate
//	SchemaVersion() int                                  // the newest migration the binary carries
//	(*Store) Migrate(ctx) error                          // versioned migrations carried in the binary; refuses a newer database
//	(*Store) Close()
//	(*Store) Ping(ctx) error                             // 503 *Error when the database is unreachable
//
//	ListPermissions(ctx) ([]Permission, error)           // sorted by name; includes the system ones
//	GetPermission(ctx, name string) (Permission, error)
//	CreatePermission(ctx, actor string, p Permission) (Permission, error)
//	UpdatePermission(ctx, actor string, p Permission, ifVersion int64) (Permission, error) // the description
//	DeletePermission(ctx, actor, name string, ifVersion int64) error     // 409 while a role grants it
//
//	ListRoles(ctx) ([]Role, error)
//	GetRole(ctx, name string) (Role, error)
//	CreateRole(ctx, actor string, r Role) (Role, error)
//	UpdateRole(ctx, actor string, r Role, ifVersion int64) (Role, error) // replaces description and permission list
//	DeleteRole(ctx, actor, name string, ifVersion int64) error           // 409 while assigned
//
//	ListSubjects(ctx) ([]Subject, error)
//	GetSubject(ctx, id, issuer string) (Subject, error)
//	CreateSubject(ctx, actor string, s Subject) (Subject, error)
//	UpdateSubject(ctx, actor string, s Subject, ifVersion int64) (Subject, error) // kind and display name
//	DeleteSubject(ctx, actor, id, issuer string, ifVersion int64) error           // 409 while assigned
//
//	ListAssignments(ctx, f AssignmentFilter) ([]Assignment, error)        // document order (org, subject, issuer, role, scope)
//	GetAssignment(ctx, id int64) (Assignment, error)
//	CreateAssignment(ctx, actor string, a Assignment) (Assignment, error) // creates the subject (kind user) if unknown
//	UpdateAssignment(ctx, actor string, a Assignment, ifVersion int64) (Assignment, error)
//	DeleteAssignment(ctx, actor string, id int64, ifVersion int64) error
//
//	Bootstrap(ctx, actor, subject, issuer, adminOrg string) (Assignment, error) // gatehouse-platform-admin in adminOrg; idempotent
//	AdminOrg(ctx) (string, error)                                               // "" before Bootstrap
//
//	Changes(ctx, f ChangeFilter) ([]Change, error)
//	Revision(ctx) (int64, error)                                  // Seq of the last change (0 when none)
//	Document(ctx, o DocumentOptions) ([]byte, int64, error)       // the policy document (JSON, deterministic) and its revision
//	Import(ctx, actor string, doc []byte) (ImportResult, error)   // a policy file (YAML or JSON) replaces the non-system content
//	SubjectAssignments(ctx, subject, issuer string) ([]Assignment, int64, error) // non-system, naming issuer or none; and the revision
//	WhoCan(ctx, permission, org string) ([]Holder, error)
//	Can(ctx, subject, issuer, org, resource string) (Access, error)
