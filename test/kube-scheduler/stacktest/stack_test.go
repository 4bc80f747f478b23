//go:build stack

// Package stacktest drives the real stack (stack/up.sh: etcd, kube-apiserver, kube-scheduler with the shipped
// configuration, `wattsched extender` watching the API server) and checks that power caps hold: under bursts of pods
// created at once, and through preemption in names mode. Run by scripts/test.d/60-kube-stack.sh (build tag
// `stack`, so the harness suite's `go test ./...` leaves it out).
package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"wattsched.io/test/kube-scheduler/harness"
)

const schedulerName = "wattsched-scheduler"

var (
	client      *kubernetes.Clientset
	extenderURL string
	stateDir    string
	agentPort   int
)

// freePortPair finds a free port p whose p+1 is free too (etcd takes its client port and the next for peers).
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		p, err := harness.FreePort()
		if err != nil {
			return 0, err
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no two consecutive free ports found")
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if stateDir, err = os.MkdirTemp("", "wattsched-stack-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	etcd, err := freePortPair()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ports := map[string]int{"ETCD_PORT": etcd}
	for _, k := range []string{"API_PORT", "SCHED_PORT", "EXT_PORT", "AGENT_PORT"} {
		if ports[k], err = harness.FreePort(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	stack := filepath.Join(root, "test", "kube-scheduler", "stack")
	up := exec.Command("bash", filepath.Join(stack, "up.sh"), stateDir)
	up.Env = os.Environ()
	for k, v := range ports {
		up.Env = append(up.Env, fmt.Sprintf("%s=%d", k, v))
	}
	// The extender polls the real agent history_test.go starts on this port (nothing answers until then).
	agentPort = ports["AGENT_PORT"]
	up.Env = append(up.Env, fmt.Sprintf("AGENT_URL=http://127.0.0.1:%d", agentPort))
	up.Stdout, up.Stderr = os.Stderr, os.Stderr
	defer func() {
		down := exec.Command("bash", filepath.Join(stack, "down.sh"), stateDir)
		down.Stdout, down.Stderr = os.Stderr, os.Stderr
		_ = down.Run()
	}()
	if err := up.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "stack/up.sh failed: %v\n", err)
		dumpStateLogs()
		return 1
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(stateDir, "kubeconfig"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.QPS, cfg.Burst = 200, 400
	client = kubernetes.NewForConfigOrDie(cfg)
	extenderURL = fmt.Sprintf("http://127.0.0.1:%d", ports["EXT_PORT"])
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go fakeKubelet(ctx)
	code := m.Run()
	if code != 0 {
		dumpStateLogs()
	}
	return code
}

func dumpStateLogs() {
	for _, name := range []string{"extender.log", "kube-scheduler.log", "agent.log"} {
		b, err := os.ReadFile(filepath.Join(stateDir, name))
		if err != nil {
			continue
		}
		if len(b) > 20000 {
			b = b[len(b)-20000:]
		}
		fmt.Fprintf(os.Stderr, "==== %s (tail)\n%s\n", name, b)
	}
}

// fakeKubelet finishes graceful deletions, as a kubelet would once the containers stopped: without one, a pod
// evicted by preemption would stay Terminating for ever.
func fakeKubelet(ctx context.Context) {
	zero := int64(0)
	for ctx.Err() == nil {
		pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil {
					_ = client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// curve is an 11-point power curve, linear from idle to busy.
func curve(idle, busy float64) []float64 {
	c := make([]float64, 11)
	for i := range c {
		c[i] = idle + (busy-idle)*float64(i)/10
	}
	return c
}

func curveText(c []float64) string {
	parts := make([]string, len(c))
	for i, w := range c {
		parts[i] = strconv.FormatFloat(w, 'f', -1, 64)
	}
	return strings.Join(parts, ",")
}

func parseCurve(text string) []float64 {
	var c []float64
	for _, f := range strings.Split(text, ",") {
		w, _ := strconv.ParseFloat(strings.TrimSpace(f), 64)
		c = append(c, w)
	}
	return c
}

// addNode registers a Ready node with the given allocatable CPU, curve and cap (no cap when capW is 0).
func addNode(t *testing.T, ctx context.Context, name string, milliCPU int64, c []float64, capW float64) {
	t.Helper()
	ann := map[string]string{harness.AnnotationPowerCurve: curveText(c)}
	if capW > 0 {
		ann[harness.AnnotationPowerCapWatts] = strconv.FormatFloat(capW, 'f', -1, 64)
	}
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{harness.LabelHostname: name}, Annotations: ann}}
	createReadyNode(t, ctx, n, milliCPU, nil)
}

// createReadyNode creates n and does what its kubelet would: reports it Ready with milliCPU allocatable. With no
// kubelet nothing would lift the not-ready taint TaintNodesByCondition admission gives every new node, so the node's
// taints are then replaced by taints.
func createReadyNode(t *testing.T, ctx context.Context, n *v1.Node, milliCPU int64, taints []v1.Taint) {
	t.Helper()
	created, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := v1.ResourceList{
		v1.ResourceCPU:    *resource.NewMilliQuantity(milliCPU, resource.DecimalSI),
		v1.ResourceMemory: resource.MustParse("64Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	created.Status = v1.NodeStatus{Capacity: res, Allocatable: res.DeepCopy(),
		Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "FakeKubelet", LastHeartbeatTime: metav1.Now()}}}
	if created, err = client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	created.Spec.Taints = taints
	if _, err := client.CoreV1().Nodes().Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

type podOpts struct {
	namespace, name string
	milliCPU        int64
	node            string // nodeSelector on kubernetes.io/hostname, when set
	priorityClass   string
}

func newPod(o podOpts) *v1.Pod {
	zero := int64(0)
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: o.name, Labels: map[string]string{"app": "wattsched-stack-test"}},
		Spec: v1.PodSpec{
			SchedulerName:                 schedulerName,
			TerminationGracePeriodSeconds: &zero,
			PriorityClassName:             o.priorityClass,
			Containers: []v1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10", Resources: v1.ResourceRequirements{
				Requests: v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(o.milliCPU, resource.DecimalSI), v1.ResourceMemory: resource.MustParse("64Mi")},
			}}},
		},
	}
	if o.node != "" {
		p.Spec.NodeSelector = map[string]string{harness.LabelHostname: o.node}
	}
	return p
}

