// Command ksbench measures upstream kube-scheduler throughput and per-pod latency at 1,000 and 5,000 nodes,
// without an extender, with `wattsched extender` (names mode, with and without the filter verb; full-object mode on
// request) and with a null extender that does nothing, with and without the filter verb (the ceilings for any
// extender with those verbs), at each
// percentageOfNodesToScore asked for (adaptive 0 and the shipped 100 by default), the way scheduler_perf does:
// throughput from 1 s samples of pods whose nodeName got set, latency from the scheduler's own
// scheduler_scheduling_attempt_duration_seconds histogram. The baseline is as lean as upstream allows: scheduler.New
// on a fake clientset with only a binding reactor, no event sink and no managed fields, the shipped profile and
// weights, pods arriving at most 50 unbound at a time. -cpuprofile writes a Go CPU profile of each case's scheduler
// process over the measured window, so the extender's cost inside kube-scheduler is read from a profile rather
// than inferred by difference. Every case runs in a fresh child process so the scheduler's global metrics, caches
// and garbage of one case cannot leak into the next.
//
// Usage (from test/kube-scheduler): go run ./cmd/ksbench [-nodes 1000,5000] [-pods 1000] [-pct 0,100]
// [-modes none,names,names-nofilter,null,null-nofilter] [-rounds 3] [-cpuprofile DIR] [-out FILE]
// or from the repo root after `npm run build`: node dist/bench/kube-scheduler/run.js
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"wattsched.io/test/kube-scheduler/harness"
)

// Modes compared in one run; "none" (upstream defaults) is the baseline the ratios are against. "none-nobatch"
// is the same without opportunistic batching, which upstream disables for profiles with extenders. "null" puts
// the cheapest possible extender (nullext.go) where `wattsched extender` would be: the ceiling for any extender.
// "names-nofilter" is names mode without filterVerb, the shipped config's option for clusters without power caps
// or budgets (a tenth of this benchmark's nodes carry a cap loose enough that every pod passes it anyway).
// "null-nofilter" is the null extender without filterVerb: the ceiling for any prioritize-only extender.
var modes = []string{"none", "names", "names-nofilter", "null", "null-nofilter"}

type report struct {
	Benchmark   string       `json:"benchmark"`
	Kubernetes  string       `json:"kubernetes"`
	Method      string       `json:"method"`
	Machine     machine      `json:"machine"`
	Pods        int          `json:"pods"`
	Rounds      int          `json:"rounds"`
	Cases       []caseResult `json:"cases"`
	Targets     []target     `json:"targets"`
	GeneratedAt string       `json:"generatedAt"`
}

type machine struct {
	CPUs   int    `json:"cpus"`
	Go     string `json:"go"`
	Node   string `json:"node"`
	OS     string `json:"os"`
	Kernel string `json:"kernel"`
}

type target struct {
	Description string  `json:"description"`
	Ratio       float64 `json:"ratio"`
	Met         bool    `json:"met"`
	// NullExtenderRatio is the ratio of the null extender with the same verbs (null, or null-nofilter for
	// names-nofilter) at the same nodes and setting, where measured: what any extender, however cheap, could reach
	// on this machine.
	NullExtenderRatio *float64 `json:"nullExtenderRatio,omitempty"`
}

