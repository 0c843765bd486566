//go:build !unix

package main

import "errors"

// postgres is the throwaway PostgreSQL of go run . -postgres; it runs on Unix systems only
// (initdb and pg_ctl as the postgres user).
type postgres struct {
	bin, dir string
	port     int
}

func (p *postgres) DSN() string { return "" }

func (p *postgres) run(name string, args ...string) (string, error) {
	return "", errors.New("-postgres needs a Unix system")
}

func (p *postgres) stop() {}

func postgresBinaries() (string, error) { return "", errors.New("-postgres needs a Unix system") }

func startPostgres(parent string) (*postgres, error) {
	return nil, errors.New("-postgres needs a Unix system")
}
