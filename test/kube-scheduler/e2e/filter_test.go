package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"wattsched.io/test/kube-scheduler/harness"
)

// filterNodes: the cheapest node carries a low power cap, so it may take a little load but not much.
//
//	node-capped  4 CPU, curve 100..200 (annotation, 25 W/CPU), cap 115 W: at most 600m in total (100 + 25 x 0.6)
//	node-mid     4 CPU, m5.large curve 100..300 (50 W/CPU), no cap
//	node-dear    4 CPU, default curve 100..500 (100 W/CPU), cap 260 W: at most 1600m in total (100 + 100 x 1.6)
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

// TestFilterRespected holds the power-cap invariant: predicted power of a capped node with every pod placed on it
// stays at or under its cap, for pods created in one burst.
//
// This harness gives the extender a static inventory (no API server to watch), so it never sees a binding: the
// only record it has is its own assumed-pods ledger, where every pod it passed onto capped nodes stays counted on
// all of them (the scheduler's choice is not reported back) for assumedPodTtlSeconds, longer than this test.
// Arrival order big-0, small-0, big-1, small-1, big-2, small-2, big-3, small-3, big-4, big-5 (big 1000m, small
// 250m); "assumed" is the ledger's CPU on node-capped / node-dear; prioritize ranks mid over dear for big pods
// (50 W vs 100 W) and capped first for small ones (6.25 W vs 12.5 W vs 25 W):
//
//	big-0    capped 0+1000 -> 125 W > 115 fails; dear 0+1000 -> 200 W passes    -> mid (1000m)   assumed 0 / 1000
//	small-0  capped 250 -> 106.25 W; dear 1250 -> 225 W, both pass                -> capped       assumed 250 / 1250
//	big-1    capped 1250 -> 131.25 W fails; dear 2250 -> 325 W fails              -> mid (2000m)
//	small-1  capped 500 -> 112.5 W; dear 1500 -> 250 W, both pass                 -> capped       assumed 500 / 1500
//	big-2    capped 137.5 W, dear 350 W fail                                       -> mid (3000m)
//	small-2  capped 750 -> 118.75 W fails; dear 1750 -> 275 W fails               -> mid (3250m)
//	big-3    capped 137.5 W, dear 350 W fail; mid lacks CPU (3250+1000 > 4000)     -> Pending
//	small-3  capped and dear fail as small-2                                       -> mid (3500m)
//	big-4, big-5  as big-3                                                         -> Pending
//
// So capped 2, mid 5, dear 0, three big pods Pending. node-dear holds nothing yet refuses big-3 (200 W would fit
// its cap): that is the price of a cap without a cluster watch. With a watch the ledger drops a pod as soon as its
// binding shows (test/kube-scheduler/stacktest checks that against a real API server).
func TestFilterRespected(t *testing.T) {
	for _, tc := range []struct {
		name             string
		nodeCacheCapable bool
	}{{"names mode", true}, {"full-object mode", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 2*time.Minute)
			nodes := filterNodes()
			s := startStack(t, ctx, stackOptions{nodes: nodes, nodeCacheCapable: tc.nodeCacheCapable, ignorable: false})
			big := harness.ExpandPods(harness.PodGroup{Namespace: "shop", Prefix: "big", Count: 6, MilliCPU: 1000, MemoryBytes: gib, Owned: true})
			small := harness.ExpandPods(harness.PodGroup{Namespace: "shop", Prefix: "small", Count: 4, MilliCPU: 250, MemoryBytes: gib / 4, Owned: true})
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
			wantBound := []harness.PodSpec{big[0], big[1], big[2], small[0], small[1], small[2], small[3]}
			if missing := s.cluster.WaitBound(ctx, harness.Keys(wantBound), time.Minute); len(missing) > 0 {
				s.dumpLogs(t)
				t.Fatalf("pods never bound: %v", missing)
			}
			// The three Pending pods are reported with every node's reason: the extender's caps and the CPU fit.
			for _, p := range big[3:] {
				msg := waitEvent(t, s, "shop", p.Name, "FailedScheduling", 30*time.Second)
				for _, want := range []string{"0/3 nodes are available", "137.5 W", "115 W", "350.0 W", "260 W", "Insufficient cpu"} {
					if !strings.Contains(msg, want) {
						t.Errorf("FailedScheduling for %s lacks %q: %s", p.Key(), want, msg)
					}
				}
			}
			bindings := s.cluster.Bindings()
			assertCapsHold(t, nodes, pods, bindings)
			want := map[string]string{
				"shop/big-0": "node-mid", "shop/big-1": "node-mid", "shop/big-2": "node-mid", "shop/small-2": "node-mid", "shop/small-3": "node-mid",
				"shop/small-0": "node-capped", "shop/small-1": "node-capped",
			}
			for _, p := range pods {
				if got, w := bindings[p.Key()].Node, want[p.Key()]; got != w {
					t.Errorf("%s bound to %q, want %q", p.Key(), got, w)
				}
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

			// A 2-CPU pod fits by CPU on node-capped (3.5 CPUs free) and node-dear (4 free) but breaks both caps
			// (capped 500 + 2000 -> 162.5 W > 115 W; dear 1500 assumed + 2000 -> 450 W > 260 W), and node-mid is
			// full: it must stay Pending, with the extender's reasons in the scheduler's FailedScheduling event.
			huge := harness.PodSpec{Namespace: "shop", Name: "huge", MilliCPU: 2000, MemoryBytes: gib}
			if err := s.cluster.CreatePods(ctx, []harness.PodSpec{huge}); err != nil {
				t.Fatal(err)
			}
			msg := waitEvent(t, s, "shop", "huge", "FailedScheduling", 30*time.Second)
			t.Logf("FailedScheduling: %s", msg)
			for _, want := range []string{"0/3 nodes are available", "162.5 W", "115 W", "450.0 W", "260 W", "Insufficient cpu"} {
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

// assertCapsHold checks the invariant itself from the bindings and the test's own copy of the curves: every capped
// node's predicted power with all pods bound to it is at most its cap.
func assertCapsHold(t *testing.T, nodes []harness.NodeSpec, pods []harness.PodSpec, bindings map[string]harness.Binding) {
	t.Helper()
	for _, n := range nodes {
		capText, ok := n.Annotations[harness.AnnotationPowerCapWatts]
		if !ok {
			continue
		}
		var cpu int64
		for _, p := range pods {
			if bindings[p.Key()].Node == n.Name {
				cpu += p.MilliCPU
			}
		}
		var capW float64
		fmt.Sscan(capText, &capW)
		if w := harness.PowerAt(curveOf(n), float64(cpu)/float64(n.MilliCPU)); w > capW+1e-9 {
			t.Errorf("%s: %dm bound -> %.2f W > cap %.0f W", n.Name, cpu, w, capW)
		}
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
