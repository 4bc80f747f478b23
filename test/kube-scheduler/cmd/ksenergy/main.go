// Command ksenergy measures what percentageOfNodesToScore costs in energy and buys in throughput: upstream
// kube-scheduler (in-process, fake API server, the shipped configuration) places pods on N nodes, half of them
// efficient and half hungry, each class consecutive in the node list, with and without `wattsched extender` (names
// mode), with the adaptive default (0) and with 100. It reports the share of pods that landed on the efficient
// class (50 % is what a power-blind scheduler gets), the throughput, and the throughput with the extender relative
// to without it at the same setting. The harness is lean (harness.StartOptions.Lean: no event sink, no managed fields) and pods arrive
// as a stream, at most 50 created and unbound at a time, so the baseline is the scheduler's own speed.
//
// Usage (from test/kube-scheduler, after `npx tsc -p tsconfig.build.json` at the root):
//
//	go run ./cmd/ksenergy [-nodes 1000,5000] [-pods 1000] [-pct 0,100] [-prioritize-only] [-out ../../bench/results/kube-scheduler-energy.json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"wattsched.io/test/kube-scheduler/harness"
)

type result struct {
	Nodes             int   `json:"nodes"`
	Pods              int   `json:"pods"`
	Extender          bool  `json:"extender"`
	PercentageOfNodes int32 `json:"percentageOfNodesToScore"`
	// PrioritizeOnly: the extender ran without filterVerb (the shipped config's option for clusters with no power
	// caps or budgets; these nodes have neither, so the filter would pass every candidate).
	PrioritizeOnly       bool    `json:"prioritizeOnly,omitempty"`
	OnEfficientShare     float64 `json:"onEfficientShare"`
	ThroughputPodsPerSec float64 `json:"throughputPodsPerSec"`
	DurationSec          float64 `json:"durationSec"`
	// ThroughputVsNoExtender: this case's throughput over the no-extender case at the same nodes and setting.
	ThroughputVsNoExtender float64 `json:"throughputVsNoExtender,omitempty"`
	// LoadAvg1: the machine's 1-minute load average when the case ended (the machine is shared).
	LoadAvg1 float64 `json:"loadAvg1"`
}

// Both classes 16 CPUs; watts at 0..100 %: efficient 60 + 12 per step, hungry 120 + 30 per step. Every pod is
// cheaper on an efficient node at any load, so an energy-aware scheduler that sees both classes puts it there.
var (
	efficient = linear(60, 12)
	hungry    = linear(120, 30)
)

func linear(idle, step float64) []float64 {
	c := make([]float64, 11)
	for i := range c {
		c[i] = idle + step*float64(i)
	}
	return c
}

func nodesFor(n int) []harness.NodeSpec {
	out := make([]harness.NodeSpec, n)
	for i := range out {
		class := "efficient"
		if i >= n/2 {
			class = "hungry"
		}
		out[i] = harness.NodeSpec{
			Name: fmt.Sprintf("%s-%05d", class, i), MilliCPU: 16000, MemoryBytes: 64 << 30, MaxPods: 110,
			Labels: map[string]string{harness.LabelInstanceType: class, harness.LabelZone: "zone-a"},
		}
	}
	return out
}

func podsFor(n int) []harness.PodSpec {
	return harness.ExpandPods(harness.PodGroup{Namespace: "bench", Prefix: "web", Count: n, MilliCPU: 500, MemoryBytes: 256 << 20, Owned: true})
}

