package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"wattsched.io/test/kube-scheduler/harness"
)

// fakeAgent serves GET /v1/node as a wattsched agent would: one node's measured utilisation and power, and the pods
// running there with the cores they used. The extender polls it like a real agent.
func fakeAgent(t *testing.T, node string, utilisation float64, pods []map[string]any) string {
	t.Helper()
	report := map[string]any{
		"node": node, "at": time.Now().UTC().Format(time.RFC3339), "intervalSeconds": 1, "layout": "v2",
		"collector":      map[string]any{"name": "fallback", "variant": "test", "reason": "test", "attempts": []any{}},
		"counters":       map[string]any{},
		"droppedCgroups": 0,
		"kubernetes":     map[string]any{"mode": "standalone", "detail": "test"},
		"cgroups":        []any{},
		"pods":           pods,
		"power": map[string]any{
			"source": "model", "watts": 100, "idleWatts": 50, "zones": []any{}, "model": nil, "meters": []any{},
			"cpuUtilisation": utilisation, "busyCpuSeconds": 0, "idlePolicy": "none", "residualRatio": 0, "system": []any{},
		},
	}
	body, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func measuredPod(uid, workload string, cores float64) map[string]any {
	zero := map[string]any{"cpuSeconds": 0}
	return map[string]any{
		"uid": uid, "namespace": "shop", "name": uid, "qos": "burstable", "containers": []any{"c"},
		"workload":   map[string]any{"kind": "ReplicaSet", "namespace": "shop", "name": workload, "id": "shop/ReplicaSet/" + workload},
		"cumulative": zero, "rates": map[string]any{"cpuSeconds": cores},
	}
}

// Two workloads with the same CPU request and different measured use go to different nodes: the one whose history
// shows it busy would overflow the cheap node's measured load, so it is placed on the dearer node that has room;
// by their requests alone both would go to the cheap node.
//
//	node-cheap  4 CPUs, 100..200 W (25 W/CPU), its agent measures 50 % busy (2 CPUs)
//	node-roomy 16 CPUs, 100..900 W (50 W/CPU), its agent measures shop/busy's pods at 3 cores, shop/quiet's at 0.1
//	pods: quiet-0 and busy-0, 500m requested each
//	by request: cheap 12.5 W, roomy 25 W → both on node-cheap
//	by history: quiet 0.1 cores → cheap 2.5 W, roomy 5 W → node-cheap; busy 3 cores → 2 + 3 > 4 CPUs on node-cheap
//	(saturated, minimum score), 150 W on node-roomy → node-roomy
func TestPlacementFollowsMeasuredHistory(t *testing.T) {
	requireCLI(t)
	ctx := testContext(t, 2*time.Minute)
	nodes := []harness.NodeSpec{
		{Name: "node-cheap", MilliCPU: 4000, MemoryBytes: 32 * gib, MaxPods: 110, Annotations: map[string]string{harness.AnnotationPowerCurve: curveAnnotation(linearCurve(100, 10))}},
		{Name: "node-roomy", MilliCPU: 16000, MemoryBytes: 64 * gib, MaxPods: 110, Annotations: map[string]string{harness.AnnotationPowerCurve: curveAnnotation(linearCurve(100, 80))}},
	}
	agents := []string{
		fakeAgent(t, "node-cheap", 0.5, []map[string]any{}),
		fakeAgent(t, "node-roomy", 3.1/16, []map[string]any{measuredPod("busy-old", "busy", 3), measuredPod("quiet-old", "quiet", 0.1)}),
	}
	cfg := harness.ExtenderFileConfig{
		PowerCurves: powerCurves(), Nodes: harness.InventoryFor(nodes),
		Telemetry: map[string]any{"agents": agents, "pollIntervalSeconds": 0.2},
	}
	ext, err := harness.StartExtender(ctx, harness.ExtenderOptions{RepoRoot: repoRoot, Dir: t.TempDir(), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Stop()
	// Wait (on the extender's own counters, not a fixed sleep) until each agent was read successfully at least four
	// times: a history counts once its decay weights sum to profiles.minEffectiveSamples (3), and three samples of any
	// age weigh a little less than 3. Each round polls both agents, so after R rounds ok = 2R - failed and each agent
	// has at least R - failed good reads; ok >= 8 + 2*failed therefore guarantees R - failed >= 4 for both.
	polls := regexp.MustCompile(`wattsched_extender_agent_polls_total\{outcome="(ok|failed)"\} (\d+)`)
	for {
		_, body, err := ext.Get("/metrics")
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, m := range polls.FindAllSubmatch(body, -1) {
			counts[string(m[1])], _ = strconv.Atoi(string(m[2]))
		}
		if counts["ok"] >= 8+2*counts["failed"] {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the extender never polled the agents enough (%v):\n%s", counts, ext.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}

	pct := int32(100)
	sched, err := harness.LoadConfig(repoRoot, harness.ConfigOptions{Extender: &harness.ExtenderOverrides{URL: ext.URL, NodeCacheCapable: true}, PercentageOfNodesToScore: &pct})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := harness.Start(ctx, harness.StartOptions{Config: sched, Nodes: nodes, Logger: harness.NewLogRecorder(2).Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	pods := harness.ExpandPods(
		harness.PodGroup{Namespace: "shop", Prefix: "quiet", Count: 1, MilliCPU: 500, MemoryBytes: gib, Owned: true},
		harness.PodGroup{Namespace: "shop", Prefix: "busy", Count: 1, MilliCPU: 500, MemoryBytes: gib, Owned: true},
	)
	if err := cluster.CreatePods(ctx, pods); err != nil {
		t.Fatal(err)
	}
	if missing := cluster.WaitBound(ctx, harness.Keys(pods), time.Minute); len(missing) > 0 {
		t.Fatalf("pods never bound: %v", missing)
	}
	got := map[string]string{}
	for key, b := range cluster.Bindings() {
		got[key] = b.Node
	}
	want := map[string]string{"shop/quiet-0": "node-cheap", "shop/busy-0": "node-roomy"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("placements = %v, want %v", got, want)
	}
	for pod, cores := range map[string]float64{"quiet-0": 0.1, "busy-0": 3} {
		ex, err := ext.Explain("shop", pod)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Demand == nil || ex.Demand.Source != "history" || ex.Demand.Cores < cores-1e-9 || ex.Demand.Cores > cores+1e-9 {
			t.Errorf("%s: /explain demand = %+v, want %g cores from history", pod, ex.Demand, cores)
		}
	}
}
