package e2e

import (
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"wattsched.io/test/kube-scheduler/harness"
)

// placementNodes: six nodes whose power curves reach the extender all three ways (node annotation, instance-type
// label, default curve) and give a 1-CPU pod six distinct marginal costs: a 25 W, b 30 W (8 CPUs), c 50 W,
// d 60 W, e 75 W, f 100 W.
func placementNodes() []harness.NodeSpec {
	node := func(name string, milli int64, labels, annotations map[string]string) harness.NodeSpec {
		return harness.NodeSpec{Name: name, MilliCPU: milli, MemoryBytes: 32 * gib, MaxPods: 110, Labels: labels, Annotations: annotations}
	}
	return []harness.NodeSpec{
		node("node-f", 4000, map[string]string{harness.LabelInstanceType: "unknown.type"}, nil),
		node("node-e", 4000, map[string]string{harness.LabelInstanceType: "r5.large"}, nil),
		node("node-d", 4000, map[string]string{harness.LabelInstanceType: "c5.xlarge"}, nil),
		node("node-c", 4000, map[string]string{harness.LabelInstanceType: "m5.large"}, nil),
		node("node-b", 8000, map[string]string{harness.LabelInstanceType: "m5.large"}, map[string]string{harness.AnnotationPowerCurve: curveAnnotation(curveB)}),
		node("node-a", 4000, nil, map[string]string{harness.AnnotationPowerCurve: curveAnnotation(curveA)}),
	}
}

// expectedPlacement is the rule the extender promises, computed independently: each pod, in arrival order, goes
// to the node with the fewest marginal watts among those it still fits on (NodeResourcesFit), since the extender's
// static inventory does not see earlier pods bind. A tie would make the expectation ambiguous, so it fails.
func expectedPlacement(t *testing.T, nodes []harness.NodeSpec, pods []harness.PodSpec) map[string]int {
	t.Helper()
	free := map[string]int64{}
	for _, n := range nodes {
		free[n.Name] = n.MilliCPU
	}
	counts := map[string]int{}
	for _, p := range pods {
		best, bestW, tie := "", math.Inf(1), false
		for _, n := range nodes {
			if free[n.Name] < p.MilliCPU {
				continue
			}
			w := marginalWatts(n, p.MilliCPU)
			switch {
			case w < bestW-1e-9:
				best, bestW, tie = n.Name, w, false
			case math.Abs(w-bestW) <= 1e-9:
				tie = true
			}
		}
		if best == "" || tie {
			t.Fatalf("test design: pod %s has no unique cheapest node (best %q, tie %v)", p.Key(), best, tie)
		}
		free[best] -= p.MilliCPU
		counts[best]++
	}
	return counts
}

func TestPlacementFollowsMarginalWatts(t *testing.T) {
	nodes := placementNodes()
	pods := harness.ExpandPods(
		harness.PodGroup{Namespace: "shop", Prefix: "web", Count: 10, MilliCPU: 1000, MemoryBytes: gib / 2, Owned: true,
			Annotations: map[string]string{"wattsched.io/workload": "shop/web"}},
		harness.PodGroup{Namespace: "batch", Prefix: "etl", Count: 8, MilliCPU: 1000, MemoryBytes: gib},
	)
	want := expectedPlacement(t, nodes, pods)
	// The same expectation by hand, so a mistake in the reference model above cannot hide one in the extender.
	hand := map[string]int{"node-a": 4, "node-b": 8, "node-c": 4, "node-d": 2}
	if fmt.Sprint(want) != fmt.Sprint(hand) {
		t.Fatalf("reference model says %v, hand computation says %v", want, hand)
	}

	for _, tc := range []struct {
		name             string
		nodeCacheCapable bool
		tls              bool
	}{
		{"names mode", true, false},
		{"full-object mode", false, false},
		{"names mode over HTTPS", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 2*time.Minute)
			s := startStack(t, ctx, stackOptions{nodes: nodes, nodeCacheCapable: tc.nodeCacheCapable, ignorable: false, tls: tc.tls})
			if err := s.cluster.CreatePods(ctx, pods); err != nil {
				t.Fatal(err)
			}
			if missing := s.cluster.WaitBound(ctx, harness.Keys(pods), time.Minute); len(missing) > 0 {
				s.dumpLogs(t)
				t.Fatalf("%d pods never bound: %v", len(missing), missing)
			}
			bindings := s.cluster.Bindings()
			got := harness.CountByNode(bindings)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				s.dumpLogs(t)
				t.Fatalf("pods per node = %v, want %v", got, want)
			}
			// Every pod went to the node the extender itself (GET /explain) predicted cheapest among the
			// candidates kube-scheduler sent it, and its predictions match the curves.
			for _, p := range pods {
				ex, err := s.ext.Explain(p.Namespace, p.Name)
				if err != nil {
					t.Fatal(err)
				}
				if ex.FailOpen != nil {
					t.Fatalf("%s: extender failed open: %s", p.Key(), *ex.FailOpen)
				}
				type cand struct {
					name string
					w    float64
				}
				var cands []cand
				for _, n := range ex.Nodes {
					if n.MarginalWatts == nil || (n.PassedFilter != nil && !*n.PassedFilter) {
						continue
					}
					spec := nodeByName(nodes, n.Name)
					if ref := marginalWatts(spec, p.MilliCPU); math.Abs(*n.MarginalWatts-ref) > 1e-6 {
						t.Errorf("%s on %s: extender predicts %.3f W, curve says %.3f W (basis %s)", p.Key(), n.Name, *n.MarginalWatts, ref, n.Basis)
					}
					cands = append(cands, cand{n.Name, *n.MarginalWatts})
				}
				if len(cands) == 0 {
					t.Fatalf("%s: /explain lists no scored candidates: %+v", p.Key(), ex)
				}
				sort.Slice(cands, func(i, j int) bool { return cands[i].w < cands[j].w })
				if node := bindings[p.Key()].Node; node != cands[0].name {
					t.Errorf("%s bound to %s, extender's cheapest candidate was %s (%.1f W) of %v", p.Key(), node, cands[0].name, cands[0].w, cands)
				}
			}
		})
	}
}

func nodeByName(nodes []harness.NodeSpec, name string) harness.NodeSpec {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	return harness.NodeSpec{}
}
