package web

import (
	"fmt"
	"html/template"
	"strings"
)

// bar is one bar of a chart.
type bar struct {
	Label string
	Value int
}

// Sizes of a bar chart, in SVG user units.
const (
	chartWidth  = 600
	chartLabelW = 200 // the labels' column
	chartRowH   = 28
	chartBarH   = 20
)

// barChart renders bars as an inline SVG horizontal bar chart: no script,
// no external resource, colours as presentation attributes (the CSP allows
// no inline style attributes). Labels are escaped; the result is safe to
// put in a page as is. title names the chart for screen readers.
func barChart(title string, bars []bar) template.HTML {
	if len(bars) == 0 {
		return ""
	}
	top := 0
	for _, b := range bars {
		top = max(top, b.Value)
	}
	h := len(bars) * chartRowH
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="%d" height="%d">`, chartWidth, h, chartWidth, h)
	fmt.Fprintf(&sb, `<title>%s</title>`, template.HTMLEscapeString(title))
	span := chartWidth - chartLabelW - 60 // room for the number after the bar
	for i, b := range bars {
		y := i * chartRowH
		w := 0
		if top > 0 {
			w = b.Value * span / top
		}
		if b.Value > 0 && w < 2 {
			w = 2 // a bar for one person out of thousands is still seen
		}
		fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end" font-size="14" fill="#222">%s</text>`,
			chartLabelW-8, y+chartBarH-5, template.HTMLEscapeString(clip(b.Label, 24)))
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%d" height="%d" fill="#2a6ebb"></rect>`, chartLabelW, y+2, w, chartBarH)
		fmt.Fprintf(&sb, `<text x="%d" y="%d" font-size="14" fill="#222">%d</text>`, chartLabelW+w+6, y+chartBarH-5, b.Value)
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// clip shortens s to at most n characters, with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
