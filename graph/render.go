package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/etcdpki/etcdpki/audit"
)

// Colours of broken edges and nodes, by the worst finding's severity.
var severityColor = map[audit.Severity]string{audit.Error: "#d62728", audit.Warning: "#ff7f0e"}

// WriteDOT writes the graph in Graphviz's DOT language, left to right:
// CAs, then certificates, then each member's ports. Broken edges are
// dashed, coloured by severity and labelled with the rule IDs.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph etcdpki {\n")
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for _, n := range g.Nodes {
		if n.Member == "" {
			writeDOTNode(&b, "  ", n)
		}
	}
	for _, m := range g.Members {
		fmt.Fprintf(&b, "  subgraph cluster_%s {\n", m.ID)
		label := []string{"member " + m.Name}
		if len(m.Rules) > 0 {
			label = append(label, strings.Join(m.Rules, ", "))
			fmt.Fprintf(&b, "    color=%q; fontcolor=%q;\n", severityColor[m.Severity], severityColor[m.Severity])
		}
		fmt.Fprintf(&b, "    label=%s;\n", dotString(label))
		for _, n := range g.Nodes {
			if n.Member == m.Name {
				writeDOTNode(&b, "    ", n)
			}
		}
		b.WriteString("  }\n")
	}
	for _, e := range g.Edges {
		label := []string{e.Label}
		attrs := ""
		if e.Broken() {
			c := severityColor[e.Severity]
			label = append(label, strings.Join(e.Rules, ", "))
			attrs = fmt.Sprintf(", style=dashed, penwidth=2, color=%q, fontcolor=%q", c, c)
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s%s];\n", e.From, e.To, dotString(label), attrs)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDOTNode(b *strings.Builder, indent string, n *Node) {
	label := n.Label
	attrs := ""
	switch n.Kind {
	case NodeCA:
		attrs = `, shape=ellipse, style=filled, fillcolor="#e8f0fe"`
	case NodeIssuer:
		attrs = `, shape=ellipse, style=dashed`
	case NodePort:
		attrs = `, shape=cds`
	}
	if len(n.Rules) > 0 {
		c := severityColor[n.Severity]
		label = append(append([]string{}, label...), strings.Join(n.Rules, ", "))
		attrs += fmt.Sprintf(", color=%q, fontcolor=%q, penwidth=2", c, c)
	}
	fmt.Fprintf(b, "%s%s [label=%s%s];\n", indent, n.ID, dotString(label), attrs)
}

// dotString quotes lines as one DOT string, lines joined by \n.
func dotString(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(l)
	}
	return `"` + strings.Join(out, `\n`) + `"`
}

// WriteMermaid writes the graph as a Mermaid flowchart (GitHub renders it
// in Markdown). Broken links are dotted and styled by severity with
// linkStyle.
func (g *Graph) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range g.Nodes {
		if n.Member == "" {
			writeMermaidNode(&b, "  ", n)
		}
	}
	for _, m := range g.Members {
		label := []string{"member " + m.Name}
		if len(m.Rules) > 0 {
			label = append(label, strings.Join(m.Rules, ", "))
		}
		fmt.Fprintf(&b, "  subgraph %s[%s]\n", m.ID, mermaidString(label))
		for _, n := range g.Nodes {
			if n.Member == m.Name {
				writeMermaidNode(&b, "    ", n)
			}
		}
		b.WriteString("  end\n")
		if len(m.Rules) > 0 {
			fmt.Fprintf(&b, "  style %s stroke:%s,stroke-width:2px\n", m.ID, severityColor[m.Severity])
		}
	}
	var styles []string
	for i, e := range g.Edges {
		label := []string{e.Label}
		arrow := "-->"
		if e.Broken() {
			label = append(label, strings.Join(e.Rules, ", "))
			arrow = "-.->"
			c := severityColor[e.Severity]
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:%s,stroke-width:2px,color:%s\n", i, c, c))
		}
		fmt.Fprintf(&b, "  %s %s|%s| %s\n", e.From, arrow, mermaidString(label), e.To)
	}
	for _, s := range styles {
		b.WriteString(s)
	}
	for _, n := range g.Nodes {
		if len(n.Rules) > 0 {
			fmt.Fprintf(&b, "  style %s stroke:%s,stroke-width:2px\n", n.ID, severityColor[n.Severity])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMermaidNode(b *strings.Builder, indent string, n *Node) {
	label := n.Label
	if len(n.Rules) > 0 {
		label = append(append([]string{}, label...), strings.Join(n.Rules, ", "))
	}
	open, close := "[", "]"
	switch n.Kind {
	case NodeCA:
		open, close = "([", "])"
	case NodeIssuer:
		open, close = "{{", "}}"
	case NodePort:
		open, close = "[/", "/]"
	}
	fmt.Fprintf(b, "%s%s%s%s%s\n", indent, n.ID, open, mermaidString(label), close)
}

// mermaidString quotes lines as one Mermaid label, lines joined by <br/>.
func mermaidString(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.ReplaceAll(l, `"`, "#quot;")
	}
	return `"` + strings.Join(out, "<br/>") + `"`
}

// ErrNoGraphviz is returned by RenderSVG when Graphviz's dot program is
// not on PATH.
var ErrNoGraphviz = errors.New("graphviz's dot program is not installed (apt-get install graphviz, brew install graphviz)")

// RenderSVG renders DOT source to SVG with Graphviz's dot program.
func RenderSVG(ctx context.Context, dot []byte) ([]byte, error) {
	bin, err := exec.LookPath("dot")
	if err != nil {
		return nil, ErrNoGraphviz
	}
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-Tsvg")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(dot), &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dot -Tsvg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}
