//go:build unix

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// A throwaway PostgreSQL from the Debian packages, for go run . -postgres: initdb in a temporary
// directory, pg_ctl start on a free port (TCP on 127.0.0.1 and a unix socket in that directory),
// pg_ctl stop when the demo ends. As root it runs as the postgres user the package creates
// (PostgreSQL refuses root), with the directory chowned to it. server/internal/pgtest does the
// same for the server's tests; the demo module cannot import the server module (the server
// module requires this one), so this is the demo's own small copy of the same steps.

// postgresBinaries returns the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin, else the one on PATH.
func postgresBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && isFile(filepath.Join(filepath.Dir(p), "pg_ctl")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb and pg_ctl, or on PATH): apt-get install postgresql")
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// postgres is a running throwaway server.
type postgres struct {
	bin, dir string
	port     int
	cred     *syscall.Credential
}

// DSN is the URL of its gatehouse database.
func (p *postgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/gatehouse?sslmode=disable", p.port)
}

// startPostgres runs initdb in a new directory under parent and starts the server. The caller
// must call stop.
func startPostgres(parent string) (*postgres, error) {
	bin, err := postgresBinaries()
	if err != nil {
		return nil, err
	}
	p := &postgres{bin: bin, dir: filepath.Join(parent, "postgres")}
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("running as root and there is no postgres user to run PostgreSQL as: " + err.Error())
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			return nil, err
		}
		// The postgres user must reach the directory: make the path down to it traversable.
		for d := parent; d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
					return nil, err
				}
			}
		}
	}
	data := filepath.Join(p.dir, "data")
	if out, err := p.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)
	if out, err := p.run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(p.dir, "postgres.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
		return nil, fmt.Errorf("pg_ctl start: %v\n%s%s", err, out, lastLines(string(log), 10))
	}
	if out, err := p.run("createdb", "-h", p.dir, "-p", strconv.Itoa(p.port), "-U", "postgres", "gatehouse"); err != nil {
		p.stop()
		return nil, fmt.Errorf("createdb: %v\n%s", err, out)
	}
	return p, nil
}

// run runs one of the PostgreSQL binaries as the server's user.
func (p *postgres) run(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// stop shuts the server down (fast: open transactions are rolled back) and waits for it.
func (p *postgres) stop() {
	p.run("pg_ctl", "stop", "-w", "-m", "fast", "-D", filepath.Join(p.dir, "data"))
}
