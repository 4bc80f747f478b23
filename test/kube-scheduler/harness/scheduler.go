package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/scheduler"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/profile"
)

var podsResource = v1.SchemeGroupVersion.WithResource("pods")

// Binding is where and when the scheduler bound a pod.
type Binding struct {
	Node string
	At   time.Time
}

// Cluster is a fake API server (client-go's fake clientset) with upstream kube-scheduler running against it.
type Cluster struct {
	Client *fake.Clientset
	// SchedulerName is the profile pods must name to be scheduled.
	SchedulerName string

	cancel context.CancelFunc
	done   chan struct{}
	events events.EventBroadcaster

	mu       sync.Mutex
	bindings map[string]Binding
	changed  chan struct{} // closed and replaced on every binding, so waiters wake without polling
}

// StartOptions describe the simulated cluster and the scheduler configuration.
type StartOptions struct {
	Config *config.KubeSchedulerConfiguration
	Nodes  []NodeSpec
	// Logger receives everything scheduler code logs through its context; zero value discards.
	Logger klog.Logger
	// Lean leaves out what a benchmark's baseline should not pay for: the scheduler's events are not written to the
	// fake API server (kube-scheduler still emits them; they are dropped), PodEvents then finds none; and the fake
	// API server keeps no managed fields: fake.NewClientset's field-managed tracker rebuilds a static REST mapper
	// on every call, about 3 ms of CPU per pod (create + binding) at 5,000 nodes by a Go CPU profile, 44 % of the
	// no-extender run's CPU, charged to the scheduler's process on a machine where a real API server would run
	// elsewhere. Nothing in kube-scheduler reads managed fields, so the lean tracker is fake.NewSimpleClientset's.
	Lean bool
}

// Start creates the nodes, builds the scheduler with scheduler.New exactly as cmd/kube-scheduler does (profiles,
// extenders, percentageOfNodesToScore, backoffs, parallelism from the decoded config), waits for its informers and
// event handlers to sync, and runs it until Stop.
func Start(ctx context.Context, opts StartOptions) (*Cluster, error) {
	if opts.Config == nil || len(opts.Config.Profiles) == 0 {
		return nil, errors.New("harness: a decoded KubeSchedulerConfiguration with at least one profile is required")
	}
	logger := opts.Logger
	if logger.GetSink() == nil {
		logger = logr.Discard()
	}
	ctx = klog.NewContext(ctx, logger)
	ctx, cancel := context.WithCancel(ctx)

	objs := make([]runtime.Object, 0, len(opts.Nodes))
	for _, n := range opts.Nodes {
		objs = append(objs, n.Object())
	}
	var client *fake.Clientset
	if opts.Lean {
		client = fake.NewSimpleClientset(objs...) //nolint:staticcheck // see StartOptions.Lean
	} else {
		client = fake.NewClientset(objs...)
	}
	c := &Cluster{
		Client:        client,
		SchedulerName: SchedulerName(opts.Config),
		cancel:        cancel,
		done:          make(chan struct{}),
		bindings:      map[string]Binding{},
		changed:       make(chan struct{}),
	}
	// The fake clientset does not implement the pods/binding subresource: without this reactor a "bound" pod
	// would never get spec.nodeName, the scheduler's informer would never see it assigned, and its cache would
	// expire the assumed pod. The reactor runs under the fake's lock, so it talks to the tracker directly.
	client.PrependReactor("create", "pods", func(action clienttesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b, ok := action.(clienttesting.CreateAction).GetObject().(*v1.Binding)
		if !ok {
			return true, nil, fmt.Errorf("binding subresource got %T", action.(clienttesting.CreateAction).GetObject())
		}
		obj, err := client.Tracker().Get(podsResource, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*v1.Pod).DeepCopy()
		if pod.Spec.NodeName != "" {
			return true, nil, fmt.Errorf("pod %s/%s is already bound to %s", pod.Namespace, pod.Name, pod.Spec.NodeName)
		}
		pod.Spec.NodeName = b.Target.Name
		if err := client.Tracker().Update(podsResource, pod, pod.Namespace); err != nil {
			return true, nil, err
		}
		c.recordBinding(pod.Namespace+"/"+pod.Name, b.Target.Name)
		return true, b, nil
	})

	cfg := opts.Config
	informerFactory := scheduler.NewInformerFactory(client, 0)
	c.events = events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	sched, err := scheduler.New(ctx, client, informerFactory, nil, profile.NewRecorderFactory(c.events),
		scheduler.WithComponentConfigVersion(cfg.TypeMeta.APIVersion),
		scheduler.WithProfiles(cfg.Profiles...),
		scheduler.WithPercentageOfNodesToScore(cfg.PercentageOfNodesToScore),
		scheduler.WithPodInitialBackoffSeconds(cfg.PodInitialBackoffSeconds),
		scheduler.WithPodMaxBackoffSeconds(cfg.PodMaxBackoffSeconds),
		scheduler.WithExtenders(cfg.Extenders...),
		scheduler.WithParallelism(cfg.Parallelism),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("scheduler.New: %w", err)
	}
	if !opts.Lean {
		c.events.StartRecordingToSink(ctx.Done())
	}
	informerFactory.Start(ctx.Done())
	informerFactory.WaitForCacheSync(ctx.Done())
	if err := sched.WaitForHandlersSync(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("scheduler handlers did not sync: %w", err)
	}
	go func() {
		defer close(c.done)
		sched.Run(ctx)
	}()
	return c, nil
}

