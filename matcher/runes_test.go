package matcher

import (
	"strconv"
	"testing"
)

func TestRefusedRangesAreSortedDisjointAndMerged(t *testing.T) {
	if len(refusedBounds) == 0 || len(refusedBounds)%2 != 0 {
		t.Fatalf("%d bounds, want a positive even number", len(refusedBounds))
	}
	prev := int64(0x7e) // so that the first range may start at U+0080, above ASCII
	for i, b := range refusedBounds {
		v, err := strconv.ParseInt(b, 16, 32)
		if err != nil || len(b) != 6 || strconv.FormatInt(v|1<<24, 16)[1:] != b {
			t.Fatalf("bound %d %q is not six lower-case hex digits", i, b)
		}
		if v > 0x10ffff {
			t.Fatalf("bound %d %q is above U+10FFFF", i, b)
		}
		lo := i%2 == 0
		if lo && v <= prev+1 {
			t.Fatalf("range %d starts at %q, touching or overlapping the one before", i/2, b)
		}
		if !lo && v < prev {
			t.Fatalf("range %d ends at %q before it starts", i/2, b)
		}
		prev = v
	}
}

func TestRefusedRuneFindsBothBoundsOfARange(t *testing.T) {
	cases := []struct {
		name    string
		r       rune
		refused bool
	}{
		{"U+0080, the first bound of the table, is refused", 0x80, true},
		{"U+00A0, the last bound of the first range, is refused", 0xa0, true},
		{"U+00A1, just after the first range, passes", 0xa1, false},
		{"U+FF01, the first fullwidth form of ASCII, is refused", 0xff01, true},
		{"U+FF00, just before it and unassigned, is refused", 0xff00, true},
		{"U+FF5E, the last fullwidth form of ASCII, is refused", 0xff5e, true},
		{"U+FF5F, just after it, passes", 0xff5f, false},
		{"U+10FFFF, the last bound of the table, is refused", 0x10ffff, true},
		{"U+10FFFD, below the last range, passes", 0x10fffd, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := refusedRune(c.r); got != c.refused {
				t.Fatalf("refusedRune(%U) = %v", c.r, got)
			}
		})
	}
}
