// Command simfidelity replays the first pods of a trace through upstream kube-scheduler (scheduler.New with the
// shipped KubeSchedulerConfiguration) and the real `wattsched extender` process, in compressed time: every event in
// trace order, each creation waited on until the pod is bound or reported unschedulable (then deleted, as
// `wattsched sim` drops it), each deletion applied at once. It writes where every pod went, for bench/sim/fidelity
// to compare with `wattsched sim` on the same slice.
//
// Usage (from test/kube-scheduler): go run ./cmd/simfidelity -trace CSV -servers CSV [-pods 1000] -out FILE
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wattsched.io/test/kube-scheduler/harness"
)

const (
	namespace = "sim"
	mib       = int64(1) << 20
	gib       = int64(1) << 30
)

type pod struct {
	name             string
	milliCPU, memMiB int64
	created, deleted float64
}

type event struct {
	t      float64
	pod    int
	create bool
}

type result struct {
	Pods       int               `json:"pods"`
	Nodes      []string          `json:"nodes"`
	Placements map[string]string `json:"placements"`
	Seconds    float64           `json:"seconds"`
}

func readCSV(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	out := make([]map[string]string, 0, len(recs)-1)
	for _, r := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[strings.TrimSpace(h)] = strings.TrimSpace(r[i])
		}
		out = append(out, row)
	}
	return out, nil
}

func num(row map[string]string, col string) float64 {
	v, err := strconv.ParseFloat(row[col], 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "simfidelity: column %s: %v\n", col, err)
		os.Exit(2)
	}
	return v
}

// nodesFrom mirrors src/sim/data.ts: one node per row, capacity = threads, memory = memory_gb, 110 pods, the row's
// own curve as the wattsched.io/power-curve annotation.
func nodesFrom(rows []map[string]string) []harness.NodeSpec {
	cols := []string{"watts_idle", "watts_10", "watts_20", "watts_30", "watts_40", "watts_50", "watts_60", "watts_70", "watts_80", "watts_90", "watts_100"}
	out := make([]harness.NodeSpec, 0, len(rows))
	for i, r := range rows {
		n := num(r, "nodes")
		curve := make([]string, len(cols))
		for k, c := range cols {
			curve[k] = strconv.FormatFloat(num(r, c)/n, 'g', -1, 64)
		}
		out = append(out, harness.NodeSpec{
			Name:        fmt.Sprintf("node-%d", i),
			MilliCPU:    int64(num(r, "threads")/n*1000 + 0.5),
			MemoryBytes: int64(num(r, "memory_gb") / n * float64(gib)),
			MaxPods:     110,
			Annotations: map[string]string{harness.AnnotationPowerCurve: strings.Join(curve, ",")},
		})
	}
	return out
}

func main() {
	tracePath := flag.String("trace", "", "pod trace CSV")
	serversPath := flag.String("servers", "", "SPECpower servers CSV")
	count := flag.Int("pods", 1000, "replay the first N pods")
	outPath := flag.String("out", "", "write the placements here (JSON)")
	flag.Parse()
	if *tracePath == "" || *serversPath == "" || *outPath == "" {
		fmt.Fprintln(os.Stderr, "usage: simfidelity -trace CSV -servers CSV [-pods N] -out FILE")
		os.Exit(2)
	}
	if err := run(*tracePath, *serversPath, *count, *outPath); err != nil {
		fmt.Fprintln(os.Stderr, "simfidelity:", err)
		os.Exit(1)
	}
}

func run(tracePath, serversPath string, count int, outPath string) error {
	traceRows, err := readCSV(tracePath)
	if err != nil {
		return err
	}
	serverRows, err := readCSV(serversPath)
	if err != nil {
		return err
	}
	if count < len(traceRows) {
		traceRows = traceRows[:count]
	}
	pods := make([]pod, len(traceRows))
	for i, r := range traceRows {
		pods[i] = pod{name: r["name"], milliCPU: int64(num(r, "cpu_milli")), memMiB: int64(num(r, "memory_mib")), created: num(r, "creation_time"), deleted: num(r, "deletion_time")}
	}
	// The order of src/sim/engine.ts eventsOf: time, deletions first, then trace order.
	var events []event
	for i, p := range pods {
		events = append(events, event{p.created, i, true}, event{p.deleted, i, false})
	}
	sort.SliceStable(events, func(a, b int) bool {
		ea, eb := events[a], events[b]
		if ea.t != eb.t {
			return ea.t < eb.t
		}
		if ea.create != eb.create {
			return !ea.create
		}
		return ea.pod < eb.pod
	})
	nodes := nodesFrom(serverRows)

	repoRoot, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "simfidelity-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ext, err := harness.StartExtender(ctx, harness.ExtenderOptions{RepoRoot: repoRoot, Dir: dir, Config: harness.ExtenderFileConfig{Nodes: harness.InventoryFor(nodes)}})
	if err != nil {
		return err
	}
	defer ext.Stop()
	// The shipped file as users deploy it, only pointed at this extender (names mode, ignorable, as shipped).
	cfg, err := harness.LoadConfig(repoRoot, harness.ConfigOptions{Extender: &harness.ExtenderOverrides{URL: ext.URL, NodeCacheCapable: true, Ignorable: true}})
	if err != nil {
		return err
	}
	cluster, err := harness.Start(ctx, harness.StartOptions{Config: cfg, Nodes: nodes})
	if err != nil {
		return err
	}
	defer cluster.Stop()

	start := time.Now()
	placements := map[string]string{}
	deleted := make([]bool, len(pods))
	for _, ev := range events {
		p := pods[ev.pod]
		if !ev.create {
			deleted[ev.pod] = true
			if placements[p.name] != "" {
				if err := cluster.Client.CoreV1().Pods(namespace).Delete(ctx, p.name, metav1.DeleteOptions{}); err != nil {
					return fmt.Errorf("deleting %s: %w", p.name, err)
				}
			}
			continue
		}
		if deleted[ev.pod] {
			continue // zero-length pod: never runs, as in the simulator
		}
		spec := harness.PodSpec{Namespace: namespace, Name: p.name, MilliCPU: p.milliCPU, MemoryBytes: p.memMiB * mib}
		if err := cluster.CreatePods(ctx, []harness.PodSpec{spec}); err != nil {
			return err
		}
		node, err := waitPlaced(ctx, cluster, spec)
		if err != nil {
			return err
		}
		placements[p.name] = node
		if node == "" {
			if err := cluster.Client.CoreV1().Pods(namespace).Delete(ctx, p.name, metav1.DeleteOptions{}); err != nil {
				return err
			}
		}
	}
	if !ext.Alive() {
		return fmt.Errorf("extender died:\n%s", ext.Output())
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	data, err := json.MarshalIndent(result{Pods: len(pods), Nodes: names, Placements: placements, Seconds: time.Since(start).Seconds()}, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, data, 0o644)
}

// waitPlaced returns the node the pod was bound to, or "" once the scheduler has reported it unschedulable.
func waitPlaced(ctx context.Context, c *harness.Cluster, p harness.PodSpec) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, ok := c.Bindings()[p.Key()]; ok {
			return b.Node, nil
		}
		evs, err := c.PodEvents(ctx, p.Namespace, p.Name)
		if err != nil {
			return "", err
		}
		for _, e := range evs {
			if e.Reason == "FailedScheduling" {
				return "", nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return "", fmt.Errorf("pod %s neither bound nor reported unschedulable within 30 s", p.Key())
}
