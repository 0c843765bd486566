//go:build !yaegi
// +build !yaegi

package matcher

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// python3 runs a Python program and returns its output, skipping the test when python3 is missing
// or its Unicode Character Database is not the one unicode.go was generated from.
func python3(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	v, err := exec.Command("python3", "-c", "import unicodedata; print(unicodedata.unidata_version)").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(v)); got != unicodeVersion {
		t.Skipf("python3 has Unicode %s, unicode.go was generated from %s", got, unicodeVersion)
	}
	out, err := exec.Command("python3", args...).Output()
	if err != nil {
		t.Fatalf("python3 %s: %v", args[0], err)
	}
	return out
}

func TestUnicodeGoIsWhatTheGeneratorWrites(t *testing.T) {
	want := python3(t, "gen_unicode.py")
	got, err := os.ReadFile("unicode.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("unicode.go differs from the output of gen_unicode.py: run go generate ./matcher")
	}
}

// oracle states the classes of gen_unicode.py again, independently: Python says which code points
// NFKC turns into something with ASCII in it and which are unassigned, each printed as "lo hi"
// lines; C1 controls and surrogates are ranges, and default-ignorables are derived from Go's
// property tables as DerivedCoreProperties.txt derives them.
const oracle = `
import unicodedata as u
def emit(name, pred):
    print(name)
    lo = None
    for c in range(0x80, 0x110001):
        hit = c <= 0x10FFFF and not 0xD800 <= c <= 0xDFFF and pred(chr(c))
        if hit and lo is None:
            lo = c
        elif not hit and lo is not None:
            print(lo, c - 1)
            lo = None
emit("nfkc", lambda ch: u.normalize("NFKC", ch) != ch and any(ord(x) < 0x80 for x in u.normalize("NFKC", ch)))
emit("unassigned", lambda ch: u.category(ch) == "Cn")
`

func TestRefusedRunesAreExactlyTheDocumentedClasses(t *testing.T) {
	classes := map[string]*unicode.RangeTable{}
	var cur *unicode.RangeTable
	sc := bufio.NewScanner(bytes.NewReader(python3(t, "-c", oracle)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 {
			cur = &unicode.RangeTable{}
			classes[f[0]] = cur
			continue
		}
		lo, _ := strconv.Atoi(f[0])
		hi, _ := strconv.Atoi(f[1])
		cur.R32 = append(cur.R32, unicode.Range32{Lo: uint32(lo), Hi: uint32(hi), Stride: 1})
	}
	if len(classes["nfkc"].R32) == 0 || len(classes["unassigned"].R32) == 0 {
		t.Fatalf("the oracle printed nothing for a class: %v", classes)
	}
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		why := ""
		switch {
		case r <= 0x9f:
			why = "a C1 control"
		case defaultIgnorable(r):
			why = "default-ignorable"
		case unicode.Is(classes["unassigned"], r):
			why = "unassigned in Unicode " + unicodeVersion
		case unicode.Is(classes["nfkc"], r):
			why = "an NFKC spelling of ASCII"
		}
		if got := refusedRune(r); got != (why != "") {
			t.Fatalf("refusedRune(%U) = %v, but it is %q", r, got, why)
		}
	}
}

// defaultIgnorable derives Default_Ignorable_Code_Point the way DerivedCoreProperties.txt does:
// Other_Default_Ignorable_Code_Point + Cf + Variation_Selector - White_Space - FFF9..FFFB
// - 13430..1343F - Prepended_Concatenation_Mark.
func defaultIgnorable(r rune) bool {
	if !unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector) {
		return false
	}
	return !unicode.In(r, unicode.White_Space, unicode.Prepended_Concatenation_Mark) &&
		!(r >= 0xfff9 && r <= 0xfffb) && !(r >= 0x13430 && r <= 0x1343f)
}
