package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	v1 "k8s.io/api/core/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"
	"k8s.io/klog/v2"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	"k8s.io/kubernetes/pkg/features"

	"wattsched.io/test/kube-scheduler/harness"
)

type quantiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Avg float64 `json:"avg"`
}

type caseResult struct {
	Nodes int    `json:"nodes"`
	Mode  string `json:"mode"`
	// PercentageOfNodes is percentageOfNodesToScore for the case (0 = adaptive).
	PercentageOfNodes int32 `json:"percentageOfNodesToScore"`
	Pods              int   `json:"pods"`
	Bound             int   `json:"bound"`
	// ThroughputPodsPerSec is bound pods / (last binding - first pod created).
	ThroughputPodsPerSec float64 `json:"throughputPodsPerSec"`
	// SampledThroughput is scheduler_perf's SchedulingThroughput: 1 s samples, the first one skipped.
	SampledThroughput quantiles `json:"sampledThroughputPodsPerSec"`
	DurationSec       float64   `json:"durationSec"`
	// AttemptLatencyMs: scheduler_scheduling_attempt_duration_seconds{result="scheduled"}, from the start of a
	// scheduling cycle to the end of binding, per pod.
	AttemptLatencyMs quantiles `json:"attemptLatencyMs"`
	// ExtenderCalls/ExtenderCallP99Ms: filter+prioritize as the extender itself timed them (its /metrics).
	ExtenderCalls     int                `json:"extenderCalls,omitempty"`
	ExtenderCallP50Ms float64            `json:"extenderCallP50Ms,omitempty"`
	ExtenderCallP99Ms float64            `json:"extenderCallP99Ms,omitempty"`
	ExtenderByVerb    map[string]float64 `json:"extenderP99MsByVerb,omitempty"`
	SchedulerErrors   int                `json:"schedulerErrors"`
	// CPU per bound pod while measuring: this process (scheduler + fake API server + informers) and the extender
	// process. On a CPU-bound machine the two compete, so the sum explains throughput better than latency does.
	SchedulerCPUMsPerPod float64  `json:"schedulerCpuMsPerPod"`
	ExtenderCPUMsPerPod  float64  `json:"extenderCpuMsPerPod,omitempty"`
	ThroughputRatio      *float64 `json:"throughputRatioVsNoExtender,omitempty"`
	// Filled in by the orchestrator: every round's throughput and paired ratio for this case.
	RoundThroughputs []float64 `json:"roundThroughputsPodsPerSec,omitempty"`
	RoundRatios      []float64 `json:"roundRatiosVsNoExtender,omitempty"`
	// LoadAvg1: the machine's 1-minute load average when the case ended (the machine is shared).
	LoadAvg1 float64 `json:"loadAvg1"`
}

// Four instance types (4/8/16/32 CPUs), three zones. A quarter of the nodes carry their own curve annotation, a
// tenth a power cap high enough that ordinary pods pass it, so the extender evaluates caps without starving pods.
var instanceTypes = []struct {
	name  string
	milli int64
}{{"m5.large", 4000}, {"c5.xlarge", 8000}, {"r5.large", 16000}, {"unknown.type", 32000}}

func benchNodes(n int) []harness.NodeSpec {
	out := make([]harness.NodeSpec, n)
	for i := range out {
		it := instanceTypes[i%len(instanceTypes)]
		ann := map[string]string{}
		if i%4 == 1 {
			idle, step := 80+float64(i%7)*5, 10+float64(i%5)*3
			parts := make([]string, 11)
			for k := range parts {
				parts[k] = fmt.Sprintf("%g", idle+step*float64(k))
			}
			ann[harness.AnnotationPowerCurve] = strings.Join(parts, ",")
		}
		if i%10 == 3 {
			ann[harness.AnnotationPowerCapWatts] = "400"
		}
		out[i] = harness.NodeSpec{
			Name: fmt.Sprintf("node-%05d", i), MilliCPU: it.milli, MemoryBytes: it.milli / 1000 * 4 << 30, MaxPods: 110,
			Labels:      map[string]string{harness.LabelInstanceType: it.name, harness.LabelZone: fmt.Sprintf("zone-%c", 'a'+i%3)},
			Annotations: ann,
		}
	}
	return out
}

