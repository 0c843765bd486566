package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// auditTee is the stderr of the -postgres gateway's interpreter: a pipe whose reader copies every
// byte to the demo's own stderr, as before (the terminal shows the audit lines as without it), and
// appends each line to a file too, the log gatehouse audit ingest reads at the end of the
// walkthrough. Everything the plugin writes to stderr goes to the file, as it would to Traefik's
// log: the ingester skips and counts the lines that are not audit lines.
type auditTee struct {
	W    *os.File // the writing end: the interpreter's os.Stderr
	Path string   // the file the lines are appended to

	r      *os.File
	out    io.Writer
	file   *os.File
	marker string        // a line only Sync writes; never forwarded
	synced chan struct{} // one value per marker line read
	done   chan struct{} // closed when the copier has ended
	mu     sync.Mutex    // one Sync at a time
	errMu  sync.Mutex
	err    error // the copier's first error writing to the file
}

// newAuditTee creates the file at path and starts the copier. Close stops it.
func newAuditTee(path string, out io.Writer) (*auditTee, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		file.Close()
		return nil, err
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	t := &auditTee{W: w, Path: path, r: r, out: out, file: file, marker: "gatehouse-demo-audit-sync " + hex.EncodeToString(nonce) + "\n",
		synced: make(chan struct{}, 1), done: make(chan struct{})}
	go t.copy()
	return t, nil
}

// copy forwards what the pipe carries, line by line (a last line without its newline too, at the
// end): to out, then to the file. A marker line is only acknowledged.
func (t *auditTee) copy() {
	defer close(t.done)
	defer t.file.Close()
	defer t.r.Close()
	br := bufio.NewReaderSize(t.r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line == t.marker {
			t.synced <- struct{}{}
			continue
		}
		if line != "" {
			io.WriteString(t.out, line)
			if _, werr := t.file.WriteString(line); werr != nil {
				t.errMu.Lock()
				if t.err == nil {
					t.err = werr
				}
				t.errMu.Unlock()
			}
		}
		if err != nil {
			return
		}
	}
}

// Sync returns once every line written to W before it was called is in the file: it writes a
// marker line behind them (a pipe keeps the order of writes) and waits for the copier to reach it.
func (t *auditTee) Sync() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.W.WriteString(t.marker); err != nil {
		return err
	}
	select {
	case <-t.synced:
		return t.fileErr()
	case <-t.done:
		return errors.New("the audit copier has stopped")
	case <-time.After(10 * time.Second):
		return errors.New("the audit copier did not reach the sync marker within 10s")
	}
}

// Close closes the writing end and waits until the copier has written what was left.
func (t *auditTee) Close() error {
	t.W.Close()
	<-t.done
	return t.fileErr()
}

func (t *auditTee) fileErr() error {
	t.errMu.Lock()
	defer t.errMu.Unlock()
	return t.err
}
