package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"wattsched.io/test/kube-scheduler/harness"
)

// The shipped KubeSchedulerConfiguration must decode and validate with kube-scheduler's own code, and its
// extender weight must keep the promise its comment makes: one extender point outweighs every default score
// plugin together. The plugin weights come from the profile as the scheduler completes it, not from the comment,
// so a Kubernetes upgrade that changes the defaults fails here.
func TestShippedConfig(t *testing.T) {
	cfg, err := harness.LoadConfig(repoRoot, harness.ConfigOptions{AsShipped: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Profiles) != 1 || cfg.Profiles[0].SchedulerName != "wattsched-scheduler" {
		t.Fatalf("profiles = %+v, want one named wattsched-scheduler", cfg.Profiles)
	}
	if len(cfg.Extenders) != 1 {
		t.Fatalf("want exactly one extender, got %d", len(cfg.Extenders))
	}
	ext := cfg.Extenders[0]
	if ext.FilterVerb != "filter" || ext.PrioritizeVerb != "prioritize" || ext.PreemptVerb != "preempt" {
		t.Errorf("verbs = %q %q %q, want the extender's defaults filter/prioritize/preempt", ext.FilterVerb, ext.PrioritizeVerb, ext.PreemptVerb)
	}
	if !ext.NodeCacheCapable || !ext.Ignorable {
		t.Errorf("shipped extender: nodeCacheCapable=%v ignorable=%v, want true/true as the file documents", ext.NodeCacheCapable, ext.Ignorable)
	}

	// The v1 defaults put every plugin under multiPoint; the framework spreads them into the score extension
	// point (an unset weight counts as 1).
	plugins, err := harness.EnabledPlugins(testContext(t, time.Minute), cfg)
	if err != nil {
		t.Fatal(err)
	}
	prof, ok := plugins["wattsched-scheduler"]
	if !ok {
		t.Fatalf("no framework for profile wattsched-scheduler: %v", plugins)
	}
	total := int64(0)
	var names []string
	for _, p := range prof.Score.Enabled {
		w := int64(p.Weight)
		if w == 0 {
			w = 1
		}
		total += w
		names = append(names, fmt.Sprintf("%s=%d", p.Name, w))
	}
	t.Logf("score plugins: %s (total weight %d, at most %d points); extender weight %d = %d points per extender score unit",
		strings.Join(names, " "), total, total*100, ext.Weight, ext.Weight*10)
	if total == 0 {
		t.Fatal("no score plugins in the completed profile")
	}
	if ext.Weight*10 <= total*100 {
		t.Errorf("extender weight %d: one extender point (%d) does not outweigh the default plugins' %d", ext.Weight, ext.Weight*10, total*100)
	}

	// The substitutions the other tests make keep the file valid, and the baseline really has no extender.
	sub, err := harness.LoadConfig(repoRoot, harness.ConfigOptions{Extender: &harness.ExtenderOverrides{URL: "https://127.0.0.1:1", CAFile: "/nonexistent/ca.crt", HTTPTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if e := sub.Extenders[0]; !e.EnableHTTPS || e.TLSConfig == nil || e.Weight != ext.Weight || e.HTTPTimeout.Duration != time.Second {
		t.Errorf("substituted extender = %+v", e)
	}
	base, err := harness.LoadConfig(repoRoot, harness.ConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Extenders) != 0 {
		t.Fatalf("no-extender baseline still has %d extenders", len(base.Extenders))
	}
}