func createNamespace(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitBound polls until every named pod in the namespace has a node, returning pod name → node.
func waitBound(t *testing.T, ctx context.Context, namespace string, names []string, timeout time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bound := map[string]string{}
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" {
				bound[p.Name] = p.Spec.NodeName
			}
		}
		var missing []string
		for _, n := range names {
			if _, ok := bound[n]; !ok {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return bound
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods never bound within %s: %v", len(missing), timeout, missing)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// boundCPU sums the CPU requests of every pod (all namespaces) bound to each node.
func boundCPU(t *testing.T, ctx context.Context) map[string]int64 {
	t.Helper()
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Spec.Containers {
			out[p.Spec.NodeName] += c.Resources.Requests.Cpu().MilliValue()
		}
	}
	return out
}

// extenderPrediction asks the extender itself what each node draws with everything bound there: a filter call for a
// probe pod requesting no CPU, then the probe's /explain, whose power-with-pod is then the power without it.
func extenderPrediction(t *testing.T, nodes []string) map[string]float64 {
	t.Helper()
	probe := fmt.Sprintf("probe-%d", time.Now().UnixNano())
	args := map[string]any{
		"Pod": map[string]any{
			"metadata": map[string]any{"name": probe, "namespace": "wattsched-probe", "uid": probe},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "resources": map[string]any{"requests": map[string]any{"cpu": "0"}}}}},
		},
		"NodeNames": nodes,
	}
	body, _ := json.Marshal(args)
	res, err := http.Post(extenderURL+"/filter", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = http.Get(extenderURL + "/explain/wattsched-probe/" + probe)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ex struct {
		FailOpen *string `json:"failOpen"`
		Nodes    []struct {
			Name              string   `json:"name"`
			PowerWithPodWatts *float64 `json:"powerWithPodWatts"`
		} `json:"nodes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ex); err != nil {
		t.Fatal(err)
	}
	if ex.FailOpen != nil {
		t.Fatalf("extender failed open for the probe: %s", *ex.FailOpen)
	}
	out := map[string]float64{}
	for _, n := range ex.Nodes {
		if n.PowerWithPodWatts != nil {
			out[n.Name] = *n.PowerWithPodWatts
		}
	}
	return out
}

// checkCaps asserts the invariant on every capped node in the cluster, from the extender's own prediction, and
// checks that prediction against the test's own (bound CPU from the API server through the node's curve).
func checkCaps(t *testing.T, ctx context.Context) (capped map[string]int64) {
	t.Helper()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cpu := boundCPU(t, ctx)
	var names []string
	caps := map[string]float64{}
	own := map[string]float64{}
	for _, n := range nodes.Items {
		text, ok := n.Annotations[harness.AnnotationPowerCapWatts]
		if !ok {
			continue
		}
		capW, _ := strconv.ParseFloat(text, 64)
		names = append(names, n.Name)
		caps[n.Name] = capW
		alloc := n.Status.Allocatable.Cpu().MilliValue()
		own[n.Name] = harness.PowerAt(parseCurve(n.Annotations[harness.AnnotationPowerCurve]), float64(cpu[n.Name])/float64(alloc))
	}
	// The watch may trail the last binding by a moment; its prediction must converge to the API server's truth.
	var pred map[string]float64
	for i := 0; ; i++ {
		pred = extenderPrediction(t, names)
		same := true
		for _, n := range names {
			if math.Abs(pred[n]-own[n]) > 1e-6 {
				same = false
			}
		}
		if same {
			break
		}
		if i == 50 {
			t.Fatalf("extender's prediction %v never matched the bound pods' %v", pred, own)
		}
		time.Sleep(100 * time.Millisecond)
	}
	capped = map[string]int64{}
	for _, n := range names {
		t.Logf("%s: %dm bound, extender predicts %.2f W, cap %.0f W", n, cpu[n], pred[n], caps[n])
		if pred[n] > caps[n]+1e-9 {
			t.Errorf("%s: predicted %.2f W with everything bound exceeds its cap of %.0f W", n, pred[n], caps[n])
		}
		capped[n] = cpu[n]
	}
	return capped
}

// TestBurstsKeepCaps: bursts of 50 pods created at once. The capped nodes are the cheapest per watt, so the
// extender ranks them first and every pod of a burst wants them; only the cap stops them filling up.
//
//	burst-a  4 CPU, 50..100 W (1.25 W per 100m), cap 60 W: at most 800m
//	burst-b  4 CPU, 40..80 W (1 W per 100m), cap 46 W: at most 600m
//	burst-c  8 CPU, 60..140 W (1 W per 100m), cap 71 W: at most 1100m
//	node-capped (up.sh) 4 CPU, 60..120 W (1.5 W per 100m), cap 70 W: at most 666m
//
// The rest of each burst lands on up.sh's uncapped nodes (node-efficient 2.5 W per 100m first).
func TestBurstsKeepCaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	addNode(t, ctx, "burst-a", 4000, curve(50, 100), 60)
	addNode(t, ctx, "burst-b", 4000, curve(40, 80), 46)
	addNode(t, ctx, "burst-c", 8000, curve(60, 140), 71)
	createNamespace(t, ctx, "burst")
	for round := 0; round < 2; round++ {
		var names []string
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 0; i < 50; i++ {
			// 100m and 150m alternate, so caps are met at uneven points.
			name := fmt.Sprintf("r%d-p%02d", round, i)
			names = append(names, name)
			wg.Add(1)
			go func(name string, milli int64) {
				defer wg.Done()
				if _, err := client.CoreV1().Pods("burst").Create(ctx, newPod(podOpts{namespace: "burst", name: name, milliCPU: milli}), metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}(name, 100+50*int64(i%2))
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		start := time.Now()
		bound := waitBound(t, ctx, "burst", names, 3*time.Minute)
		t.Logf("round %d: 50 pods bound in %s", round, time.Since(start).Round(time.Millisecond))
		perNode := map[string]int{}
		for _, n := range bound {
			perNode[n]++
		}
		t.Logf("round %d placement: %v", round, perNode)
		capped := checkCaps(t, ctx)
		var onCapped int64
		for _, m := range capped {
			onCapped += m
		}
		// The burst really pressed on the caps: the capped nodes (cheapest per watt) took load.
		if round == 0 && onCapped == 0 {
			t.Errorf("no pod of the first burst landed on a capped node: the test did not exercise the caps")
		}
	}
}

// TestPreemptionNamesModeHonoursCaps: the shipped config is names mode (nodeCacheCapable: true), so the
// extender's preempt verb gets victims as UIDs only. Two 2-CPU nodes with 100..200 W curves (50 W per CPU) and a
// 180 W cap (at most 1600m), each holding a 1000m and a 500m low-priority pod (1500m, 175 W). A 1000m
// high-priority pod pinned to each needs 1000m free, so kube-scheduler evicts one victim, reprieving the more
// important low pod:
//
//	pre-a on cap-p1: big victim (priority 10) evicted, small (20) reprieved: 500 + 1000 = 1500m -> 175 W <= 180: allowed
//	pre-b on cap-p2: small victim (priority 10) evicted, big (20) reprieved: 1000 + 1000 = 2000m -> 200 W > 180:
//	                 the extender drops the node, nothing is evicted, pre-b stays Pending
func TestPreemptionNamesModeHonoursCaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for name, value := range map[string]int32{"wattsched-low-10": 10, "wattsched-low-20": 20, "wattsched-high": 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	addNode(t, ctx, "cap-p1", 2000, curve(100, 200), 180)
	addNode(t, ctx, "cap-p2", 2000, curve(100, 200), 180)
	createNamespace(t, ctx, "preempt")
	low := []podOpts{
		{namespace: "preempt", name: "p1-big", milliCPU: 1000, node: "cap-p1", priorityClass: "wattsched-low-10"},
		{namespace: "preempt", name: "p1-small", milliCPU: 500, node: "cap-p1", priorityClass: "wattsched-low-20"},
		{namespace: "preempt", name: "p2-big", milliCPU: 1000, node: "cap-p2", priorityClass: "wattsched-low-20"},
		{namespace: "preempt", name: "p2-small", milliCPU: 500, node: "cap-p2", priorityClass: "wattsched-low-10"},
	}
	var lowNames []string
	for _, o := range low {
		if _, err := client.CoreV1().Pods("preempt").Create(ctx, newPod(o), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		lowNames = append(lowNames, o.name)
	}
	waitBound(t, ctx, "preempt", lowNames, time.Minute)
	// Let the extender's watch see them before the preemptors arrive.
	checkCaps(t, ctx)

	for _, o := range []podOpts{
		{namespace: "preempt", name: "pre-a", milliCPU: 1000, node: "cap-p1", priorityClass: "wattsched-high"},
		{namespace: "preempt", name: "pre-b", milliCPU: 1000, node: "cap-p2", priorityClass: "wattsched-high"},
	} {
		if _, err := client.CoreV1().Pods("preempt").Create(ctx, newPod(o), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bound := waitBound(t, ctx, "preempt", []string{"pre-a"}, 2*time.Minute)
	if bound["pre-a"] != "cap-p1" {
		t.Errorf("pre-a bound to %s, want cap-p1", bound["pre-a"])
	}
	// pre-b was created with pre-a and is retried on every pod event; a wrong answer would have evicted p2-small
	// by the time pre-a was bound. Some more time for a late one, then check nothing moved.
	time.Sleep(10 * time.Second)
	pods, err := client.CoreV1().Pods("preempt").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, p := range pods.Items {
		s := p.Spec.NodeName
		if p.DeletionTimestamp != nil {
			s += " (terminating)"
		}
		state[p.Name] = s
	}
	t.Logf("pods after preemption: %v", state)
	want := map[string]string{"p1-small": "cap-p1", "pre-a": "cap-p1", "p2-big": "cap-p2", "p2-small": "cap-p2", "pre-b": ""}
	for name, node := range want {
		if got, ok := state[name]; !ok || got != node {
			t.Errorf("%s: node %q (present %v), want %q", name, got, ok, node)
		}
	}
	if _, ok := state["p1-big"]; ok {
		t.Errorf("p1-big should have been preempted for pre-a")
	}
	log, _ := os.ReadFile(filepath.Join(stateDir, "extender.log"))
	if !bytes.Contains(log, []byte("preemption candidate dropped")) || !bytes.Contains(log, []byte("cap-p2")) {
		t.Errorf("the extender's log does not show cap-p2 dropped as a preemption candidate")
	}
	checkCaps(t, ctx)
}
