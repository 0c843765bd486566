package policy

import (
	"encoding/json"
	"errors"
	"os"
	"sync"
	"time"
)

// fileIdle is how long a registry entry may go unused (no SharedFile, no Current) before the next
// SharedFile drops it from the registry. Older Traefik versions never cancel New's context, so
// Release is never called there; this sweep bounds the registry instead.
const fileIdle = 10 * time.Minute

// File is one middleware's view of a policy file. The parse is shared: every File of the same
// path (see SharedFile) reads one parsed Policy, re-read when the file's size or modification
// time changes, by one caller at a time. The settings are not shared: each File checks the file
// at most once per its own interval, on the request path, so a middleware's policyReload bounds
// how long that middleware serves a policy the file no longer says. A File may see a change
// sooner, when a sibling with a shorter interval has re-read the file already. A broken edit
// keeps the last good policy and is reported on stderr. Safe for concurrent use.
type File struct {
	entry     *fileEntry
	interval  time.Duration
	checkedAt time.Time // guarded by entry.mu; zero: check on the first Current
	released  bool      // guarded by filesMu
}

// fileEntry is the shared parse of one path.
type fileEntry struct {
	path string
	refs int // Files not yet released; guarded by filesMu

	mu       sync.Mutex
	current  *Policy
	modTime  time.Time
	size     int64
	checking bool      // a reload is under way
	usedAt   time.Time // last SharedFile or Current
	lastErr  string
}

var (
	filesMu sync.Mutex
	files   = map[string]*fileEntry{}
)

// SharedFile returns a File of path that re-checks the file at most once per interval, sharing
// the parse with every other File of the same path. A first load that fails returns the error
// (the middleware must not start). Each call takes a reference on the shared parse; Release
// gives it back, and a parse nobody references is dropped from the registry. SharedFile also
// drops the entries that went unused for 10 minutes. A dropped entry keeps serving the Files
// that hold it; the next SharedFile of its path parses the file afresh.
func SharedFile(path string, interval time.Duration) (*File, error) {
	return sharedFileAt(path, interval, time.Now())
}

func sharedFileAt(path string, interval time.Duration, now time.Time) (*File, error) {
	filesMu.Lock()
	defer filesMu.Unlock()
	sweepFiles(now)
	e := files[path]
	if e != nil {
		e.refs++
		e.mu.Lock()
		e.usedAt = now
		e.mu.Unlock()
		// checkedAt stays zero: the first Current checks the file, whatever its siblings' intervals.
		return &File{entry: e, interval: interval}, nil
	}
	e = &fileEntry{path: path, refs: 1, usedAt: now}
	p, err := e.load()
	if err != nil {
		return nil, err
	}
	e.current = p
	files[path] = e
	return &File{entry: e, interval: interval, checkedAt: now}, nil
}

// sweepFiles drops the entries unused for longer than fileIdle. Call with filesMu held.
func sweepFiles(now time.Time) {
	var idle []string
	for path, e := range files {
		e.mu.Lock()
		if now.Sub(e.usedAt) > fileIdle {
			idle = append(idle, path)
		}
		e.mu.Unlock()
	}
	for _, path := range idle {
		delete(files, path)
	}
}

// Release gives back the reference SharedFile took. The File keeps working; once every File of
// its path is released, the shared parse leaves the registry. Release is safe to call more than
// once, and on a nil File.
func (f *File) Release() {
	if f == nil || f.entry == nil {
		return
	}
	filesMu.Lock()
	defer filesMu.Unlock()
	if f.released {
		return
	}
	f.released = true
	e := f.entry
	e.refs--
	if e.refs <= 0 && files[e.path] == e {
		delete(files, e.path)
	}
}

// SharedFileCount returns the number of parsed policy files in the registry.
func SharedFileCount() int {
	filesMu.Lock()
	defer filesMu.Unlock()
	return len(files)
}

// Current returns the policy in force, re-reading the file first if this File's interval has
// passed since its last check and the file changed.
func (f *File) Current(now time.Time) *Policy { return CurrentFile(f, now) }

// Path is the file's path, as configured.
func (f *File) Path() string { return f.entry.path }

// CurrentFile is Current as a plain function, the one implementation: under Yaegi a method call
// costs about 28 allocations more than a plain call, and every request under policyFile makes it.
func CurrentFile(f *File, now time.Time) *Policy {
	e := f.entry
	e.mu.Lock()
	p := e.current
	e.usedAt = now
	due := !e.checking && now.Sub(f.checkedAt) >= f.interval
	if due {
		e.checking = true
		f.checkedAt = now
	}
	e.mu.Unlock()
	if !due {
		return p
	}
	return e.reload(p)
}

// reload re-reads the file if it changed since the last load; p is the policy in force. Only one
// reload of an entry runs at a time (e.checking).
func (e *fileEntry) reload(p *Policy) (current *Policy) {
	current = p
	defer func() {
		if r := recover(); r != nil {
			e.report("policy reload failed, keeping the last good policy: " + panicMessage(r))
			current = p
		}
		e.mu.Lock()
		e.checking = false
		e.mu.Unlock()
	}()
	fi, err := os.Stat(e.path)
	if err != nil {
		e.report("cannot stat policy file, keeping the last good policy: " + err.Error())
		return p
	}
	e.mu.Lock()
	changed := fi.Size() != e.size || !fi.ModTime().Equal(e.modTime)
	e.mu.Unlock()
	if !changed {
		return p
	}
	next, err := e.load()
	if err != nil {
		e.report("policy file is broken, keeping the last good policy: " + err.Error())
		return p
	}
	e.mu.Lock()
	e.current = next
	e.lastErr = ""
	e.mu.Unlock()
	_, _ = os.Stderr.WriteString(`{"gatehouse":"policy","file":` + jsonQuote(e.path) + `,"event":"reloaded"}` + "\n")
	return next
}

// errFileUnstable reports a file that kept changing while it was read: a partly written file
// must never be parsed (a truncated assignment could lose its scope and grant the whole org).
var errFileUnstable = errors.New("the file changed while it was read: replace it atomically (write a new file, then rename it over the old one)")

// load reads and parses the file, outside e.mu (SharedFile loads before it publishes the entry;
// reload runs one at a time), and records the size and time it read under e.mu.
func (e *fileEntry) load() (*Policy, error) {
	fi, data, err := readStable(e.path)
	for attempt := 1; attempt < 3 && err == errFileUnstable; attempt++ {
		fi, data, err = readStable(e.path)
	}
	if err != nil {
		return nil, err
	}
	p, err := Parse(data)
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	modTime := fi.ModTime()
	e.mu.Lock()
	e.size = size
	e.modTime = modTime
	e.mu.Unlock()
	return p, nil
}

// readStable reads path and checks that its size and modification time did not change meanwhile.
func readStable(path string) (os.FileInfo, []byte, error) {
	before, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	after, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) != before.Size() || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return nil, nil, errFileUnstable
	}
	return before, data, nil
}

func (e *fileEntry) report(msg string) {
	e.mu.Lock()
	repeat := e.lastErr == msg
	e.lastErr = msg
	e.mu.Unlock()
	if !repeat {
		_, _ = os.Stderr.WriteString(`{"gatehouse":"policy","file":` + jsonQuote(e.path) + `,"error":` + jsonQuote(msg) + "}\n")
	}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
