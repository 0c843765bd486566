package matcher

import (
	"sort"
	"strconv"
	"strings"
)

//go:generate sh -c "python3 gen_unicode.py > unicode.go"

// refusedBounds holds the bounds of refusedRanges in order: lo, hi, lo, hi, ... Each is six
// lower-case hex digits, so string order is numeric order and sort.SearchStrings (a binary search
// in compiled code, one call under the interpreter) finds a code point's place. Building it is one
// strings.Fields call at package initialization.
var refusedBounds = strings.Fields(refusedRanges)

// refusedRune reports whether a decoded segment must not contain r (r ≥ U+0080): a C1 control, a
// surrogate, a code point unassigned in unicodeVersion, a default-ignorable code point, or one whose
// NFKC form contains an ASCII character.
func refusedRune(r rune) bool {
	key := strconv.FormatUint(uint64(r)|1<<24, 16)[1:]
	i := sort.SearchStrings(refusedBounds, key)
	// An odd index lands strictly inside a range (lo < key ≤ hi); an even one only on its lower bound.
	return i%2 == 1 || (i < len(refusedBounds) && refusedBounds[i] == key)
}
