package ui

import (
	"strconv"

	"github.com/gatehouse-dev/gatehouse/server/audit"
)

// chart is the SVG bar chart of a summary: per bucket, allows stacked under denials, drawn on
// the server (no script). Its numbers are also in a table for screen readers and keyboards.
type chart struct {
	Width, Height, Top, Bottom int
	Bars                       []bar
	Max                        int64
	Ticks                      []tick
	Labels                     []label
	Allow, Deny                int64
	Empty                      bool
}

type bar struct {
	X, W                  int
	AllowY, AllowH        int
	DenyY, DenyH          int
	Start, End, Title     string
	AllowCount, DenyCount int64
}

type tick struct {
	Y    int
	Text string
}

type label struct {
	X    int
	Text string
}

func newChart(s audit.Summary) chart {
	c := chart{Width: 720, Height: 240, Top: 12, Bottom: 200}
	for _, b := range s.Buckets {
		if b.Allow+b.Deny > c.Max {
			c.Max = b.Allow + b.Deny
		}
		c.Allow += b.Allow
		c.Deny += b.Deny
	}
	c.Empty = c.Max == 0
	scale := c.Max
	if scale == 0 {
		scale = 1
	}
	n := len(s.Buckets)
	if n == 0 {
		return c
	}
	left, right := 48, 8
	slot := (c.Width - left - right) / n
	if slot < 1 {
		slot = 1
	}
	h := c.Bottom - c.Top
	format := "15:04"
	if s.To.Sub(s.From).Hours() > 48 {
		format = "01-02"
	}
	for i, b := range s.Buckets {
		x := left + i*slot
		ah := int(b.Allow * int64(h) / scale)
		dh := int(b.Deny * int64(h) / scale)
		end := s.To
		if i+1 < n {
			end = s.Buckets[i+1].Start
		}
		br := bar{X: x + 1, W: max(slot-2, 1), AllowH: ah, AllowY: c.Bottom - ah, DenyH: dh, DenyY: c.Bottom - ah - dh,
			Start: b.Start.UTC().Format("2006-01-02 15:04"), End: end.UTC().Format("15:04"), AllowCount: b.Allow, DenyCount: b.Deny}
		br.Title = br.Start + "–" + br.End + " UTC: " + strconv.FormatInt(b.Allow, 10) + " allowed, " + strconv.FormatInt(b.Deny, 10) + " denied"
		c.Bars = append(c.Bars, br)
		if i%max(n/6, 1) == 0 {
			c.Labels = append(c.Labels, label{X: x, Text: b.Start.UTC().Format(format)})
		}
	}
	for _, f := range []int64{0, 1, 2} {
		v := c.Max * f / 2
		c.Ticks = append(c.Ticks, tick{Y: c.Bottom - int(v*int64(h)/scale), Text: strconv.FormatInt(v, 10)})
	}
	return c
}
