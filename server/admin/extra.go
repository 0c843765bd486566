package admin

import (
	"net/http"
	"strings"
)

// Route is a route another package adds to the admin API (Options.Routes): the admin middleware
// authorizes it exactly like the API's own routes (the permission, decided in the admin org, or
// in the path's {org} with the tenant guard and the platform twin), then Handler answers it. The
// handler finds the verified identity in the request's X-Auth-Subject, X-Auth-Issuer, X-Auth-Org
// and X-Auth-Permissions headers (set by the server; a client's own are removed).
type Route struct {
	Method, Path string // a ServeMux pattern's method and path, e.g. GET /v1/orgs/{org}/decisions
	Permission   string // e.g. gatehouse:audit:read
	InOrg        bool   // decided in the path's {org} (the path must hold {org}); else in the admin org
	Query        []string
	Handler      http.Handler
}

// extraRoutes turns Options.Routes into routes of the table.
func extraRoutes(list []Route) []route {
	var out []route
	for _, x := range list {
		x := x
		where := adminOrg
		if x.InOrg && strings.Contains(x.Path, "{org}") {
			where = inOrg
		}
		out = append(out, route{method: x.Method, path: x.Path, perm: x.Permission, where: where, query: x.Query,
			handle: func(_ *Server, w http.ResponseWriter, r *http.Request, id identity) {
				r = r.Clone(r.Context())
				for _, h := range []string{identitySubjectHeader, identityIssuerHeader, identityOrgHeader, identityPermsHeader} {
					r.Header.Del(h)
				}
				r.Header.Set(identitySubjectHeader, id.Subject)
				r.Header.Set(identityIssuerHeader, id.Issuer)
				r.Header.Set(identityOrgHeader, id.Org)
				r.Header.Set(identityPermsHeader, strings.Join(id.Permissions, ","))
				x.Handler.ServeHTTP(w, r)
			}})
	}
	return out
}

// extraMiddlewareRoutes declares extra routes to the middleware, as middlewareRoutes does.
func extraMiddlewareRoutes(list []route) []string {
	var out []string
	for _, rt := range list {
		out = append(out, rt.method+" "+rt.path+" "+rt.perm)
		if rt.where == inOrg {
			out = append(out, rt.method+" "+platformPath(rt.path)+" "+rt.perm)
		}
	}
	return out
}
