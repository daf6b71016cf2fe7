package graph

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// The native SVG's geometry, in pixels.
const (
	svgMargin    = 16
	svgNodeWidth = 230
	svgColumnGap = 110
	svgLine      = 14 // a label line
	svgPad       = 6  // inside a node, above and below its lines
	svgNodeGap   = 10 // between nodes of a column
	svgBoxPad    = 10 // inside a member's box
	svgBoxTitle  = 18 // a member box's title line
	svgBoxGap    = 18 // between members' boxes
)

// WriteSVG writes the graph as a standalone SVG image laid out by etcdpki
// itself, for places without Graphviz (the exporter's page on a
// control-plane node): CAs and issuers on the left, then each member's
// box with its certificates and, right of them, its ports. Broken edges
// are dashed, coloured by severity and labelled with their rule IDs, as
// in WriteDOT; every node and edge has a <title> tooltip. It returns w's
// error.
func (g *Graph) WriteSVG(w io.Writer) error {
	type box struct{ x, y, w, h float64 }
	pos := map[string]box{}
	height := func(n *Node) float64 {
		lines := len(n.Label)
		if len(n.Rules) > 0 {
			lines++
		}
		return float64(2*svgPad + lines*svgLine)
	}
	colX := [3]float64{svgMargin, svgMargin + svgNodeWidth + svgColumnGap, 0}
	colX[2] = colX[1] + svgNodeWidth + svgColumnGap
	// Members' boxes, one under the other: certificates in the middle
	// column, ports in the right one.
	var boxes []box
	y := float64(svgMargin)
	for _, m := range g.Members {
		top := y + svgBoxPad + svgBoxTitle
		if len(m.Rules) > 0 {
			top += svgLine
		}
		cy, py := top, top
		for _, n := range g.Nodes {
			if n.Member != m.Name {
				continue
			}
			h := height(n)
			if n.Kind == NodePort {
				pos[n.ID] = box{colX[2], py, svgNodeWidth, h}
				py += h + svgNodeGap
			} else {
				pos[n.ID] = box{colX[1], cy, svgNodeWidth, h}
				cy += h + svgNodeGap
			}
		}
		bottom := max(cy, py) - svgNodeGap + svgBoxPad
		b := box{colX[1] - svgBoxPad, y, colX[2] + svgNodeWidth + svgBoxPad - (colX[1] - svgBoxPad), bottom - y}
		boxes = append(boxes, b)
		y = bottom + svgBoxGap
	}
	membersHeight := y - svgBoxGap
	// CAs and issuers, centred on the members' height.
	var outside []*Node
	total := 0.0
	for _, n := range g.Nodes {
		if n.Member == "" {
			outside = append(outside, n)
			total += height(n) + svgNodeGap
		}
	}
	y = max(float64(svgMargin), svgMargin+(membersHeight-svgMargin-total)/2)
	for _, n := range outside {
		h := height(n)
		pos[n.ID] = box{colX[0], y, svgNodeWidth, h}
		y += h + svgNodeGap
	}
	width := colX[2] + svgNodeWidth + svgBoxPad + svgMargin
	heightAll := max(membersHeight, y) + svgMargin

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="11" role="img" aria-label="trust graph">`+"\n",
		width, heightAll, width, heightAll)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>` + "\n")
	for i, m := range g.Members {
		bx := boxes[i]
		stroke := "#999"
		if len(m.Rules) > 0 {
			stroke = severityColor[m.Severity]
		}
		fmt.Fprintf(&b, `<g class="member" data-member="%s"><rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="6" fill="#fafafa" stroke="%s"/>`,
			esc(m.Name), bx.x, bx.y, bx.w, bx.h, stroke)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">member %s</text>`, bx.x+svgBoxPad, bx.y+svgBoxPad+svgLine-2, esc(m.Name))
		if len(m.Rules) > 0 {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="%s">%s</text>`, bx.x+svgBoxPad, bx.y+svgBoxPad+2*svgLine, stroke, esc(strings.Join(m.Rules, ", ")))
		}
		b.WriteString("</g>\n")
	}
	// Edges under the nodes: from the right side of the source to the
	// left side of the target, or around when the target is not right
	// of it (a CA verifying a port spans the certificates' column).
	for _, e := range g.Edges {
		from, ok1 := pos[e.From]
		to, ok2 := pos[e.To]
		if !ok1 || !ok2 {
			continue
		}
		x1, y1 := from.x+from.w, from.y+from.h/2
		x2, y2 := to.x, to.y+to.h/2
		mid := (x1 + x2) / 2
		path := fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, mid, y1, mid, y2, x2, y2)
		stroke, extra := "#777", ""
		if x2 > x1+svgColumnGap+svgNodeWidth {
			// A CA verifying a port: it crosses the certificates'
			// column, drawn lighter so as not to look like theirs.
			stroke = "#9bb7d4"
		}
		title := e.Label
		if e.Broken() {
			stroke = severityColor[e.Severity]
			extra = ` stroke-dasharray="6,4" stroke-width="2" class="broken"`
			title += ": " + strings.Join(e.Rules, ", ")
		}
		fmt.Fprintf(&b, `<g class="edge"><title>%s</title><path d="%s" fill="none" stroke="%s"%s marker-end="url(#arrow)"/>`, esc(title), path, stroke, extra)
		if e.Broken() {
			// The rules, just left of the target, where edges into one
			// node do not pile up on the same spot.
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="%s" font-weight="bold">%s</text>`, x2-4, y2-4, stroke, esc(strings.Join(e.Rules, ", ")))
		}
		b.WriteString("</g>\n")
	}
	for _, n := range g.Nodes {
		p, ok := pos[n.ID]
		if !ok {
			continue
		}
		fill, stroke, dash := "#ffffff", "#555", ""
		switch n.Kind {
		case NodeCA:
			fill = "#e8f0fe"
		case NodeIssuer:
			dash = ` stroke-dasharray="4,3"`
		case NodePort:
			fill = "#f1f8e9"
		}
		if len(n.Rules) > 0 {
			stroke = severityColor[n.Severity]
		}
		rx := 4.0
		if n.Kind == NodeCA || n.Kind == NodeIssuer {
			rx = p.h / 2
		}
		fmt.Fprintf(&b, `<g class="node %s" id="%s"><title>%s</title><rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="%.0f" fill="%s" stroke="%s"%s/>`,
			n.Kind, esc(n.ID), esc(strings.Join(n.Label, "\n")), p.x, p.y, p.w, p.h, rx, fill, stroke, dash)
		lines := n.Label
		for i, l := range lines {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`, p.x+8, p.y+svgPad+float64(i+1)*svgLine-3, esc(fit(l)))
		}
		if len(n.Rules) > 0 {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="%s" font-weight="bold">%s</text>`, p.x+8, p.y+svgPad+float64(len(lines)+1)*svgLine-3, stroke, esc(fit(strings.Join(n.Rules, ", "))))
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// esc escapes text for SVG (XML) content and attributes. Characters XML
// 1.0 does not allow at all (C0 controls but tab and newlines, which a
// certificate's fields may hold) become U+FFFD, so the file parses.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return html.EscapeString(s)
}

// fit shortens a label line to what a node's width shows; the node's
// tooltip has it in full.
func fit(s string) string {
	const most = 36 // characters of 11 px Helvetica in a node
	if r := []rune(s); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return s
}
