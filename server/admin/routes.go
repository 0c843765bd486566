package admin

import (
	"net/http"
	"strings"
)

// Where a route is decided (docs/control-plane.md, "Admin API").
const (
	// ownOrg: in the token's own org (the catalogue of permissions and roles).
	ownOrg = iota
	// adminOrg: in the admin org, and the token's org must be the admin org.
	adminOrg
	// inOrg: in the path's {org} with the tenant guard, or (platform admins) in the admin org.
	inOrg
)

// Permissions of the control plane (the store seeds them; its System document declares them).
const (
	permPolicyRead        = "gatehouse:policy:read"
	permPermissionsWrite  = "gatehouse:permissions:write"
	permRolesWrite        = "gatehouse:roles:write"
	permSubjectsWrite     = "gatehouse:subjects:write"
	permAssignmentsWrite  = "gatehouse:assignments:write"
	permAuditRead         = "gatehouse:audit:read"
	permBundleRead        = "gatehouse:bundle:read"
	permAuditWrite        = "gatehouse:audit:write" // server/audit: POST /v1/audit (Options.Audit)
	platformPrefix        = "/_platform"
	platformOrgWildcard   = "{target}"
	identitySubjectHeader = "X-Auth-Subject"
	identityIssuerHeader  = "X-Auth-Issuer"
	identityOrgHeader     = "X-Auth-Org"
	identityPermsHeader   = "X-Auth-Permissions"
)

// route is one admin route: its ServeMux pattern, the permission the middleware requires, where
// it is decided, and its handler.
type route struct {
	method, path string
	perm         string
	where        int
	handle       func(s *Server, w http.ResponseWriter, r *http.Request, id identity)
	query        []string // the query parameters it takes (any other is a 400)
}

