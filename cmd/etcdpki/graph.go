package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/graph"
	"github.com/etcdpki/etcdpki/layout"
)

// graphFormats are the --format values of the graph command.
var graphFormats = []string{"dot", "mermaid", "svg"}

func newGraphCmd() *cobra.Command {
	var (
		mf     memberFlags
		format string
		svg    string
	)
	cmd := &cobra.Command{
		Use:   "graph DIR...",
		Short: "Draw the trust graph: which CA signs what, which port serves and trusts what",
		Long: `Draw the cluster's trust graph from the members' files: each CA and the
certificates it signs; per member, the client port (2379) and peer port
(2380), the certificate each serves and dials with, the CA each verifies its
clients and peers with, and the client credentials. Edges that a check
finding breaks are dashed and red (errors) or orange (warnings) and carry the
rule IDs (see 'etcdpki check' and docs/rules.md); findings about a port or a
member as a whole mark that port or member.

--format dot (Graphviz, the default), mermaid (renders in GitHub Markdown)
or svg (an SVG laid out by etcdpki itself, with no Graphviz: the drawing
the exporter's page shows). --svg FILE renders the DOT through Graphviz's
dot program instead, which lays out larger clusters better.
DIRs are read as 'etcdpki check' reads them, ssh://[user@]host[:port][/path]
nodes too (see 'etcdpki help check').`,
		Example: `  etcdpki graph pki/ | dot -Tpng > trust.png
  etcdpki graph --svg trust.svg cp1/ cp2/ cp3/
  etcdpki graph ssh://cp1 ssh://cp2 ssh://cp3 | dot -Tsvg > trust.svg
  etcdpki graph --format mermaid pki/ >> README.md
  etcdpki graph --format svg cp1/ cp2/ cp3/ > trust.svg         # without Graphviz`,
		RunE: func(cmd *cobra.Command, dirs []string) error {
			if !slices.Contains(graphFormats, format) {
				return usagef("unknown --format %q (want %s)", format, orList(graphFormats))
			}
			if svg != "" && cmd.Flags().Changed("format") && format != "dot" {
				return usagef("--svg renders DOT; leave out --format %s", format)
			}
			members, err := mf.load(dirs)
			if err != nil {
				return err
			}
			g := graph.Build(members, audit.Check(members, audit.Options{}))
			if svg == "" {
				switch format {
				case "mermaid":
					return g.WriteMermaid(cmd.OutOrStdout())
				case "svg":
					return g.WriteSVG(cmd.OutOrStdout())
				}
				return g.WriteDOT(cmd.OutOrStdout())
			}
			var dot bytes.Buffer
			if err := g.WriteDOT(&dot); err != nil {
				return err
			}
			out, err := graph.RenderSVG(cmd.Context(), dot.Bytes())
			if errors.Is(err, graph.ErrNoGraphviz) {
				return withHint(err, "or print DOT without --svg and render it elsewhere")
			}
			if err != nil {
				return err
			}
			if err := layout.WriteFile(svg, out, layout.CertPerm); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", svg)
			return nil
		},
	}
	mf.register(cmd)
	mf.registerRemote(cmd)
	f := cmd.Flags()
	f.StringVarP(&format, "format", "o", "dot", "output `FORMAT`: "+orList(graphFormats))
	f.StringVar(&svg, "svg", "", "render the graph to this SVG `FILE` with Graphviz's dot")
	return cmd
}
