package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// headBytes is how much of a file's beginning identifies it beside its device and inode: a file
// truncated and written again (copytruncate) keeps both, not its first line.
const headBytes = 1024

// FileOptions configure IngestFile.
type FileOptions struct {
	// Source names the file in audit_sources (default "file:" and its absolute path).
	Source string
	// Follow keeps reading as the file grows, across rotations (rename and create, or truncate),
	// until ctx ends.
	Follow bool
	// Poll is how often a followed file is checked for new lines (default 250ms).
	Poll time.Duration
	// Batch is the number of lines per transaction (default 1000).
	Batch int
	// Progress, when set, is called after each stored batch with the totals so far.
	Progress func(Stats)
	// OnError, when set, is told of each failure to store a batch while following: the batch is
	// kept and tried again (after 1 s, then up to 30 s) until it is stored or ctx ends, so a
	// database restart loses nothing. Without Follow the first failure is returned.
	OnError func(error)
}

// splitter cuts a byte stream into lines no longer than MaxLine, skipping (and reporting) longer
// ones without buffering them.
type splitter struct {
	buf      []byte
	discard  bool  // inside a line longer than MaxLine
	consumed int64 // bytes of complete lines (with their newline) handed out so far
}

// lines returns the complete lines in the buffer and keeps the rest; tooLong counts lines that
// ended while being discarded.
func (s *splitter) lines(emit func(line []byte, tooLong bool)) {
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			if len(s.buf) > MaxLine+1 {
				s.consumed += int64(len(s.buf))
				s.buf = s.buf[:0]
				s.discard = true
			}
			return
		}
		line := s.buf[:i]
		s.consumed += int64(i + 1)
		if s.discard {
			s.discard = false
			emit(nil, true)
		} else {
			emit(line, false)
		}
		s.buf = s.buf[i+1:]
	}
}

// batcher collects parsed lines and stores them in batches.
type batcher struct {
	db       *DB
	ctx      context.Context
	size     int
	evs      []Event
	counted  Stats
	total    Stats
	progress func(Stats)
}

func (b *batcher) line(line []byte, tooLong bool) {
	b.counted.Lines++
	if tooLong {
		b.counted.skip(SkipTooLong)
		return
	}
	ev, why, _ := Parse(line)
	if why != "" {
		b.counted.skip(why)
		return
	}
	b.evs = append(b.evs, ev)
}

func (b *batcher) full() bool { return int(b.counted.Lines) >= b.size }

// flush stores the batch (and the position, when pos is not nil).
func (b *batcher) flush(pos *Position) error {
	if b.counted.Lines == 0 && pos == nil {
		return nil
	}
	stored, err := b.db.Store(b.ctx, b.evs, pos, b.counted)
	if err != nil {
		return err
	}
	b.counted.Stored = stored
	b.counted.Duplicates = int64(len(b.evs)) - stored
	b.total.add(b.counted)
	b.evs, b.counted = b.evs[:0], Stats{}
	if b.progress != nil {
		b.progress(b.total)
	}
	return nil
}

// IngestReader stores the audit lines read from r until EOF (the last line need not end with a
// newline). It keeps no position: a reader cannot be resumed, but a line read twice is stored once.
func (db *DB) IngestReader(ctx context.Context, r io.Reader, batch int) (Stats, error) {
	if batch <= 0 {
		batch = 1000
	}
	b := &batcher{db: db, ctx: ctx, size: batch}
	s := &splitter{}
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Read(chunk)
		s.buf = append(s.buf, chunk[:n]...)
		s.lines(func(line []byte, tooLong bool) {
			b.line(line, tooLong)
		})
		if b.full() {
			if err := b.flush(nil); err != nil {
				return b.total, err
			}
		}
		if errors.Is(err, io.EOF) {
			if len(s.buf) > 0 || s.discard {
				b.line(s.buf, s.discard)
			}
			return b.total, b.flush(nil)
		}
		if err != nil {
			b.flush(nil)
			return b.total, err
		}
		if ctx.Err() != nil {
			return b.total, b.flush(nil)
		}
	}
}

