package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer the tee's copier writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuditTeeCopiesStderrToTheTerminalAndTheFile writes to the tee's pipe as the interpreter
// does, then Syncs (or Closes) and reads both copies: the terminal gets every byte, the file the
// same, and the sync marker reaches neither.
func TestAuditTeeCopiesStderrToTheTerminalAndTheFile(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		close  bool // Close instead of Sync
		want   string
	}{
		{"the lines written before Sync are in the file when it returns", []string{`{"decision":"deny"}` + "\n", "other\n"}, false, `{"decision":"deny"}` + "\nother\n"},
		{"a line written in pieces arrives whole", []string{`{"deci`, `sion":"deny"}` + "\n"}, false, `{"decision":"deny"}` + "\n"},
		{"nothing written: Sync returns, the file is empty", nil, false, ""},
		{"a last line without its newline is written at Close", []string{"a\n", "b"}, true, "a\nb"},
		{"a line over the reader's buffer is copied whole", []string{strings.Repeat("x", 100<<10) + "\n"}, false, strings.Repeat("x", 100<<10) + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var term syncBuffer
			tee, err := newAuditTee(filepath.Join(t.TempDir(), "stderr.log"), &term)
			if err != nil {
				t.Fatal(err)
			}
			defer tee.Close()
			for _, s := range c.writes {
				if _, err := tee.W.WriteString(s); err != nil {
					t.Fatal(err)
				}
			}
			if c.close {
				err = tee.Close()
			} else {
				err = tee.Sync()
			}
			if err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(tee.Path)
			if err != nil {
				t.Fatal(err)
			}
			if string(file) != c.want {
				t.Errorf("file %q; want %q", file, c.want)
			}
			if term.String() != c.want {
				t.Errorf("terminal %q; want %q", term.String(), c.want)
			}
		})
	}
}

// TestAuditTeeSyncsTwice checks that a second Sync waits for the lines written after the first.
func TestAuditTeeSyncsTwice(t *testing.T) {
	var term syncBuffer
	tee, err := newAuditTee(filepath.Join(t.TempDir(), "stderr.log"), &term)
	if err != nil {
		t.Fatal(err)
	}
	defer tee.Close()
	for i, line := range []string{"first\n", "second\n"} {
		tee.W.WriteString(line)
		if err := tee.Sync(); err != nil {
			t.Fatal(err)
		}
		file, _ := os.ReadFile(tee.Path)
		if want := strings.Join([]string{"first\n", "second\n"}[:i+1], ""); string(file) != want {
			t.Errorf("after Sync %d the file holds %q; want %q", i+1, file, want)
		}
	}
}

// TestAuditTeeRefusesAnExistingFile: the copy is a new file, never appended to another's.
func TestAuditTeeRefusesAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stderr.log")
	os.WriteFile(path, []byte("someone else's\n"), 0o600)
	if tee, err := newAuditTee(path, &syncBuffer{}); err == nil {
		tee.Close()
		t.Fatal("newAuditTee opened an existing file")
	}
}

// TestParseIngestReadsTheCountsGatehousePrints reads gatehouse audit ingest's line, and refuses
// anything else (the walkthrough fails instead of checking nothing).
func TestParseIngestReadsTheCountsGatehousePrints(t *testing.T) {
	cases := []struct {
		name, out string
		want      ingestCounts
		ok        bool
	}{
		{"counts with skipped lines named", "13 lines read: 10 stored, 0 already stored, 3 skipped (not-gatehouse 3)", ingestCounts{13, 10, 0, 3}, true},
		{"all duplicates", "13 lines read: 0 stored, 10 already stored, 3 skipped (not-gatehouse 3)", ingestCounts{13, 0, 10, 3}, true},
		{"an error instead of counts", "gatehouse audit ingest: database: connection refused", ingestCounts{}, false},
		{"nothing printed", "", ingestCounts{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseIngest(c.out)
			if (err == nil) != c.ok {
				t.Fatalf("err %v; want ok %v", err, c.ok)
			}
			if c.ok && got != c.want {
				t.Errorf("%+v; want %+v", got, c.want)
			}
		})
	}
}

// TestReviewChecksFailWithoutTheFindings feeds the walkthrough's check review reports that miss
// each finding in turn, or hold it with another class, severity, subject, org or permission.
func TestReviewChecksFailWithoutTheFindings(t *testing.T) {
	const dave = `{"class":"denied-permission","severity":"low","title":"dave was denied","evidence":{"subject":"dave","org":"acme","permission":"workflows:create"}}`
	const erin = `{"class":"cross-tenant","severity":"high","title":"erin tried","evidence":{"subject":"erin","org":"globex","permission":"workflows:read"}}`
	cases := []struct {
		name       string
		findings   []string
		daveOK     bool
		erinOK     bool
		wantDave   string
		wantErinIn string
	}{
		{"both flagged", []string{erin, dave}, true, true, "low denied-permission: dave was denied", "erin tried"},
		{"no findings", nil, false, false, "not flagged", "not flagged"},
		{"dave's denial missing", []string{erin}, false, true, "not flagged", "erin tried"},
		{"erin's attempt only as a plain denial", []string{dave, strings.Replace(strings.Replace(erin, "cross-tenant", "denied-permission", 1), "high", "low", 1)}, true, false, "low denied-permission: dave was denied", "not flagged"},
		{"erin's attempt at low severity", []string{dave, strings.Replace(erin, "high", "low", 1)}, true, false, "low denied-permission: dave was denied", "not flagged"},
		{"dave's denial of another permission", []string{erin, strings.Replace(dave, "workflows:create", "workflows:delete", 1)}, false, true, "not flagged", "erin tried"},
		{"dave's denial in another org", []string{erin, strings.Replace(dave, `"acme"`, `"globex"`, 1)}, false, true, "not flagged", "erin tried"},
		{"another subject's denial", []string{erin, strings.Replace(dave, `"dave"`, `"carol"`, 1)}, false, true, "not flagged", "erin tried"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r reviewReport
			if err := json.Unmarshal([]byte(`{"events":10,"findings":[`+strings.Join(c.findings, ",")+`]}`), &r); err != nil {
				t.Fatal(err)
			}
			title, ok := r.flags(walkthroughFindings[0])
			if ok != c.daveOK || title != c.wantDave {
				t.Errorf("dave: %q, %v; want %q, %v", title, ok, c.wantDave, c.daveOK)
			}
			title, ok = r.flags(walkthroughFindings[1])
			if ok != c.erinOK || !strings.Contains(title, c.wantErinIn) {
				t.Errorf("erin: %q, %v; want %q in it, %v", title, ok, c.wantErinIn, c.erinOK)
			}
		})
	}
}
