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
)

// Kinds of object, as the change log and errors name them.
const (
	KindPermission = "permission"
	KindRole       = "role"
	KindSubject    = "subject"
	KindAssignment = "assignment"
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

// The methods of *Store, implemented in store.go and friends (ctx first, then actor for writes;
// ifVersion 0 means "unconditional", any other value must equal the object's Version or the
// change fails with a 412 Error):
//
//	Open(ctx, dsn string) (*Store, error)               // pgxpool; runs Migrate
//	(*Store) Migrate(ctx) error                          // versioned migrations carried in the binary
//	(*Store) Close()
//	(*Store) Ping(ctx) error
//
//	ListPermissions(ctx) ([]Permission, error)
//	GetPermission(ctx, name) (Permission, error)
//	CreatePermission(ctx, actor string, p Permission) (Permission, error)
//	UpdatePermission(ctx, actor string, p Permission, ifVersion int64) (Permission, error)
//	DeletePermission(ctx, actor, name string, ifVersion int64) error     // 409 while a role grants it
//
//	ListRoles(ctx) ([]Role, error)
//	GetRole(ctx, name) (Role, error)
//	CreateRole(ctx, actor string, r Role) (Role, error)
//	UpdateRole(ctx, actor string, r Role, ifVersion int64) (Role, error) // replaces the permission list
//	DeleteRole(ctx, actor, name string, ifVersion int64) error           // 409 while assigned
//
//	ListSubjects(ctx) ([]Subject, error)
//	GetSubject(ctx, id, issuer string) (Subject, error)
//	CreateSubject / UpdateSubject / DeleteSubject                         // delete: 409 while assigned
//
//	ListAssignments(ctx, f AssignmentFilter) ([]Assignment, error)
//	GetAssignment(ctx, id int64) (Assignment, error)
//	CreateAssignment(ctx, actor string, a Assignment) (Assignment, error) // creates the subject (kind user) if unknown
//	UpdateAssignment(ctx, actor string, a Assignment, ifVersion int64) (Assignment, error)
//	DeleteAssignment(ctx, actor string, id int64, ifVersion int64) error
//
//	Changes(ctx, f ChangeFilter) ([]Change, error)
//	Revision(ctx) (int64, error)                 // Seq of the last change (0 when none)
//	Document(ctx, DocumentOptions) ([]byte, int64, error) // the policy document (JSON, deterministic) and its revision
//	Import(ctx, actor string, doc []byte) (ImportResult, error) // a policy file into the store, one transaction
//	SubjectAssignments(ctx, subject, issuer string) ([]Assignment, int64, error)
//	WhoCan(ctx, permission, org string) ([]Holder, error)
//	Can(ctx, subject, issuer, org, resource string) (policy.Explanation-based report, error)
