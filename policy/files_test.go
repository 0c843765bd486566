package policy

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

const (
	fileHead    = "permissions: [w:read]\nroles:\n  viewer: [w:read]\n"
	fileGranted = fileHead + "assignments:\n  - {subject: svc-ci, org: acme, role: viewer}\n"
	fileRevoked = fileHead + "assignments: []\n"
)

// writePolicyFile writes doc to path and sets its modification time, so that a rewrite is seen
// as a change whatever the file system's time resolution.
func writePolicyFile(t *testing.T, path, doc string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// grantsSvc reports whether p lets svc-ci read in acme.
func grantsSvc(p *Policy) bool {
	r, err := matcher.ParseRoute("GET /orgs/{org}/w w:read")
	if err != nil {
		panic(err)
	}
	id := tokens.Identity{Subject: "svc-ci", Org: "acme"}
	return Decide(p, Options{}, &id, r, Target{Guarded: true, Org: "acme"}).Allow
}

// registered reports whether the registry holds an entry for path.
func registered(path string) bool {
	filesMu.Lock()
	defer filesMu.Unlock()
	return files[path] != nil
}

// openFile is sharedFileAt followed by the first Current, as New does; the File is released when
// the test ends.
func openFile(t *testing.T, path string, interval time.Duration, now time.Time) *File {
	t.Helper()
	f, err := sharedFileAt(path, interval, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Release)
	f.Current(now)
	return f
}

func TestEachFileKeepsItsOwnReloadInterval(t *testing.T) {
	cases := []struct {
		name       string
		shortFirst bool
	}{
		{"the 1ms middleware sees a revocation promptly when it was built first", true},
		{"the 1ms middleware sees a revocation promptly when it was built last", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			t0 := time.Now()
			writePolicyFile(t, path, fileGranted, t0.Add(-time.Hour))
			var short, long *File
			if c.shortFirst {
				short = openFile(t, path, time.Millisecond, t0)
				long = openFile(t, path, 1000*time.Hour, t0)
			} else {
				long = openFile(t, path, 1000*time.Hour, t0)
				short = openFile(t, path, time.Millisecond, t0)
			}
			writePolicyFile(t, path, fileRevoked, t0)
			later := t0.Add(2 * time.Millisecond)
			if !grantsSvc(long.Current(later)) {
				t.Fatal("the 1000h middleware re-checked the file within its interval")
			}
			revoked := short.Current(later)
			if grantsSvc(revoked) {
				t.Fatal("the 1ms middleware still grants the removed assignment")
			}
			if long.Current(later) != revoked {
				t.Fatal("the 1000h middleware does not share the parse its sibling made")
			}
		})
	}
	t.Run("a middleware built after an edit serves the edited file at once", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "policy.yaml")
		t0 := time.Now()
		writePolicyFile(t, path, fileGranted, t0.Add(-time.Hour))
		openFile(t, path, 1000*time.Hour, t0)
		writePolicyFile(t, path, fileRevoked, t0)
		f, err := sharedFileAt(path, 1000*time.Hour, t0.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Release()
		if grantsSvc(f.Current(t0.Add(time.Second))) {
			t.Fatal("the new middleware serves the policy from before the edit")
		}
	})
}

func TestSharedFileRegistryIsPruned(t *testing.T) {
	cases := []struct {
		name      string
		act       func(t *testing.T, path, other string, t0 time.Time)
		wantPath  bool
		wantOther bool
	}{
		{"releasing every File drops the parse", func(t *testing.T, path, other string, t0 time.Time) {
			a := mustShare(t, path, t0)
			b := mustShare(t, path, t0)
			a.Release()
			if !registered(path) {
				t.Fatal("the parse left the registry while a File still held it")
			}
			b.Release()
		}, false, false},
		{"releasing one File twice gives back one reference only", func(t *testing.T, path, other string, t0 time.Time) {
			a := mustShare(t, path, t0)
			mustShare(t, path, t0)
			a.Release()
			a.Release()
		}, true, false},
		{"a released File keeps serving its policy", func(t *testing.T, path, other string, t0 time.Time) {
			a := mustShare(t, path, t0)
			a.Release()
			if !grantsSvc(a.Current(t0.Add(time.Hour))) {
				t.Fatal("a released File stopped serving")
			}
		}, false, false},
		{"releasing a nil File does nothing", func(t *testing.T, path, other string, t0 time.Time) {
			mustShare(t, path, t0)
			var f *File
			f.Release()
		}, true, false},
		{"an entry idle past fileIdle is swept by the next SharedFile", func(t *testing.T, path, other string, t0 time.Time) {
			mustShare(t, path, t0)
			mustShare(t, other, t0.Add(fileIdle+time.Second))
		}, false, true},
		{"an entry used within fileIdle survives the sweep", func(t *testing.T, path, other string, t0 time.Time) {
			a := mustShare(t, path, t0)
			a.Current(t0.Add(time.Minute))
			mustShare(t, other, t0.Add(fileIdle+time.Second))
		}, true, true},
		{"a swept File keeps serving and its late Release spares the new entry", func(t *testing.T, path, other string, t0 time.Time) {
			a := mustShare(t, path, t0)
			late := t0.Add(fileIdle + time.Second)
			mustShare(t, other, late)
			mustShare(t, path, late)
			a.Release()
			if !grantsSvc(a.Current(late)) {
				t.Fatal("a swept File stopped serving")
			}
		}, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "policy.yaml")
			other := filepath.Join(dir, "other.yaml")
			t0 := time.Now()
			writePolicyFile(t, path, fileGranted, t0)
			writePolicyFile(t, other, fileGranted, t0)
			before := SharedFileCount()
			c.act(t, path, other, t0)
			if registered(path) != c.wantPath || registered(other) != c.wantOther {
				t.Fatalf("registered: %v and %v, want %v and %v", registered(path), registered(other), c.wantPath, c.wantOther)
			}
			if c.wantPath && c.wantOther && SharedFileCount() < before+2 {
				t.Fatalf("SharedFileCount() = %d, want at least %d", SharedFileCount(), before+2)
			}
			dropFiles(path, other)
		})
	}
}

func TestSharedFileRefusesABrokenFirstLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writePolicyFile(t, path, "permissions: [a\n", time.Now())
	f, err := SharedFile(path, time.Second)
	if err == nil || f != nil || !strings.Contains(err.Error(), "malformed YAML") {
		t.Fatalf("SharedFile = %v, %v; want a malformed YAML error", f, err)
	}
	if registered(path) {
		t.Fatal("a file that failed to load was registered")
	}
}

func TestSiblingFilesAreSafeForConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	t0 := time.Now()
	writePolicyFile(t, path, fileGranted, t0.Add(-time.Hour))
	short := openFile(t, path, 0, t0)
	long := openFile(t, path, time.Hour, t0)
	first := short.Current(t0)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		f := short
		if i%2 == 1 {
			f = long
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				f.Current(t0.Add(time.Duration(j) * time.Millisecond))
			}
		}()
	}
	writePolicyFile(t, path, fileRevoked, t0)
	wg.Wait()
	final := short.Current(t0.Add(time.Second))
	if final == first || grantsSvc(final) || long.Current(t0.Add(time.Second)) != final {
		t.Fatal("after concurrent use the siblings do not share the revoked policy")
	}
}

func mustShare(t *testing.T, path string, now time.Time) *File {
	t.Helper()
	f, err := sharedFileAt(path, time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// dropFiles removes what a test left in the registry.
func dropFiles(paths ...string) {
	filesMu.Lock()
	defer filesMu.Unlock()
	for _, p := range paths {
		delete(files, p)
	}
}
