//go:build stack

package stacktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"wattsched.io/test/kube-scheduler/harness"
)

const (
	historyNS      = "history"
	hostNode       = "stack-host"
	nodeX          = "hist-x"
	nodeY          = "hist-y"
	groupLabel     = "stack.wattsched.test/group"
	groupTaint     = "stack.wattsched.test/history"
	annPredicted   = "wattsched.io/predicted-watts"
	annModel       = "wattsched.io/predicted-model"
	annObserved    = "wattsched.io/observed-watts"
	historyTimeout = 90 * time.Second
)

// workload is one Deployment-owned workload: its pods carry the ReplicaSet owner reference and pod-template-hash
// label a Deployment's pods have, so agent and extender both file them under history/Deployment/<name>.
type workload struct {
	name, hash string
	rsUID      types.UID
}

var (
	busy  = workload{name: "busy", hash: "6f7c9d", rsUID: "0b7d3c1e-6f2a-4c8e-9a51-3d2f7e8b9c01"}
	light = workload{name: "light", hash: "58b4a2", rsUID: "0b7d3c1e-6f2a-4c8e-9a51-3d2f7e8b9c02"}
	fresh = workload{name: "fresh", hash: "7d9e1f", rsUID: "0b7d3c1e-6f2a-4c8e-9a51-3d2f7e8b9c03"}
)

// historyPod is a pod of w requesting 100m, kept to the test's tainted nodes; bound to `node` at creation when set
// (as a kubelet's running pod would be), otherwise left to the wattsched scheduler.
func historyPod(w workload, name, node string) *v1.Pod {
	zero := int64(0)
	controller := true
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: historyNS, Name: name,
			Labels:          map[string]string{"app": w.name, "pod-template-hash": w.hash},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: w.name + "-" + w.hash, UID: w.rsUID, Controller: &controller}},
		},
		Spec: v1.PodSpec{
			SchedulerName:                 schedulerName,
			TerminationGracePeriodSeconds: &zero,
			NodeSelector:                  map[string]string{groupLabel: "history"},
			Tolerations:                   []v1.Toleration{{Key: groupTaint, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}},
			Containers: []v1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10", Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("64Mi")},
			}}},
		},
	}
	if node != "" {
		p.Spec.NodeName = node
	}
	return p
}