func runCase(repo string, nodeCount, podCount int, withExtender bool, pct int32, prioritizeOnly bool) (result, error) {
	res := result{Nodes: nodeCount, Pods: podCount, Extender: withExtender, PercentageOfNodes: pct, PrioritizeOnly: withExtender && prioritizeOnly}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	nodes := nodesFor(nodeCount)
	pods := podsFor(podCount)
	opts := harness.ConfigOptions{PercentageOfNodesToScore: &pct}
	if withExtender {
		dir, err := os.MkdirTemp("", "ksenergy-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		cfg := harness.ExtenderFileConfig{PowerCurves: harness.ExtenderPowerCurves{ByLabelValue: map[string][]float64{"efficient": efficient, "hungry": hungry}}, Nodes: harness.InventoryFor(nodes)}
		ext, err := harness.StartExtender(ctx, harness.ExtenderOptions{RepoRoot: repo, Dir: dir, Config: cfg})
		if err != nil {
			return res, err
		}
		defer ext.Stop()
		opts.Extender = &harness.ExtenderOverrides{URL: ext.URL, NodeCacheCapable: true, Ignorable: false, PrioritizeOnly: prioritizeOnly}
	}
	cfg, err := harness.LoadConfig(repo, opts)
	if err != nil {
		return res, err
	}
	cluster, err := harness.Start(ctx, harness.StartOptions{Config: cfg, Nodes: nodes, Logger: logr.Discard(), Lean: true})
	if err != nil {
		return res, err
	}
	defer cluster.Stop()
	start := time.Now()
	if err := cluster.CreatePodsPaced(ctx, pods, harness.BenchMaxPending); err != nil {
		return res, err
	}
	if missing := cluster.WaitBound(ctx, harness.Keys(pods), 8*time.Minute); len(missing) > 0 {
		return res, fmt.Errorf("%d of %d pods never bound", len(missing), len(pods))
	}
	var last time.Time
	onEfficient := 0
	for _, b := range cluster.Bindings() {
		if b.At.After(last) {
			last = b.At
		}
		if strings.HasPrefix(b.Node, "efficient-") {
			onEfficient++
		}
	}
	res.DurationSec = last.Sub(start).Seconds()
	res.ThroughputPodsPerSec = float64(podCount) / res.DurationSec
	res.OnEfficientShare = float64(onEfficient) / float64(podCount)
	res.LoadAvg1 = harness.LoadAvg1()
	return res, nil
}

func main() {
	nodesFlag := flag.String("nodes", "1000,5000", "comma-separated node counts")
	pods := flag.Int("pods", 1000, "pods per case")
	pctFlag := flag.String("pct", "0,100", "comma-separated percentageOfNodesToScore values (0 = adaptive)")
	out := flag.String("out", "", "results JSON (optional)")
	prioritizeOnly := flag.Bool("prioritize-only", false, "run the extender without filterVerb (the option for clusters with no power caps or budgets)")
	flag.Parse()
	klog.SetLogger(logr.Discard())
	repo, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var pcts []int32
	for _, f := range strings.Split(*pctFlag, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 || v > 100 {
			fmt.Fprintf(os.Stderr, "-pct: %q is not 0..100\n", f)
			os.Exit(2)
		}
		pcts = append(pcts, int32(v))
	}
	var results []result
	fmt.Printf("%-6s %-9s %-9s %-14s %-10s %-12s %-5s\n", "nodes", "extender", "pct", "on efficient", "pods/s", "vs none", "load")
	for _, f := range strings.Split(*nodesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		base := map[int32]float64{}
		for _, ext := range []bool{false, true} {
			for _, pct := range pcts {
				r, err := runCase(repo, n, *pods, ext, pct, *prioritizeOnly)
				if err != nil {
					fmt.Fprintf(os.Stderr, "case nodes=%d extender=%v pct=%d: %v\n", n, ext, pct, err)
					os.Exit(1)
				}
				pctText := "adaptive"
				if pct == 100 {
					pctText = "100"
				}
				vs := "-"
				if !ext {
					base[pct] = r.ThroughputPodsPerSec
				} else if base[pct] > 0 {
					r.ThroughputVsNoExtender = r.ThroughputPodsPerSec / base[pct]
					vs = fmt.Sprintf("%.2fx", r.ThroughputVsNoExtender)
				}
				fmt.Printf("%-6d %-9v %-9s %-14.3f %-10.1f %-12s %-5.1f\n", n, ext, pctText, r.OnEfficientShare, r.ThroughputPodsPerSec, vs, r.LoadAvg1)
				results = append(results, r)
			}
		}
	}
	if *out != "" {
		body, _ := json.MarshalIndent(map[string]any{
			"benchmark": "kube-scheduler-energy", "cpus": runtime.NumCPU(), "go": runtime.Version(),
			"method": "upstream kube-scheduler v1.35.4 in-process (scheduler.New) on a fake clientset (no managed fields) with only a binding reactor and no event sink, shipped profile and weights, names mode; pods of 500m arrive at most 50 unbound at a time; nodes (16 CPUs) half efficient, half hungry, each class consecutive in the node list; one fresh cluster and extender per case", "results": results,
			"generatedAt": time.Now().UTC().Format(time.RFC3339),
		}, "", "  ")
		if err := os.WriteFile(*out, append(body, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
