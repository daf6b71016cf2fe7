package graph_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdpki/etcdpki/audit"
	"github.com/etcdpki/etcdpki/graph"
	"github.com/etcdpki/etcdpki/internal/testca"
	"github.com/etcdpki/etcdpki/member"
	"github.com/etcdpki/etcdpki/pki"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var issued = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// broken is a 3-member cluster with kubeadm manifests and three faults:
// cp3 has a CA of its own (R2), cp2's peer cert lacks clientAuth, and cp1
// runs with --client-cert-auth=false.
func broken(t *testing.T) *graph.Graph {
	t.Helper()
	c := testca.New(t, testca.Options{Manifests: true, Now: issued})
	c.UseCA(testca.NewCA(t, pki.ECDSAP256, issued), "cp3")
	c.Reissue("cp2", pki.KindPeer, testca.EKU(x509.ExtKeyUsageServerAuth))
	c.EditFlags("cp1", func(flags map[string]string) { flags["client-cert-auth"] = "false" })
	ms, err := member.LoadDirs([]string{c.Dir}, nil, member.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return graph.Build(ms, audit.Check(ms, audit.Options{Now: issued}))
}

func TestBuild(t *testing.T) {
	g := broken(t)
	brokenEdges := map[string]string{}
	for _, e := range g.Edges {
		if e.Broken() {
			brokenEdges[e.From+"->"+e.To] = strings.Join(e.Rules, ",") + "/" + e.Severity.String()
		}
	}
	want := map[string]string{
		"ca2->m3_client_port":   string(audit.RuleCAMismatch) + "/error",
		"ca2->m3_peer_port":     string(audit.RuleCAMismatch) + "/error",
		"m2_peer->m2_peer_port": string(audit.RuleEKUPeerClient) + "/error",
	}
	for k, v := range want {
		if brokenEdges[k] != v {
			t.Errorf("edge %s: %q, want %q", k, brokenEdges[k], v)
		}
	}
	if len(brokenEdges) != len(want) {
		t.Errorf("broken edges %v, want %v", brokenEdges, want)
	}
	for _, n := range g.Nodes {
		if n.ID == "m1_client_port" {
			if strings.Join(n.Rules, ",") != string(audit.RuleCertAuthImplied) || n.Severity != audit.Warning {
				t.Errorf("cp1 client port rules %v (%s), want the implied client-cert-auth warning", n.Rules, n.Severity)
			}
		} else if len(n.Rules) > 0 {
			t.Errorf("node %s marked %v", n.ID, n.Rules)
		}
	}
}

func TestGolden(t *testing.T) {
	g := broken(t)
	for name, write := range map[string]func(*bytes.Buffer) error{
		"broken.dot":     func(b *bytes.Buffer) error { return g.WriteDOT(b) },
		"broken.mermaid": func(b *bytes.Buffer) error { return g.WriteMermaid(b) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		// Writing twice gives the same text: rendering does not change the graph.
		var again bytes.Buffer
		_ = write(&again)
		if !bytes.Equal(b.Bytes(), again.Bytes()) {
			t.Errorf("%s: second rendering differs", name)
		}
		path := filepath.Join("testdata", name+".golden")
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -update writes it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, b.String())
		}
	}
}

// TestRenderSVG renders the graph with Graphviz. Without dot the test is
// skipped, except in CI (CI=true), which installs graphviz.
func TestRenderSVG(t *testing.T) {
	if _, err := exec.LookPath("dot"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but graphviz's dot is not on PATH; .ci/run installs it")
		}
		t.Skip("graphviz's dot is not installed")
	}
	var dot bytes.Buffer
	if err := broken(t).WriteDOT(&dot); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svg, err := graph.RenderSVG(ctx, dot.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if !strings.Contains(s, "<svg") || !strings.Contains(s, "R2&#45;CA&#45;MISMATCH") && !strings.Contains(s, "R2-CA-MISMATCH") {
		t.Errorf("SVG lacks the graph:\n%.500s", s)
	}
	if _, err := graph.RenderSVG(ctx, []byte("digraph {")); err == nil {
		t.Error("bad DOT: no error")
	}
}

func TestRenderSVGWithoutGraphviz(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := graph.RenderSVG(context.Background(), []byte("digraph {}"))
	if !errors.Is(err, graph.ErrNoGraphviz) {
		t.Errorf("err = %v, want ErrNoGraphviz", err)
	}
}

// TestWriteSVG: the native SVG is well-formed XML, draws every node and
// member, and marks exactly the broken edges, labelled with their rules.
func TestWriteSVG(t *testing.T) {
	g := broken(t)
	var b bytes.Buffer
	if err := g.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
	}
	var broken int
	for _, e := range g.Edges {
		if e.Broken() {
			broken++
			if !strings.Contains(svg, ">"+strings.Join(e.Rules, ", ")+"</text>") {
				t.Errorf("broken edge %s->%s: no label %v", e.From, e.To, e.Rules)
			}
		}
	}
	if n := strings.Count(svg, `class="broken"`); n != broken || broken == 0 {
		t.Errorf("%d edges drawn broken, the graph has %d", n, broken)
	}
	if n := strings.Count(svg, `<g class="edge">`); n != len(g.Edges) {
		t.Errorf("%d edges drawn, the graph has %d", n, len(g.Edges))
	}
	if n := strings.Count(svg, `<g class="node `); n != len(g.Nodes) {
		t.Errorf("%d nodes drawn, the graph has %d", n, len(g.Nodes))
	}
	for _, m := range g.Members {
		if !strings.Contains(svg, "member "+m.Name+"</text>") {
			t.Errorf("no box for member %s", m.Name)
		}
	}
}