// routes is the whole admin API but /healthz, /readyz and /metrics (no token needed). The
// middleware's route table and the ServeMux are both built from it.
var routes = []route{
	{"GET", "/v1/permissions", permPolicyRead, ownOrg, (*Server).listPermissions, nil},
	{"GET", "/v1/permissions/{name}", permPolicyRead, ownOrg, (*Server).getPermission, nil},
	{"POST", "/v1/permissions", permPermissionsWrite, adminOrg, (*Server).createPermission, nil},
	{"PUT", "/v1/permissions/{name}", permPermissionsWrite, adminOrg, (*Server).updatePermission, nil},
	{"DELETE", "/v1/permissions/{name}", permPermissionsWrite, adminOrg, (*Server).deletePermission, nil},

	{"GET", "/v1/roles", permPolicyRead, ownOrg, (*Server).listRoles, nil},
	{"GET", "/v1/roles/{name}", permPolicyRead, ownOrg, (*Server).getRole, nil},
	{"POST", "/v1/roles", permRolesWrite, adminOrg, (*Server).createRole, nil},
	{"PUT", "/v1/roles/{name}", permRolesWrite, adminOrg, (*Server).updateRole, nil},
	{"DELETE", "/v1/roles/{name}", permRolesWrite, adminOrg, (*Server).deleteRole, nil},
	{"PUT", "/v1/roles/{name}/permissions/{permission}", permRolesWrite, adminOrg, (*Server).addRolePermission, nil},
	{"DELETE", "/v1/roles/{name}/permissions/{permission}", permRolesWrite, adminOrg, (*Server).removeRolePermission, nil},

	{"GET", "/v1/subjects", permPolicyRead, adminOrg, (*Server).listSubjects, []string{"issuer"}},
	{"GET", "/v1/subjects/{id}", permPolicyRead, adminOrg, (*Server).getSubject, []string{"issuer"}},
	{"POST", "/v1/subjects", permSubjectsWrite, adminOrg, (*Server).createSubject, nil},
	{"PUT", "/v1/subjects/{id}", permSubjectsWrite, adminOrg, (*Server).updateSubject, []string{"issuer"}},
	{"DELETE", "/v1/subjects/{id}", permSubjectsWrite, adminOrg, (*Server).deleteSubject, []string{"issuer"}},

	{"GET", "/v1/assignments", permPolicyRead, adminOrg, (*Server).listAllAssignments, []string{"subject", "issuer", "org", "role"}},
	{"POST", "/v1/assignments", permAssignmentsWrite, adminOrg, (*Server).createAnyAssignment, nil},
	{"GET", "/v1/assignments/{id}", permPolicyRead, adminOrg, (*Server).getAnyAssignment, nil},
	{"PUT", "/v1/assignments/{id}", permAssignmentsWrite, adminOrg, (*Server).updateAnyAssignment, nil},
	{"DELETE", "/v1/assignments/{id}", permAssignmentsWrite, adminOrg, (*Server).deleteAnyAssignment, nil},

	{"GET", "/v1/orgs/{org}/assignments", permPolicyRead, inOrg, (*Server).listOrgAssignments, []string{"subject", "issuer", "role"}},
	{"POST", "/v1/orgs/{org}/assignments", permAssignmentsWrite, inOrg, (*Server).createOrgAssignment, nil},
	{"GET", "/v1/orgs/{org}/assignments/{id}", permPolicyRead, inOrg, (*Server).getOrgAssignment, nil},
	{"PUT", "/v1/orgs/{org}/assignments/{id}", permAssignmentsWrite, inOrg, (*Server).updateOrgAssignment, nil},
	{"DELETE", "/v1/orgs/{org}/assignments/{id}", permAssignmentsWrite, inOrg, (*Server).deleteOrgAssignment, nil},
	{"GET", "/v1/orgs/{org}/subjects/{subject}/can", permPolicyRead, inOrg, (*Server).can, []string{"issuer", "resource"}},
	{"GET", "/v1/orgs/{org}/whocan/{permission}", permPolicyRead, inOrg, (*Server).whoCan, nil},
	{"GET", "/v1/orgs/{org}/changes", permAuditRead, inOrg, (*Server).orgChanges, []string{"after", "limit", "kind"}},

	{"GET", "/v1/changes", permAuditRead, adminOrg, (*Server).allChanges, []string{"after", "limit", "kind", "org"}},
	{"GET", "/v1/export", permPolicyRead, adminOrg, (*Server).export, nil},
	{"POST", "/v1/import", permPermissionsWrite, adminOrg, (*Server).importDocument, nil},
	{"GET", "/v1/bundle", permBundleRead, adminOrg, (*Server).bundle, []string{"assignments"}},
	{"GET", "/v1/subjects/{subject}/assignments", permBundleRead, adminOrg, (*Server).subjectAssignments, []string{"issuer"}},
}

// auditRoute is server/audit's batch endpoint (Options.Audit), kept beside the admin API's routes:
// tested with server/audit (server/admin/audit_test.go).
var auditRoute = route{"POST", "/v1/audit", permAuditWrite, adminOrg, (*Server).auditBatch, nil}

// allRoutes is routes and auditRoute.
func allRoutes() []route { return append(append([]route(nil), routes...), auditRoute) }

// importPermissions are what an import needs besides the route's own permission: it replaces
// permissions, roles, subjects and assignments at once.
var importPermissions = []string{permRolesWrite, permSubjectsWrite, permAssignmentsWrite}

// middlewareRoutes declares every admin route to the plugin middleware: METHOD PATH PERMISSION,
// and for each org route its platform twin below platformPrefix, whose org wildcard is not the
// tenant's ({target}, not {org}), so that it is decided in the token's own org (which must then be
// the admin org).
func middlewareRoutes() []string {
	var out []string
	for _, rt := range allRoutes() {
		out = append(out, rt.method+" "+rt.path+" "+rt.perm)
		if rt.where == inOrg {
			out = append(out, rt.method+" "+platformPath(rt.path)+" "+rt.perm)
		}
	}
	return out
}

// platformPath is the twin of an org path (a pattern or a request path, escaped).
func platformPath(p string) string {
	return platformPrefix + strings.Replace(p, "{org}", platformOrgWildcard, 1)
}