// fileID is a file's device and inode.
func fileID(fi os.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// headHash hashes the first min(n, headBytes) bytes of f.
func headHash(f *os.File, n int64) ([]byte, error) {
	if n > headBytes {
		n = headBytes
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	h := sha256.Sum256(buf)
	return h[:], nil
}

// IngestFile stores the audit lines of the file at path, from where the last ingestion of the same
// source stopped: the saved offset counts when the file is the same one (device and inode, not
// shorter than the offset, same first bytes); a rotated or truncated file is read from its start.
// The offset moves with each batch, in the batch's transaction. Without Follow it stops at the end
// of the file, leaving a last line without its newline for the next run (a writer may be in the
// middle of it). With Follow it reads new lines as they come, and when the path names a new file
// (rotation) it reads what is left of the old one, then the new one from its start; it returns
// when ctx ends.
func (db *DB) IngestFile(ctx context.Context, path string, o FileOptions) (Stats, error) {
	st, err := db.ingestFile(ctx, path, o)
	if o.Follow && ctx.Err() != nil {
		err = nil // the end of following; a batch cut short stays unread (its offset was not saved)
	}
	return st, err
}

func (db *DB) ingestFile(ctx context.Context, path string, o FileOptions) (Stats, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Stats{}, err
	}
	if o.Source == "" {
		o.Source = "file:" + abs
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	b := &batcher{db: db, ctx: ctx, size: o.Batch, progress: o.Progress}
	f, err := os.Open(abs)
	if err != nil {
		return Stats{}, err
	}
	defer func() { f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return Stats{}, err
	}
	if !fi.Mode().IsRegular() {
		return Stats{}, fmt.Errorf("%s is not a regular file (read a pipe or stdin with -)", path)
	}
	saved, found, err := db.Position(ctx, o.Source)
	if err != nil {
		return Stats{}, fmt.Errorf("audit: position of %s: %w", o.Source, err)
	}
	dev, ino := fileID(fi)
	var start int64
	if found && saved.Device == dev && saved.Inode == ino && fi.Size() >= saved.Offset {
		h, err := headHash(f, saved.Offset)
		if err != nil {
			return Stats{}, err
		}
		if bytes.Equal(h, saved.Head) {
			start = saved.Offset
		}
	}
	s := &splitter{consumed: start}
	pos := func() (*Position, error) {
		h, err := headHash(f, s.consumed)
		if err != nil {
			return nil, err
		}
		return &Position{Source: o.Source, Device: dev, Inode: ino, Offset: s.consumed, Head: h}, nil
	}
	saved.Offset = -1 // the first flush saves the position, even with nothing read
	flush := func() error {
		if b.counted.Lines == 0 && s.consumed == saved.Offset && dev == saved.Device && ino == saved.Inode {
			return nil
		}
		p, err := pos()
		if err != nil {
			return err
		}
		for wait := time.Second; ; wait *= 2 {
			err := b.flush(p)
			if err == nil {
				break
			}
			if !o.Follow || ctx.Err() != nil {
				return err
			}
			if o.OnError != nil {
				o.OnError(err)
			}
			if wait > 30*time.Second {
				wait = 30 * time.Second
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(wait):
			}
		}
		saved = *p
		return nil
	}
	// readAll reads f from its current offset to EOF, storing full batches.
	readAll := func() error {
		if _, err := f.Seek(s.consumed+int64(len(s.buf)), io.SeekStart); err != nil {
			return err
		}
		chunk := make([]byte, 64<<10)
		for {
			n, err := f.Read(chunk)
			s.buf = append(s.buf, chunk[:n]...)
			var ferr error
			s.lines(func(line []byte, tooLong bool) {
				b.line(line, tooLong)
				if ferr == nil && b.full() {
					ferr = flush()
				}
			})
			if ferr != nil {
				return ferr
			}
			if errors.Is(err, io.EOF) || n == 0 && err == nil {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	for {
		if err := readAll(); err != nil {
			return b.total, err
		}
		if err := flush(); err != nil {
			return b.total, err
		}
		if !o.Follow {
			return b.total, nil
		}
		select {
		case <-ctx.Done():
			return b.total, nil
		case <-time.After(o.Poll):
		}
		// Truncated in place: start over.
		if cur, err := f.Stat(); err == nil && cur.Size() < s.consumed+int64(len(s.buf)) {
			s.buf, s.discard, s.consumed = s.buf[:0], false, 0
			continue
		}
		// Rotated: the path names another file. Finish the old one first.
		nfi, err := os.Stat(abs)
		if err != nil {
			continue // rotated away, the new file not created yet
		}
		if ndev, nino := fileID(nfi); ndev != dev || nino != ino {
			if err := readAll(); err != nil {
				return b.total, err
			}
			if err := flush(); err != nil {
				return b.total, err
			}
			nf, err := os.Open(abs)
			if err != nil {
				continue
			}
			nst, err := nf.Stat()
			if err != nil {
				nf.Close()
				continue
			}
			if len(s.buf) > 0 || s.discard {
				b.line(s.buf, s.discard) // the old file ended inside a line
				s.consumed += int64(len(s.buf))
				s.buf = s.buf[:0]
				if err := flush(); err != nil {
					nf.Close()
					return b.total, err
				}
			}
			f.Close()
			f = nf
			dev, ino = fileID(nst)
			s.buf, s.discard, s.consumed = s.buf[:0], false, 0
		}
	}
}
