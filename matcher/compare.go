package matcher

// Relationships between two path patterns, as in Go's net/http pattern.go.
const (
	equivalent   = "equivalent"
	moreGeneral  = "moreGeneral"
	moreSpecific = "moreSpecific"
	disjoint     = "disjoint"
	overlaps     = "overlaps"
)

// comparePaths tells how the sets of paths matched by a and b relate.
func comparePaths(a, b []segment) string {
	la, lb := a[len(a)-1].multi, b[len(b)-1].multi
	if len(a) != len(b) && !la && !lb {
		return disjoint
	}
	rel := equivalent
	i := 0
	for ; i < len(a) && i < len(b); i++ {
		rel = combine(rel, compareSegments(a[i], b[i]))
		if rel == disjoint {
			return rel
		}
	}
	if i == len(a) && i == len(b) {
		return rel
	}
	if len(a) < len(b) && la {
		return combine(rel, moreGeneral)
	}
	if len(b) < len(a) && lb {
		return combine(rel, moreSpecific)
	}
	return disjoint
}

func compareSegments(a, b segment) string {
	switch {
	case a.multi && b.multi:
		return equivalent
	case a.multi:
		return moreGeneral
	case b.multi:
		return moreSpecific
	case a.wild && b.wild:
		return equivalent
	case a.wild:
		if b.lit == "" {
			return disjoint // a single wildcard never matches the trailing slash
		}
		return moreGeneral
	case b.wild:
		if a.lit == "" {
			return disjoint
		}
		return moreSpecific
	case a.lit == b.lit:
		return equivalent
	}
	return disjoint
}

func combine(r1, r2 string) string {
	switch r1 {
	case equivalent:
		return r2
	case disjoint:
		return disjoint
	case overlaps:
		if r2 == disjoint {
			return disjoint
		}
		return overlaps
	}
	// r1 is moreGeneral or moreSpecific
	switch r2 {
	case equivalent:
		return r1
	case inverse(r1):
		return overlaps
	}
	return r2
}

func inverse(r string) string {
	switch r {
	case moreGeneral:
		return moreSpecific
	case moreSpecific:
		return moreGeneral
	}
	return r
}

// commonPath returns a request path that both patterns match; they must not be disjoint.
func commonPath(a, b []segment) string {
	out := ""
	i := 0
	for ; i < len(a) && i < len(b); i++ {
		sa, sb := a[i], b[i]
		switch {
		case sa.multi && sb.multi:
			return out + "/x"
		case sa.multi:
			return out + rest(b[i:])
		case sb.multi:
			return out + rest(a[i:])
		case !sa.wild:
			out += "/" + sa.lit
		case !sb.wild:
			out += "/" + sb.lit
		default:
			out += "/x"
		}
	}
	if i < len(a) {
		return out + rest(a[i:])
	}
	if i < len(b) {
		return out + rest(b[i:])
	}
	return out
}

// rest renders an example of the path suffix matched by segs.
func rest(segs []segment) string {
	out := ""
	for _, s := range segs {
		switch {
		case s.multi:
			out += "/"
		case s.wild:
			out += "/x"
		default:
			out += "/" + s.lit
		}
	}
	return out
}
