package store

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the control plane's PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var errUnfinished = &Error{Status: 503, Detail: "not implemented yet"}

func Open(ctx context.Context, dsn string) (*Store, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}
func (s *Store) Migrate(ctx context.Context) error { return errUnfinished }
func (s *Store) Close()                            { s.pool.Close() }
func (s *Store) Ping(ctx context.Context) error    { return errUnfinished }

func (s *Store) ListPermissions(ctx context.Context) ([]Permission, error) { return nil, errUnfinished }
func (s *Store) GetPermission(ctx context.Context, name string) (Permission, error) {
	return Permission{}, errUnfinished
}
func (s *Store) CreatePermission(ctx context.Context, actor string, p Permission) (Permission, error) {
	return Permission{}, errUnfinished
}
func (s *Store) UpdatePermission(ctx context.Context, actor string, p Permission, ifVersion int64) (Permission, error) {
	return Permission{}, errUnfinished
}
func (s *Store) DeletePermission(ctx context.Context, actor, name string, ifVersion int64) error {
	return errUnfinished
}

func (s *Store) ListRoles(ctx context.Context) ([]Role, error)          { return nil, errUnfinished }
func (s *Store) GetRole(ctx context.Context, name string) (Role, error) { return Role{}, errUnfinished }
func (s *Store) CreateRole(ctx context.Context, actor string, r Role) (Role, error) {
	return Role{}, errUnfinished
}
func (s *Store) UpdateRole(ctx context.Context, actor string, r Role, ifVersion int64) (Role, error) {
	return Role{}, errUnfinished
}
func (s *Store) DeleteRole(ctx context.Context, actor, name string, ifVersion int64) error {
	return errUnfinished
}

func (s *Store) ListSubjects(ctx context.Context) ([]Subject, error) { return nil, errUnfinished }
func (s *Store) GetSubject(ctx context.Context, id, issuer string) (Subject, error) {
	return Subject{}, errUnfinished
}
func (s *Store) CreateSubject(ctx context.Context, actor string, sub Subject) (Subject, error) {
	return Subject{}, errUnfinished
}
func (s *Store) UpdateSubject(ctx context.Context, actor string, sub Subject, ifVersion int64) (Subject, error) {
	return Subject{}, errUnfinished
}
func (s *Store) DeleteSubject(ctx context.Context, actor, id, issuer string, ifVersion int64) error {
	return errUnfinished
}

func (s *Store) ListAssignments(ctx context.Context, f AssignmentFilter) ([]Assignment, error) {
	return nil, errUnfinished
}
func (s *Store) GetAssignment(ctx context.Context, id int64) (Assignment, error) {
	return Assignment{}, errUnfinished
}
func (s *Store) CreateAssignment(ctx context.Context, actor string, a Assignment) (Assignment, error) {
	return Assignment{}, errUnfinished
}
func (s *Store) UpdateAssignment(ctx context.Context, actor string, a Assignment, ifVersion int64) (Assignment, error) {
	return Assignment{}, errUnfinished
}
func (s *Store) DeleteAssignment(ctx context.Context, actor string, id int64, ifVersion int64) error {
	return errUnfinished
}

func (s *Store) Bootstrap(ctx context.Context, actor, subject, issuer, adminOrg string) (Assignment, error) {
	return Assignment{}, errUnfinished
}
func (s *Store) AdminOrg(ctx context.Context) (string, error) { return "", errUnfinished }

func (s *Store) Changes(ctx context.Context, f ChangeFilter) ([]Change, error) {
	return nil, errUnfinished
}
func (s *Store) Revision(ctx context.Context) (int64, error) { return 0, errUnfinished }
func (s *Store) Document(ctx context.Context, o DocumentOptions) ([]byte, int64, error) {
	return nil, 0, errUnfinished
}
func (s *Store) Import(ctx context.Context, actor string, doc []byte) (ImportResult, error) {
	return ImportResult{}, errUnfinished
}
func (s *Store) SubjectAssignments(ctx context.Context, subject, issuer string) ([]Assignment, int64, error) {
	return nil, 0, errUnfinished
}
func (s *Store) WhoCan(ctx context.Context, permission, org string) ([]Holder, error) {
	return nil, errUnfinished
}
func (s *Store) Can(ctx context.Context, subject, issuer, org, resource string) (Access, error) {
	return Access{}, errUnfinished
}
