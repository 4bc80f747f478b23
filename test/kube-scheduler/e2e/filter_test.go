package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"wattsched.io/test/kube-scheduler/harness"
)

// filterNodes: the cheapest node carries a low power cap, so it may take small pods but not big ones.
//
//	node-capped  4 CPU, curve 100..200 (annotation), cap 115 W: 250m -> 106.25 W passes, 1000m -> 125 W filtered
//	node-mid     4 CPU, m5.large curve, no cap:                  1000m -> +50 W
//	node-dear    4 CPU, default curve, cap 260 W:                1000m -> 200 W passes, 2000m -> 300 W filtered
func filterNodes() []harness.NodeSpec {
	return []harness.NodeSpec{
		{Name: "node-capped", MilliCPU: 4000, MemoryBytes: 32 * gib, MaxPods: 110,
			Annotations: map[string]string{harness.AnnotationPowerCurve: curveAnnotation(curveA), harness.AnnotationPowerCapWatts: "115"}},
		{Name: "node-mid", MilliCPU: 4000, MemoryBytes: 32 * gib, MaxPods: 110,
			Labels: map[string]string{harness.LabelInstanceType: "m5.large"}},
		{Name: "node-dear", MilliCPU: 4000, MemoryBytes: 32 * gib, MaxPods: 110,
			Annotations: map[string]string{harness.AnnotationPowerCapWatts: "260"}},
	}
}

func TestFilterRespected(t *testing.T) {
	for _, tc := range []struct {
		name             string
		nodeCacheCapable bool
	}{{"names mode", true}, {"full-object mode", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 2*time.Minute)
			s := startStack(t, ctx, stackOptions{nodes: filterNodes(), nodeCacheCapable: tc.nodeCacheCapable, ignorable: false})
			big := harness.ExpandPods(harness.PodGroup{Namespace: "shop", Prefix: "big", Count: 6, MilliCPU: 1000, MemoryBytes: gib, Owned: true})
			small := harness.ExpandPods(harness.PodGroup{Namespace: "shop", Prefix: "small", Count: 4, MilliCPU: 250, MemoryBytes: gib / 4, Owned: true})
			// Interleaved arrival, so the capped node is always a candidate while big pods are being placed.
			var pods []harness.PodSpec
			for i := range big {
				pods = append(pods, big[i])
				if i < len(small) {
					pods = append(pods, small[i])
				}
			}
			if err := s.cluster.CreatePods(ctx, pods); err != nil {
				t.Fatal(err)
			}
			if missing := s.cluster.WaitBound(ctx, harness.Keys(pods), time.Minute); len(missing) > 0 {
				s.dumpLogs(t)
				t.Fatalf("pods never bound: %v", missing)
			}
			bindings := s.cluster.Bindings()
			for _, p := range big {
				if n := bindings[p.Key()].Node; n == "node-capped" {
					t.Errorf("%s (1 CPU, predicted 125 W > cap 115 W) was bound to node-capped", p.Key())
				}
			}
			for _, p := range small {
				if n := bindings[p.Key()].Node; n != "node-capped" {
					t.Errorf("%s (250m, 106.25 W <= cap) went to %s, want the cheapest node node-capped", p.Key(), n)
				}
			}
			got := harness.CountByNode(bindings)
			want := map[string]int{"node-capped": 4, "node-mid": 4, "node-dear": 2}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("pods per node = %v, want %v", got, want)
			}
			// The extender's own record says why node-capped was skipped for a big pod.
			ex, err := s.ext.Explain("shop", "big-0")
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range ex.Nodes {
				if n.Name == "node-capped" && (n.PassedFilter == nil || *n.PassedFilter || !strings.Contains(n.Reason, "115")) {
					t.Errorf("explain for shop/big-0 on node-capped = %+v, want filtered with a reason naming the 115 W cap", n)
				}
			}

			// A 2-CPU pod now fits by CPU on node-capped (3 CPUs free) and node-dear (2 free) but breaks both caps
			// (150 W > 115 W, 300 W > 260 W), and node-mid is full: it must stay Pending, and the scheduler's
			// FailedScheduling event must carry the extender's FailedNodes reasons.
			huge := harness.PodSpec{Namespace: "shop", Name: "huge", MilliCPU: 2000, MemoryBytes: gib}
			if err := s.cluster.CreatePods(ctx, []harness.PodSpec{huge}); err != nil {
				t.Fatal(err)
			}
			msg := waitEvent(t, s, "shop", "huge", "FailedScheduling", 30*time.Second)
			t.Logf("FailedScheduling: %s", msg)
			for _, want := range []string{"0/3 nodes are available", "150", "115", "300", "260", "Insufficient cpu"} {
				if !strings.Contains(msg, want) {
					t.Errorf("FailedScheduling message lacks %q: %s", want, msg)
				}
			}
			if b, ok := s.cluster.Bindings()[huge.Key()]; ok {
				t.Errorf("shop/huge was bound to %s despite every feasible node's power cap", b.Node)
			}
		})
	}
}

// waitEvent polls the fake API server until an event with the reason exists for the pod, returning its note.
func waitEvent(t *testing.T, s *stack, namespace, pod, reason string, timeout time.Duration) string {
	t.Helper()
	ctx := testContext(t, timeout)
	for {
		evs, err := s.cluster.PodEvents(ctx, namespace, pod)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Reason == reason {
				return e.Note
			}
		}
		select {
		case <-ctx.Done():
			s.dumpLogs(t)
			t.Fatalf("no %s event for %s/%s within %s (events: %+v)", reason, namespace, pod, timeout, evs)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