// Stop ends the scheduler and waits for its loop to return.
func (c *Cluster) Stop() {
	c.cancel()
	<-c.done
	c.events.Shutdown()
}

func (c *Cluster) recordBinding(key, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bindings[key] = Binding{Node: node, At: time.Now()}
	close(c.changed)
	c.changed = make(chan struct{})
}

// CreatePods submits pods to the fake API server, in order, with the profile's schedulerName.
func (c *Cluster) CreatePods(ctx context.Context, pods []PodSpec) error {
	for _, p := range pods {
		obj := p.Object(c.SchedulerName)
		if _, err := c.Client.CoreV1().Pods(obj.Namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pod %s: %w", p.Key(), err)
		}
	}
	return nil
}

// CreatePodsPaced submits pods in order like CreatePods, but keeps at most maxPending of them created and not yet
// bound, as a steady stream of arrivals would: a benchmark then measures the scheduler rather than a queue of
// thousands of pods (every one of them re-listed and copied by the fake clientset's tracker).
func (c *Cluster) CreatePodsPaced(ctx context.Context, pods []PodSpec, maxPending int) error {
	for i, p := range pods {
		for {
			c.mu.Lock()
			bound, changed := len(c.bindings), c.changed
			c.mu.Unlock()
			if i-bound < maxPending {
				break
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		obj := p.Object(c.SchedulerName)
		if _, err := c.Client.CoreV1().Pods(obj.Namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pod %s: %w", p.Key(), err)
		}
	}
	return nil
}

// Bindings returns every binding so far, by pod key.
func (c *Cluster) Bindings() map[string]Binding {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Binding, len(c.bindings))
	for k, v := range c.bindings {
		out[k] = v
	}
	return out
}

// WaitBound blocks until every key is bound or the timeout passes; it returns the keys still unbound.
func (c *Cluster) WaitBound(ctx context.Context, keys []string, timeout time.Duration) []string {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		var missing []string
		for _, k := range keys {
			if _, ok := c.bindings[k]; !ok {
				missing = append(missing, k)
			}
		}
		changed := c.changed
		c.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return missing
		case <-ctx.Done():
			return missing
		}
	}
}

// CountByNode tallies bindings per node.
func CountByNode(b map[string]Binding) map[string]int {
	out := map[string]int{}
	for _, v := range b {
		out[v.Node]++
	}
	return out
}

// PodEvents returns the events recorded about one pod (namespace/name), oldest first.
func (c *Cluster) PodEvents(ctx context.Context, namespace, name string) ([]eventsv1.Event, error) {
	list, err := c.Client.EventsV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "Pod" && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EventTime.Before(&out[j].EventTime) })
	return out, nil
}

// EnabledPlugins returns, per profile name, the plugins each extension point really runs, with the effective score
// weights (MultiPoint defaults expanded, unset weights as 1), read from the frameworks a throwaway scheduler builds
// from cfg: the same list kube-scheduler logs at start-up.
func EnabledPlugins(ctx context.Context, cfg *config.KubeSchedulerConfiguration) (map[string]*config.Plugins, error) {
	ctx, cancel := context.WithCancel(klog.NewContext(ctx, logr.Discard()))
	defer cancel()
	client := fake.NewClientset()
	sched, err := scheduler.New(ctx, client, scheduler.NewInformerFactory(client, 0), nil,
		profile.NewRecorderFactory(events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})),
		scheduler.WithProfiles(cfg.Profiles...),
		scheduler.WithExtenders(cfg.Extenders...),
	)
	if err != nil {
		return nil, err
	}
	out := map[string]*config.Plugins{}
	for name, f := range sched.Profiles {
		out[name] = f.ListPlugins()
	}
	return out, nil
}