// benchPods: 20 ReplicaSets of equal size, requests from 100m to 1 CPU, 256 MiB each.
func benchPods(n int) []harness.PodSpec {
	var groups []harness.PodGroup
	per := (n + 19) / 20
	for g := 0; g < 20 && n > 0; g++ {
		c := min(per, n)
		n -= c
		groups = append(groups, harness.PodGroup{
			Namespace: fmt.Sprintf("team-%d", g%4), Prefix: fmt.Sprintf("rs-%02d", g), Count: c,
			MilliCPU: int64(100 * (g%10 + 1)), MemoryBytes: 256 << 20, Owned: true,
			Annotations: map[string]string{"wattsched.io/workload": fmt.Sprintf("team-%d/rs-%02d", g%4, g)},
		})
	}
	return harness.ExpandPods(groups...)
}

var curves = harness.ExtenderPowerCurves{
	ByLabelValue: map[string][]float64{
		"m5.large":  linear(60, 9),
		"c5.xlarge": linear(90, 15),
		"r5.large":  linear(120, 18),
	},
	Default: linear(200, 30),
}

func linear(idle, step float64) []float64 {
	c := make([]float64, 11)
	for i := range c {
		c[i] = idle + step*float64(i)
	}
	return c
}

func runCase(repo string, nodeCount, podCount int, mode string, pct int32, cpuProfile string) (caseResult, error) {
	res := caseResult{Nodes: nodeCount, Mode: mode, Pods: podCount, PercentageOfNodes: pct}
	klog.SetLogger(logr.Discard())
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	nodes := benchNodes(nodeCount)
	pods := benchPods(podCount)

	opts := harness.ConfigOptions{PercentageOfNodesToScore: &pct}
	var ext *harness.Extender
	extPid := 0 // the extender process whose CPU is measured, in the modes with an extender
	var warm map[string]*dto.Histogram
	switch mode {
	case "none":
	case "none-nobatch":
		// Attribution baseline: upstream switches opportunistic batching off for any profile with an extender
		// (framework.computeBatchablePlugins), so part of an extender's cost is losing batching, not its HTTP calls.
		if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{string(features.OpportunisticBatching): false}); err != nil {
			return res, err
		}
	case "names", "names-nofilter", "full":
		cfg := harness.ExtenderFileConfig{PowerCurves: curves}
		names := mode != "full"
		if names {
			// Without an API server the extender knows nodes only from its config in names mode.
			cfg.Nodes = harness.InventoryFor(nodes)
		}
		dir, err := os.MkdirTemp("", "ksbench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		ext, err = harness.StartExtender(ctx, harness.ExtenderOptions{RepoRoot: repo, Dir: dir, Config: cfg})
		if err != nil {
			return res, err
		}
		defer ext.Stop()
		if err := warmUp(ext, nodes, names); err != nil {
			return res, fmt.Errorf("warming up the extender: %w", err)
		}
		if warm, err = extenderHistograms(ext); err != nil {
			return res, err
		}
		opts.Extender = &harness.ExtenderOverrides{URL: ext.URL, NodeCacheCapable: names, Ignorable: false, PrioritizeOnly: mode == "names-nofilter"}
		extPid = ext.Pid()
	case "null", "null-nofilter":
		url, cmd, err := startNullExtender()
		if err != nil {
			return res, err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		opts.Extender = &harness.ExtenderOverrides{URL: url, NodeCacheCapable: true, Ignorable: false, PrioritizeOnly: mode == "null-nofilter"}
		extPid = cmd.Process.Pid
	default:
		return res, fmt.Errorf("unknown mode %q (none, none-nobatch, names, names-nofilter, full, null, null-nofilter)", mode)
	}
	cfg, err := harness.LoadConfig(repo, opts)
	if err != nil {
		return res, err
	}
	logs := harness.NewLogRecorder(0)
	cluster, err := harness.Start(ctx, harness.StartOptions{Config: cfg, Nodes: nodes, Logger: logs.Logger(), Lean: true})
	if err != nil {
		return res, err
	}
	defer cluster.Stop()

	// scheduler_perf's throughput collector: sample the bound count every second once pods start binding.
	samplesDone := make(chan []float64)
	stopSampling := make(chan struct{})
	go func() {
		var samples []float64
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last, lastAt, started := 0, time.Time{}, false
		for {
			select {
			case <-stopSampling:
				samplesDone <- samples
				return
			case now := <-tick.C:
				bound := len(cluster.Bindings())
				if bound == 0 {
					continue
				}
				if !started {
					started, last, lastAt = true, bound, now
					continue
				}
				if bound == last {
					continue
				}
				samples = append(samples, float64(bound-last)/now.Sub(lastAt).Seconds())
				last, lastAt = bound, now
			}
		}
	}()

	selfCPU0 := selfCPU()
	var extCPU0 time.Duration
	if extPid != 0 {
		if extCPU0, err = harness.ProcessCPUTime(extPid); err != nil {
			return res, err
		}
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
	}
	start := time.Now()
	if err := cluster.CreatePodsPaced(ctx, pods, harness.BenchMaxPending); err != nil {
		return res, err
	}
	missing := cluster.WaitBound(ctx, harness.Keys(pods), 8*time.Minute)
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res.SchedulerCPUMsPerPod = float64((selfCPU() - selfCPU0).Microseconds()) / 1000 / float64(len(pods))
	if extPid != 0 {
		c, err := harness.ProcessCPUTime(extPid)
		if err != nil {
			return res, err
		}
		res.ExtenderCPUMsPerPod = float64((c - extCPU0).Microseconds()) / 1000 / float64(len(pods))
	}
	close(stopSampling)
	samples := <-samplesDone
	bindings := cluster.Bindings()
	res.Bound = len(bindings)
	var lastBind time.Time
	for _, b := range bindings {
		if b.At.After(lastBind) {
			lastBind = b.At
		}
	}
	res.DurationSec = lastBind.Sub(start).Seconds()
	if res.DurationSec > 0 {
		res.ThroughputPodsPerSec = float64(res.Bound) / res.DurationSec
	}
	res.SampledThroughput = sampleQuantiles(samples)
	res.LoadAvg1 = harness.LoadAvg1()
	res.SchedulerErrors = logs.Count(func(e harness.LogEntry) bool { return e.Error })
	if len(missing) > 0 {
		return res, fmt.Errorf("%d of %d pods never bound (first: %s); %d scheduler errors", len(missing), len(pods), missing[0], res.SchedulerErrors)
	}

	vec, err := testutil.GetHistogramVecFromGatherer(legacyregistry.DefaultGatherer, "scheduler_scheduling_attempt_duration_seconds", map[string]string{"result": "scheduled"})
	if err != nil {
		return res, err
	}
	res.AttemptLatencyMs = quantiles{P50: vec.Quantile(0.5) * 1000, P90: vec.Quantile(0.9) * 1000, P99: vec.Quantile(0.99) * 1000, Avg: vec.Average() * 1000}

	if ext != nil {
		if err := extenderLatency(ext, warm, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sampleQuantiles(s []float64) quantiles {
	if len(s) == 0 {
		return quantiles{}
	}
	sort.Float64s(s)
	at := func(p int) float64 { return s[int(math.Ceil(float64(len(s)*p)/100))-1] }
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return quantiles{P50: at(50), P90: at(90), P99: at(99), Avg: sum / float64(len(s))}
}

// warmUp sends the extender 150 filter+prioritize rounds shaped like the scheduler's (500 candidate nodes), so
// V8's JIT is warm before measuring: a production extender is long-running, a fresh one is not representative.
func warmUp(ext *harness.Extender, nodes []harness.NodeSpec, names bool) error {
	pod := harness.PodSpec{Namespace: "warmup", Name: "warmup", MilliCPU: 500, MemoryBytes: 256 << 20}.Object("wattsched-scheduler")
	k := min(500, len(nodes))
	args := extenderv1.ExtenderArgs{Pod: pod}
	if names {
		list := make([]string, k)
		for i := range list {
			list[i] = nodes[i].Name
		}
		args.NodeNames = &list
	} else {
		items := make([]v1.Node, k)
		for i := range items {
			items[i] = *nodes[i].Object()
		}
		args.Nodes = &v1.NodeList{Items: items}
	}
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	for i := 0; i < 150; i++ {
		for _, verb := range []string{"/filter", "/prioritize"} {
			code, out, err := ext.Post(verb, "application/json", body)
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("POST %s: %d %s", verb, code, out)
			}
		}
	}
	return nil
}

// extenderHistograms reads wattsched_extender_request_duration_seconds for filter and prioritize from the
// extender's /metrics, summed over status codes, per verb.
func extenderHistograms(ext *harness.Extender) (map[string]*dto.Histogram, error) {
	code, body, err := ext.Get("/metrics")
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d %v", code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	fam, ok := fams["wattsched_extender_request_duration_seconds"]
	if !ok {
		return nil, fmt.Errorf("extender /metrics has no wattsched_extender_request_duration_seconds")
	}
	byVerb := map[string]*dto.Histogram{}
	for _, m := range fam.Metric {
		verb := ""
		for _, l := range m.Label {
			if l.GetName() == "verb" {
				verb = l.GetValue()
			}
		}
		if verb != "filter" && verb != "prioritize" {
			continue
		}
		if byVerb[verb] == nil {
			byVerb[verb] = &dto.Histogram{}
		}
		addHistogram(byVerb[verb], m.Histogram, 1)
	}
	return byVerb, nil
}

// extenderLatency reports the extender's own timing of the calls made while measuring: the histogram now minus
// the one taken after the warm-up.
func extenderLatency(ext *harness.Extender, warm map[string]*dto.Histogram, res *caseResult) error {
	now, err := extenderHistograms(ext)
	if err != nil {
		return err
	}
	all := &dto.Histogram{}
	res.ExtenderByVerb = map[string]float64{}
	for verb, h := range now {
		if w, ok := warm[verb]; ok {
			addHistogram(h, w, -1)
		}
		if h.GetSampleCount() == 0 {
			continue // a verb the config leaves out (names-nofilter) was called only while warming up
		}
		addHistogram(all, h, 1)
		res.ExtenderByVerb[verb] = (&testutil.Histogram{Histogram: h}).Quantile(0.99) * 1000
	}
	res.ExtenderCalls = int(all.GetSampleCount())
	h := testutil.Histogram{Histogram: all}
	res.ExtenderCallP50Ms = h.Quantile(0.5) * 1000
	res.ExtenderCallP99Ms = h.Quantile(0.99) * 1000
	return nil
}

// addHistogram adds sign x src into dst (same bucket layout).
func addHistogram(dst, src *dto.Histogram, sign int64) {
	count := uint64(int64(dst.GetSampleCount()) + sign*int64(src.GetSampleCount()))
	sum := dst.GetSampleSum() + float64(sign)*src.GetSampleSum()
	dst.SampleCount, dst.SampleSum = &count, &sum
	if len(dst.Bucket) == 0 {
		for _, b := range src.Bucket {
			c, ub := uint64(sign*int64(b.GetCumulativeCount())), b.GetUpperBound()
			dst.Bucket = append(dst.Bucket, &dto.Bucket{CumulativeCount: &c, UpperBound: &ub})
		}
		return
	}
	for i, b := range src.Bucket {
		c := uint64(int64(dst.Bucket[i].GetCumulativeCount()) + sign*int64(b.GetCumulativeCount()))
		dst.Bucket[i].CumulativeCount = &c
	}
}