// addGroupNode registers a Ready node labelled and tainted for this test only, removed when the test ends: the
// other tests' pods do not tolerate the taint, and this test's pods select the label.
func addGroupNode(t *testing.T, ctx context.Context, name string, milliCPU int64, c []float64) {
	t.Helper()
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels:      map[string]string{harness.LabelHostname: name, groupLabel: "history"},
		Annotations: map[string]string{harness.AnnotationPowerCurve: curveText(c)}}}
	t.Cleanup(func() { _ = client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	createReadyNode(t, ctx, n, milliCPU, []v1.Taint{{Key: groupTaint, Value: "true", Effect: v1.TaintEffectNoSchedule}})
}

// hierarchies are the cgroup mounts a kubelet with the cgroupfs driver would create pod cgroups in: the v2 one
// (at the root, or at unified/ on a hybrid host) and the v1 cpuacct one where it exists.
func hierarchies() ([]string, error) {
	root := "/sys/fs/cgroup"
	var out []string
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return []string{root}, nil
	}
	if _, err := os.Stat(filepath.Join(root, "unified", "cgroup.controllers")); err == nil {
		out = append(out, filepath.Join(root, "unified"))
	}
	for _, d := range []string{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"} {
		if _, err := os.Stat(filepath.Join(root, d, "cpuacct.usage")); err == nil {
			out = append(out, filepath.Join(root, d))
			break
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup v2 or v1 cpuacct hierarchy under /sys/fs/cgroup")
	}
	return out, nil
}

// containerCgroups creates kubepods/burstable/pod<uid>/<container id> (the kubelet's cgroupfs-driver layout for a
// Burstable pod) in every hierarchy; the test's cleanup kills what runs there and removes what it created.
func containerCgroups(t *testing.T, mounts []string, uid types.UID) []string {
	t.Helper()
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	var leaves []string
	for _, m := range mounts {
		dir := m
		for _, seg := range []string{"kubepods", "burstable", "pod" + string(uid), hex.EncodeToString(id)} {
			dir = filepath.Join(dir, seg)
			if _, err := os.Stat(dir); err == nil {
				continue
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			created := dir
			t.Cleanup(func() { removeCgroup(t, created) })
		}
		leaves = append(leaves, dir)
	}
	return leaves
}

// removeCgroup kills every task left in dir and removes it (cleanup runs deepest first).
func removeCgroup(t *testing.T, dir string) {
	for i := 0; i < 200; i++ {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range bytes.Fields(b) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Errorf("could not remove cgroup %s", dir)
}

// startIn runs a shell script whose shell first joins every cgroup in dirs, so all the work it starts is
// accounted there, as a container's processes are.
func startIn(t *testing.T, dirs []string, script string) {
	t.Helper()
	join := ""
	for _, d := range dirs {
		join += fmt.Sprintf("echo $$ > '%s/cgroup.procs' && ", d)
	}
	cmd := exec.Command("/bin/sh", "-c", join+script)
	// Pdeathsig: should the test binary itself be killed (a go test timeout skips every cleanup), the loop dies too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
}

// startAgent runs the real `wattsched agent` for this machine's node, watching its pods through the API server.
func startAgent(t *testing.T) {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(stateDir, "agent.yaml")
	text := fmt.Sprintf("kubernetes: {mode: required, kubeconfig: %s}\npower: {checkpointPath: ''}\n", filepath.Join(stateDir, "kubeconfig"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(stateDir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(root, "dist", "src", "cli", "main.js"), "agent", "--config", cfg, "--node", hostNode,
		"--port", strconv.Itoa(agentPort), "--host", "127.0.0.1", "--interval", "1s")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
	})
}

type explainDemand struct {
	Cores  float64 `json:"cores"`
	Source string  `json:"source"`
	Detail string  `json:"detail"`
}

type explanation struct {
	Demand *explainDemand `json:"demand"`
	Nodes  []struct {
		Name          string   `json:"name"`
		MarginalWatts *float64 `json:"marginalWatts"`
		Score         *int     `json:"score"`
		Basis         string   `json:"basis"`
	} `json:"nodes"`
}

func getExplain(t *testing.T, namespace, name string) explanation {
	t.Helper()
	res, err := http.Get(fmt.Sprintf("%s/explain/%s/%s", extenderURL, namespace, name))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("explain %s/%s: HTTP %d %s", namespace, name, res.StatusCode, body)
	}
	var ex explanation
	if err := json.Unmarshal(body, &ex); err != nil {
		t.Fatal(err)
	}
	return ex
}

// probe asks the extender to prioritize a pod of w that is never created (names mode, as kube-scheduler would) and
// returns what /explain says about it.
func probe(t *testing.T, w workload, nodes []string) explanation {
	t.Helper()
	p := historyPod(w, fmt.Sprintf("probe-%s-%d", w.name, time.Now().UnixNano()), "")
	p.UID = types.UID(fmt.Sprintf("probe-%d", time.Now().UnixNano()))
	body, _ := json.Marshal(map[string]any{"Pod": p, "NodeNames": nodes})
	res, err := http.Post(extenderURL+"/prioritize", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("prioritize probe: HTTP %d", res.StatusCode)
	}
	return getExplain(t, historyNS, p.Name)
}

func bestNode(ex explanation) string {
	best, top := "", -1
	for _, n := range ex.Nodes {
		if n.Score != nil && *n.Score > top {
			best, top = n.Name, *n.Score
		}
	}
	return best
}

func metricValue(t *testing.T, url, series string) float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestPlacementByMeasuredHistory closes the loop on real measurements. This machine is registered as node
// stack-host and the real agent runs on it; two pods bound there, busy-h (a shell spinning one core) and light-h (a
// shell waking every 0.2 s), run in cgroups made where a kubelet would put them, named by the pods' UIDs. Both
// request 100m. The agent measures them, the extender polls it and files the cores under their workloads. New pods
// of the two workloads, with the same 100m request, must then be placed by that history.
//
// Candidates (this test's taint and label keep everything else off them and them off everything else):
//
//	hist-x  2 CPU (0.2 cores per curve step), 100,102,142,...,462 W: 10 W/core for the first 0.2 cores, then 200 W/core
//	hist-y  2 CPU, 100,104,...,140 W: 20 W/core throughout
//	stack-host  this machine, 300 W/core from 100 W, loaded with what the agent measures
//
// Neither hist node has an agent, so its load is the CPU requested there (0 or 100m). Marginal watts for d cores on
// an empty node: x(d) = 10 d for d <= 0.2, 2 + 200 (d - 0.2) above; y(d) = 20 d; stack-host >= 300 d. So d < 0.211
// lands on hist-x and d > 0.211 on hist-y (2 + 200 (d - 0.2) = 20 d; d > 0.106 once light's 100m sits on hist-x
// first: 1 + 200 (d - 0.1) = 20 d); the request alone (d = 0.1: 1 W against 2 W) picks hist-x for both.
// Preconditions checked on the measured history: light below 0.1 cores, busy above 0.25 (a single spinning shell
// measures well above that on an idle 2-core machine, but the eBPF collector's known undercount of steady burners,
// docs/agent.md, and a loaded machine both pull it down).
func TestPlacementByMeasuredHistory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: not root, so no cgroups can be created for the agent to measure")
	}
	mounts, err := hierarchies()
	if err != nil {
		t.Skipf("skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	createNamespace(t, ctx, historyNS)
	t.Cleanup(func() {
		zero := int64(0)
		_ = client.CoreV1().Pods(historyNS).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	})
	cpus := runtime.NumCPU()
	hostCurve := make([]float64, 11)
	for k := range hostCurve {
		hostCurve[k] = 100 + 300*float64(cpus)*float64(k)/10
	}
	addGroupNode(t, ctx, hostNode, int64(cpus)*1000, hostCurve)
	addGroupNode(t, ctx, nodeX, 2000, []float64{100, 102, 142, 182, 222, 262, 302, 342, 382, 422, 462})
	addGroupNode(t, ctx, nodeY, 2000, curve(100, 140))
	candidates := []string{hostNode, nodeX, nodeY}

	// The history: pods bound to this machine, their containers real cgroups with real work in them.
	for _, h := range []struct {
		w      workload
		name   string
		script string
	}{
		{busy, "busy-h", "exec /bin/sh -c 'while :; do :; done'"},
		{light, "light-h", "while :; do sleep 0.2; done"},
	} {
		created, err := client.CoreV1().Pods(historyNS).Create(ctx, historyPod(h.w, h.name, hostNode), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		startIn(t, containerCgroups(t, mounts, created.UID), h.script)
	}
	startAgent(t)

	// Wait until the extender trusts both histories and they have settled on the preconditions.
	var busyEx, lightEx explanation
	deadline := time.Now().Add(historyTimeout)
	for {
		busyEx, lightEx = probe(t, busy, candidates), probe(t, light, candidates)
		b, l := busyEx.Demand, lightEx.Demand
		if b != nil && l != nil && b.Source == "history" && l.Source == "history" && b.Cores > 0.25 && l.Cores < 0.1 && l.Cores > 0 {
			t.Logf("history: busy %.3f cores (%s); light %.4f cores (%s); agent collector %s", b.Cores, b.Detail, l.Cores, l.Detail, agentCollector(t))
			break
		}
		if time.Now().After(deadline) {
			agentLog, _ := os.ReadFile(filepath.Join(stateDir, "agent.log"))
			t.Fatalf("no usable history within %s: busy %+v, light %+v (want history, busy > 0.25 cores, 0 < light < 0.1)\nagent log tail:\n%s", historyTimeout, b, l, tail(agentLog, 4000))
		}
		time.Sleep(time.Second)
	}
	if got := bestNode(busyEx); got != nodeY {
		t.Errorf("busy's probe ranks %s first, want %s: %+v", got, nodeY, busyEx.Nodes)
	}
	// The same request without history: the request decides, and it prefers hist-x.
	freshEx := probe(t, fresh, candidates)
	if freshEx.Demand == nil || freshEx.Demand.Source != "requests" || freshEx.Demand.Cores != 0.1 {
		t.Fatalf("a workload without history should be predicted by its 100m request: %+v", freshEx.Demand)
	}
	if got := bestNode(freshEx); got != nodeX {
		t.Errorf("by the 100m request alone %s ranks first, want %s: %+v", got, nodeX, freshEx.Nodes)
	}

	// New pods of both workloads, same request, through the real kube-scheduler.
	for _, p := range []*v1.Pod{historyPod(light, "light-n", ""), historyPod(busy, "busy-n", "")} {
		if _, err := client.CoreV1().Pods(historyNS).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bound := waitBound(t, ctx, historyNS, []string{"light-n", "busy-n"}, time.Minute)
	t.Logf("placement: light-n -> %s, busy-n -> %s", bound["light-n"], bound["busy-n"])
	if bound["light-n"] != nodeX || bound["busy-n"] != nodeY {
		t.Errorf("placement by history: light-n on %s (want %s), busy-n on %s (want %s)", bound["light-n"], nodeX, bound["busy-n"], nodeY)
	}

	// The extender annotates each bound pod with its prediction for the node it landed on.
	for _, name := range []string{"light-n", "busy-n"} {
		ex := getExplain(t, historyNS, name)
		if ex.Demand == nil || ex.Demand.Source != "history" {
			t.Errorf("%s: demand not from history: %+v", name, ex.Demand)
		}
		var want string
		for _, n := range ex.Nodes {
			if n.Name == bound[name] && n.MarginalWatts != nil {
				want = strconv.FormatFloat(*n.MarginalWatts, 'f', 3, 64)
			}
		}
		ann := waitAnnotation(t, ctx, name, annPredicted, 30*time.Second)
		if ann[annPredicted] != want || ann[annModel] != "annotation" {
			t.Errorf("%s: annotations %s=%q %s=%q, want %q (the marginal watts /explain shows for %s) and \"annotation\" (its curve's source)",
				name, annPredicted, ann[annPredicted], annModel, ann[annModel], want, bound[name])
		}
	}
	if v := metricValue(t, extenderURL+"/metrics", `wattsched_extender_annotation_patches_total{outcome="ok"}`); v < 2 {
		t.Errorf("extender counted %v successful annotation patches, want at least 2", v)
	}

	// The agent annotates the pods it measured with their observed watts.
	observed := map[string]float64{}
	for _, name := range []string{"busy-h", "light-h"} {
		ann := waitAnnotation(t, ctx, name, annObserved, 60*time.Second)
		w, err := strconv.ParseFloat(ann[annObserved], 64)
		if err != nil || w < 0 {
			t.Errorf("%s: %s=%q is not a number of watts", name, annObserved, ann[annObserved])
		}
		observed[name] = w
	}
	t.Logf("observed watts: busy-h %.3f, light-h %.3f", observed["busy-h"], observed["light-h"])
	if !(observed["busy-h"] > observed["light-h"]) {
		t.Errorf("the pod spinning a core was attributed no more watts (%.3f) than the one that sleeps (%.3f)", observed["busy-h"], observed["light-h"])
	}
	if v := metricValue(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentPort), `wattsched_agent_annotation_patches_total{outcome="ok"}`); v < 2 {
		t.Errorf("agent counted %v successful annotation patches, want at least 2", v)
	}
}

// agentCollector is the agent's own account of how it measures ("ebpf (tp_btf)", or the fallback and why).
func agentCollector(t *testing.T) string {
	t.Helper()
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/node", agentPort))
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	var r struct {
		Collector struct {
			Name    string  `json:"name"`
			Variant string  `json:"variant"`
			Reason  *string `json:"reason"`
		} `json:"collector"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return err.Error()
	}
	if r.Collector.Reason != nil {
		return fmt.Sprintf("%s (%s; %s)", r.Collector.Name, r.Collector.Variant, *r.Collector.Reason)
	}
	return fmt.Sprintf("%s (%s)", r.Collector.Name, r.Collector.Variant)
}

func waitAnnotation(t *testing.T, ctx context.Context, pod, key string, timeout time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, err := client.CoreV1().Pods(historyNS).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Annotations[key]; ok {
			return p.Annotations
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s annotation within %s (annotations: %v)", pod, key, timeout, p.Annotations)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
