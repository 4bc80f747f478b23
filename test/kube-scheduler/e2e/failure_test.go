package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"wattsched.io/test/kube-scheduler/harness"
)

const (
	msgSkipIgnorable = "Skipping extender as it returned error and has ignorable flag set"
	msgRetrying      = "Error scheduling pod; retrying"
)

// logged counts recorded entries with msg whose error contains errPart, for one pod when podKey is set. The
// scheduler logs the ignorable skip as Info with the error as an "err" value, the retry as Error, so both the
// error and the key/values are searched.
func logged(s *stack, msg, errPart, podKey string) int {
	return s.logs.Count(func(e harness.LogEntry) bool {
		return e.Message == msg && strings.Contains(e.Err+" "+e.KV, errPart) && (podKey == "" || slices.Contains(strings.Fields(e.KV), "pod="+podKey))
	})
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func failurePods(prefix string, n int) []harness.PodSpec {
	return harness.ExpandPods(harness.PodGroup{Namespace: "shop", Prefix: prefix, Count: n, MilliCPU: 1000, MemoryBytes: gib, Owned: true})
}

// requireBound waits for the pods and checks they went to the extender's cheapest node (node-a fits 4 pods), which
// proves the extender, not just the default plugins, placed them after recovery.
func requireBound(t *testing.T, s *stack, ctx context.Context, pods []harness.PodSpec, wantNode string) {
	t.Helper()
	if missing := s.cluster.WaitBound(ctx, harness.Keys(pods), 30*time.Second); len(missing) > 0 {
		s.dumpLogs(t)
		t.Fatalf("pods never bound: %v", missing)
	}
	if wantNode == "" {
		return
	}
	b := s.cluster.Bindings()
	for _, p := range pods {
		if b[p.Key()].Node != wantNode {
			t.Errorf("%s bound to %s, want %s", p.Key(), b[p.Key()].Node, wantNode)
		}
	}
}

// requirePendingAndRetried holds until every pod has failed at least twice, and checks none was bound meanwhile.
func requirePendingAndRetried(t *testing.T, s *stack, pods []harness.PodSpec, errPart string, attempts func(podKey string) int) {
	t.Helper()
	for _, p := range pods {
		waitFor(t, fmt.Sprintf("two failed attempts for %s (error containing %q)", p.Key(), errPart), 20*time.Second, func() bool {
			return attempts(p.Key()) >= 2
		})
	}
	b := s.cluster.Bindings()
	for _, p := range pods {
		if n, ok := b[p.Key()]; ok {
			t.Fatalf("%s was bound to %s while the non-ignorable extender was failing", p.Key(), n.Node)
		}
	}
}

func TestExtenderDown(t *testing.T) {
	t.Run("ignorable: pods still schedule", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		port, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s := startStack(t, ctx, stackOptions{
			nodes: placementNodes(), nodeCacheCapable: true, ignorable: true, noExtender: true,
			schedulerURL: func(*harness.Extender) string { return fmt.Sprintf("http://127.0.0.1:%d", port) },
		})
		pods := failurePods("down-ign", 4)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requireBound(t, s, ctx, pods, "")
		if n := logged(s, msgSkipIgnorable, "connection refused", ""); n == 0 {
			s.dumpLogs(t)
			t.Errorf("scheduler never logged %q with a connection error", msgSkipIgnorable)
		}
	})

	t.Run("not ignorable: pods stay pending, are retried, and schedule once it is up", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		port, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		nodes := placementNodes()
		s := startStack(t, ctx, stackOptions{
			nodes: nodes, nodeCacheCapable: true, ignorable: false, noExtender: true,
			schedulerURL: func(*harness.Extender) string { return fmt.Sprintf("http://127.0.0.1:%d", port) },
		})
		pods := failurePods("down", 2)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requirePendingAndRetried(t, s, pods, "connection refused", func(k string) int { return logged(s, msgRetrying, "connection refused", k) })

		ext, err := harness.StartExtender(ctx, harness.ExtenderOptions{
			RepoRoot: repoRoot, Dir: t.TempDir(), Port: port,
			Config: harness.ExtenderFileConfig{PowerCurves: powerCurves(), Nodes: harness.InventoryFor(nodes)},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ext.Stop)
		s.ext = ext
		requireBound(t, s, ctx, pods, "node-a")
	})
}