func main() {
	nodesFlag := flag.String("nodes", "1000,5000", "comma-separated node counts")
	pods := flag.Int("pods", 1000, "pods to schedule per case")
	pctFlag := flag.String("pct", "0,100", "comma-separated percentageOfNodesToScore values (0 = adaptive)")
	modesFlag := flag.String("modes", strings.Join(modes, ","), "comma-separated modes: none, none-nobatch, names, names-nofilter, full, null, null-nofilter")
	out := flag.String("out", "", "results JSON (default <repo>/bench/results/kube-scheduler.json)")
	rounds := flag.Int("rounds", 3, "rounds; each runs every mode once per node count")
	profileFile := flag.String("case-cpuprofile", "", "internal: the CPU profile file for -case")
	oneCase := flag.String("case", "", "internal: run one NODES:MODE case and print its JSON result")
	flag.StringVar(&cpuProfileDir, "cpuprofile", "", "directory: write a Go CPU profile of the scheduler process per case, over the measured window (NODES-MODE-PCT-rROUND.pprof)")
	nullExtender := flag.Bool("null-extender", false, "internal: serve the null mode's extender and print its URL")
	flag.Parse()
	if *nullExtender {
		fail(serveNullExtender())
	}

	repo, err := harness.RepoRoot()
	if err != nil {
		fail(err)
	}
	if *oneCase != "" {
		parts := strings.Split(*oneCase, ":")
		if len(parts) != 3 {
			fail(fmt.Errorf("-case wants NODES:MODE:PCT, got %q", *oneCase))
		}
		nodes, err1 := strconv.Atoi(parts[0])
		pct, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil {
			fail(fmt.Errorf("-case wants NODES:MODE:PCT, got %q", *oneCase))
		}
		res, err := runCase(repo, nodes, *pods, parts[1], int32(pct), *profileFile)
		if err != nil {
			fail(err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			fail(err)
		}
		return
	}

	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	rep := report{
		Benchmark:  "kube-scheduler",
		Kubernetes: "k8s.io/kubernetes v1.35.4 (in-process scheduler.New, fake clientset)",
		Method: "per case a fresh process: N nodes, then P pods created as a stream, at most 50 created and unbound at a time; " +
			"lean harness (scheduler.New on a fake clientset without managed fields, only a binding reactor, no event sink), shipped profile and weights, " +
			"percentageOfNodesToScore as given per case (0 = adaptive); throughput = scheduler_perf's SchedulingThroughput " +
			"(1 s samples of bound pods, first sample skipped) and overall bound/(last bind - first create); latency = " +
			"scheduler_scheduling_attempt_duration_seconds quantiles (result=scheduled). Extender: shipped config, ignorable=false " +
			"so every pod really goes through it; mode null is a minimal Go extender (decode, pass all, score 0) in its own process, " +
			"the ceiling for any extender; names-nofilter is names mode without filterVerb, null-nofilter the null extender without it " +
			"(the ceiling for any prioritize-only extender).",
		Machine:     describeMachine(),
		Pods:        *pods,
		GeneratedAt: time.Now().UTC().Format(time.RFC3339),
	}
	var nodeCounts []int
	for _, s := range strings.Split(*nodesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fail(fmt.Errorf("-nodes: %w", err))
		}
		nodeCounts = append(nodeCounts, n)
	}
	wanted := strings.Split(*modesFlag, ",")
	var pcts []int
	for _, f := range strings.Split(*pctFlag, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 || v > 100 {
			fail(fmt.Errorf("-pct: %q is not 0..100", f))
		}
		pcts = append(pcts, v)
	}
	// The machine is shared: rounds run every mode once, rotating the order, and the report keeps each mode's
	// median-throughput run plus the median of the per-round (paired) ratios, so drift hits all modes alike.
	runs := map[string][]caseResult{}
	for round := 0; round < *rounds; round++ {
		for _, n := range nodeCounts {
			for _, pct := range pcts {
				for i := range wanted {
					mode := wanted[(i+round)%len(wanted)]
					fmt.Fprintf(os.Stderr, "ksbench: round %d/%d: %d nodes, pct %d, %d pods, mode %s ...\n", round+1, *rounds, n, pct, *pods, mode)
					res, err := runChild(self, n, *pods, mode, pct, round)
					if err != nil {
						fail(err)
					}
					fmt.Fprintf(os.Stderr, "ksbench:   %.1f pods/s, attempt p50 %.1f ms, load %.1f\n", res.ThroughputPodsPerSec, res.AttemptLatencyMs.P50, res.LoadAvg1)
					key := fmt.Sprintf("%d:%s:%d", n, mode, pct)
					runs[key] = append(runs[key], res)
				}
			}
		}
	}
	for _, n := range nodeCounts {
		for _, pct := range pcts {
			base := runs[fmt.Sprintf("%d:none:%d", n, pct)]
			for _, mode := range wanted {
				all := runs[fmt.Sprintf("%d:%s:%d", n, mode, pct)]
				res := medianRun(all)
				for _, r := range all {
					res.RoundThroughputs = append(res.RoundThroughputs, r.ThroughputPodsPerSec)
				}
				if len(base) == len(all) && len(base) > 0 {
					var ratios []float64
					for i := range all {
						ratios = append(ratios, all[i].ThroughputPodsPerSec/base[i].ThroughputPodsPerSec)
					}
					r := median(ratios)
					res.ThroughputRatio = &r
					res.RoundRatios = ratios
				}
				rep.Cases = append(rep.Cases, res)
			}
		}
	}
	// Each of our modes is held to the target beside the null extender with the same verbs: its ceiling.
	ceilingOf := map[string]string{"names": "null", "names-nofilter": "null-nofilter"}
	for _, c := range rep.Cases {
		if ceilingOf[c.Mode] == "" || c.Nodes != 5000 || c.ThroughputRatio == nil {
			continue
		}
		t := target{Description: fmt.Sprintf("%s mode at 5,000 nodes, percentageOfNodesToScore %d: throughput >= 0.8x no extender", c.Mode, c.PercentageOfNodes), Ratio: *c.ThroughputRatio, Met: *c.ThroughputRatio >= 0.8}
		for _, o := range rep.Cases {
			if o.Mode == ceilingOf[c.Mode] && o.Nodes == c.Nodes && o.PercentageOfNodes == c.PercentageOfNodes {
				t.NullExtenderRatio = o.ThroughputRatio
			}
		}
		rep.Targets = append(rep.Targets, t)
	}
	rep.Rounds = *rounds
	printTable(rep)
	path := *out
	if path == "" {
		path = filepath.Join(repo, "bench", "results", "kube-scheduler.json")
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fail(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("\nwrote %s\n", path)
}

// cpuProfileDir is -cpuprofile: where the children write their scheduler CPU profiles ("" = none).
var cpuProfileDir string

func runChild(self string, nodes, pods int, mode string, pct, round int) (caseResult, error) {
	var res caseResult
	args := []string{"-case", fmt.Sprintf("%d:%s:%d", nodes, mode, pct), "-pods", strconv.Itoa(pods)}
	if cpuProfileDir != "" {
		args = append(args, "-case-cpuprofile", filepath.Join(cpuProfileDir, fmt.Sprintf("%d-%s-%d-r%d.pprof", nodes, mode, pct, round+1)))
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("case %d:%s: %w", nodes, mode, err)
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("case %d:%s printed %q: %w", nodes, mode, stdout.String(), err)
	}
	return res, nil
}

// medianRun is the run with the median throughput (the lower middle one for an even count).
func medianRun(all []caseResult) caseResult {
	sorted := append([]caseResult(nil), all...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ThroughputPodsPerSec < sorted[j].ThroughputPodsPerSec })
	return sorted[(len(sorted)-1)/2]
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(rep report) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "nodes\tpct\tmode\tbound\tpods/s (median run)\tpods/s (1 s samples avg)\tvs none (median paired)\tattempt p50 ms\tattempt p99 ms\textender calls\textender p99 ms\tCPU ms/pod sched+ext\tpods/s per round\t\n")
	for _, c := range rep.Cases {
		ratio := "-"
		if c.ThroughputRatio != nil {
			ratio = fmt.Sprintf("%.2fx", *c.ThroughputRatio)
		}
		ext, extP99 := "-", "-"
		if c.ExtenderCalls > 0 {
			ext, extP99 = strconv.Itoa(c.ExtenderCalls), fmt.Sprintf("%.2f", c.ExtenderCallP99Ms)
		}
		var per []string
		for _, t := range c.RoundThroughputs {
			per = append(per, fmt.Sprintf("%.0f", t))
		}
		cpu := fmt.Sprintf("%.1f", c.SchedulerCPUMsPerPod)
		if c.ExtenderCPUMsPerPod > 0 {
			cpu += fmt.Sprintf("+%.1f", c.ExtenderCPUMsPerPod)
		}
		fmt.Fprintf(w, "%d\t%d\t%s\t%d\t%.1f\t%.1f\t%s\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t\n", c.Nodes, c.PercentageOfNodes, c.Mode, c.Bound, c.ThroughputPodsPerSec,
			c.SampledThroughput.Avg, ratio, c.AttemptLatencyMs.P50, c.AttemptLatencyMs.P99, ext, extP99, cpu, strings.Join(per, " "))
	}
	w.Flush()
	for _, t := range rep.Targets {
		verdict := "MET"
		if !t.Met {
			verdict = "NOT MET"
		}
		ceiling := ""
		if t.NullExtenderRatio != nil {
			ceiling = fmt.Sprintf(" (null extender with the same verbs, the ceiling for any such extender here: %.2fx)", *t.NullExtenderRatio)
		}
		fmt.Printf("target (%s): %.2fx, %s%s\n", t.Description, t.Ratio, verdict, ceiling)
	}
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		m.Node = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ksbench:", err)
	os.Exit(1)
}
