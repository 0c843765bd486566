package policy

import (
	"encoding/json"
	"os"
	"sync"
	"time"
)

// File is a policy document read from disk, shared by every middleware that names the same path
// (see SharedFile) and parsed once per change. It is re-read when its size or modification time
// changes, checked at most once per interval, on the request path, by one caller at a time. A broken
// edit keeps the last good policy and is reported on stderr. Safe for concurrent use.
type File struct {
	path string

	mu        sync.Mutex
	interval  time.Duration
	current   *Policy
	modTime   time.Time
	size      int64
	checkedAt time.Time
	checking  bool
	lastErr   string
}

var (
	filesMu sync.Mutex
	files   = map[string]*File{}
)

// SharedFile returns the process-wide policy of path, loading it now if it is not loaded yet.
// A first load that fails returns the error (the middleware must not start).
func SharedFile(path string, interval time.Duration) (*File, error) {
	filesMu.Lock()
	f := files[path]
	if f == nil {
		f = &File{path: path}
		files[path] = f
	}
	filesMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.interval = interval
	if f.current != nil {
		return f, nil
	}
	p, err := f.load()
	if err != nil {
		return nil, err
	}
	f.current = p
	f.checkedAt = time.Now()
	return f, nil
}

// Current returns the policy in force, re-reading the file if it changed and the check interval passed.
func (f *File) Current(now time.Time) *Policy {
	f.mu.Lock()
	p := f.current
	due := !f.checking && now.Sub(f.checkedAt) >= f.interval
	if due {
		f.checking = true
		f.checkedAt = now
	}
	f.mu.Unlock()
	if !due {
		return p
	}
	return f.reload(p)
}

func (f *File) reload(p *Policy) (current *Policy) {
	current = p
	defer func() {
		if r := recover(); r != nil {
			f.report("policy reload failed, keeping the last good policy: " + panicMessage(r))
			current = p
		}
		f.mu.Lock()
		f.checking = false
		f.mu.Unlock()
	}()
	fi, err := os.Stat(f.path)
	f.mu.Lock()
	changed := err == nil && (fi.Size() != f.size || !fi.ModTime().Equal(f.modTime))
	f.mu.Unlock()
	if err != nil {
		f.report("cannot stat policy file, keeping the last good policy: " + err.Error())
		return p
	}
	if !changed {
		return p
	}
	f.mu.Lock()
	next, err := f.load()
	f.mu.Unlock()
	if err != nil {
		f.report("policy file is broken, keeping the last good policy: " + err.Error())
		return p
	}
	f.mu.Lock()
	f.current = next
	f.lastErr = ""
	f.mu.Unlock()
	_, _ = os.Stderr.WriteString(`{"gatehouse":"policy","file":` + jsonQuote(f.path) + `,"event":"reloaded"}` + "\n")
	return next
}

// load reads and parses the file, recording its size and time. Call with mu held or before sharing.
func (f *File) load() (*Policy, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err
	}
	f.size = fi.Size()
	f.modTime = fi.ModTime()
	p, err := Parse(data) // not "return Parse(data)": see yaegi.md
	return p, err
}

func (f *File) report(msg string) {
	f.mu.Lock()
	repeat := f.lastErr == msg
	f.lastErr = msg
	f.mu.Unlock()
	if !repeat {
		_, _ = os.Stderr.WriteString(`{"gatehouse":"policy","file":` + jsonQuote(f.path) + `,"error":` + jsonQuote(msg) + "}\n")
	}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