// proxiedStack starts a stack whose kube-scheduler reaches the extender through a fault proxy, returned with it;
// setup, when set, prepares the proxy before the scheduler's first call.
func proxiedStack(t *testing.T, ctx context.Context, o stackOptions, setup func(*harness.FaultProxy)) (*stack, *harness.FaultProxy) {
	var proxy *harness.FaultProxy
	o.schedulerURL = func(ext *harness.Extender) string {
		p, err := harness.NewFaultProxy(ext.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if setup != nil {
			setup(p)
		}
		proxy = p
		return p.URL
	}
	return startStack(t, ctx, o), proxy
}

func TestExtenderSlow(t *testing.T) {
	const timeout = 300 * time.Millisecond
	proxied := func(t *testing.T, ctx context.Context, ignorable bool) (*stack, *harness.FaultProxy) {
		o := stackOptions{nodes: placementNodes(), nodeCacheCapable: true, ignorable: ignorable, httpTimeout: timeout}
		return proxiedStack(t, ctx, o, func(p *harness.FaultProxy) {
			p.Delay = 5 * timeout
			p.SetMode("filter", harness.Delay)
			p.SetMode("prioritize", harness.Delay)
		})
	}
	t.Run("ignorable: pods still schedule", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		s, _ := proxied(t, ctx, true)
		pods := failurePods("slow-ign", 3)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requireBound(t, s, ctx, pods, "")
		if n := logged(s, msgSkipIgnorable, "Client.Timeout exceeded", ""); n < len(pods) {
			s.dumpLogs(t)
			t.Errorf("want >= %d %q logs naming the client timeout, got %d", len(pods), msgSkipIgnorable, n)
		}
	})
	t.Run("not ignorable: pods stay pending, are retried, and schedule once it is fast", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		s, proxy := proxied(t, ctx, false)
		pods := failurePods("slow", 2)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requirePendingAndRetried(t, s, pods, "Client.Timeout exceeded", func(k string) int {
			return min(proxy.Calls("filter", k), logged(s, msgRetrying, "Client.Timeout exceeded", k))
		})
		proxy.SetMode("filter", harness.PassThrough)
		proxy.SetMode("prioritize", harness.PassThrough)
		requireBound(t, s, ctx, pods, "node-a")
	})
}

func TestExtenderGarbage(t *testing.T) {
	proxied := func(t *testing.T, ctx context.Context, ignorable bool) (*stack, *harness.FaultProxy) {
		return proxiedStack(t, ctx, stackOptions{nodes: placementNodes(), nodeCacheCapable: true, ignorable: ignorable}, nil)
	}

	t.Run("not ignorable: error logged, pods pending and retried, scheduler survives", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		s, proxy := proxied(t, ctx, false)
		proxy.SetMode("filter", harness.Garbage)
		pods := failurePods("garbage", 2)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requirePendingAndRetried(t, s, pods, "invalid character", func(k string) int { return logged(s, msgRetrying, "invalid character", k) })

		// Well-formed JSON of the wrong shape is a decode error too, not a crash.
		proxy.SetMode("filter", harness.WrongShape)
		for _, p := range pods {
			waitFor(t, "a wrong-shape decode error for "+p.Key(), 20*time.Second, func() bool { return logged(s, msgRetrying, "cannot unmarshal", p.Key()) >= 1 })
		}
		proxy.SetMode("filter", harness.PassThrough)
		requireBound(t, s, ctx, pods, "node-a")
	})

	t.Run("ignorable: pods still schedule", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		s, proxy := proxied(t, ctx, true)
		proxy.SetMode("filter", harness.Garbage)
		proxy.SetMode("prioritize", harness.Garbage)
		pods := failurePods("garbage-ign", 3)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requireBound(t, s, ctx, pods, "")
		if n := logged(s, msgSkipIgnorable, "invalid character", ""); n < len(pods) {
			t.Errorf("want >= %d %q logs, got %d", len(pods), msgSkipIgnorable, n)
		}
	})

	t.Run("garbage from prioritize only: ignored whatever ignorable says", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		s, proxy := proxied(t, ctx, false)
		proxy.SetMode("prioritize", harness.Garbage)
		pods := failurePods("garbage-prio", 3)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requireBound(t, s, ctx, pods, "")
		for _, p := range pods {
			if proxy.Calls("prioritize", p.Key()) == 0 {
				t.Errorf("prioritize was never called for %s", p.Key())
			}
		}
	})

	t.Run("the extender answers garbage requests with 4xx and keeps serving", func(t *testing.T) {
		ctx := testContext(t, 2*time.Minute)
		s := startStack(t, ctx, stackOptions{nodes: placementNodes(), nodeCacheCapable: true, ignorable: false})
		for _, body := range []string{"{not json", `{"Pod": 7, "NodeNames": {"a": 1}}`, `[]`} {
			for _, verb := range []string{"/filter", "/prioritize", "/preempt"} {
				code, out, err := s.ext.Post(verb, "application/json", []byte(body))
				if err != nil {
					t.Fatalf("POST %s: %v", verb, err)
				}
				if code < 400 || code >= 500 {
					t.Errorf("POST %s %q: status %d (%s), want 4xx", verb, body, code, out)
				}
			}
		}
		if code, _, err := s.ext.Get("/readyz"); err != nil || code != http.StatusOK {
			t.Fatalf("/readyz after garbage: %d %v", code, err)
		}
		pods := failurePods("after-garbage", 2)
		if err := s.cluster.CreatePods(ctx, pods); err != nil {
			t.Fatal(err)
		}
		requireBound(t, s, ctx, pods, "node-a")
	})
}
