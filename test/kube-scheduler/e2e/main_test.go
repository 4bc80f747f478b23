// Package e2e drives upstream kube-scheduler (in-process, fake API server) against a real `wattsched extender`
// process over loopback HTTP(S), with the KubeSchedulerConfiguration from charts/wattsched/files.
package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"wattsched.io/test/kube-scheduler/harness"
)

var repoRoot string

func TestMain(m *testing.M) {
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = root
	// Scheduler code logs through its context (recorded per test); this silences what still goes to klog's global
	// logger (client-go's event broadcaster, informers) so test output stays readable.
	klog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// requireCLI fails (not skips) when the extender is not built: the test command builds it first, so a missing
// dist/ is a broken pipeline, not a reason to pass silently.
func requireCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(harness.CLIPath(repoRoot)); err != nil {
		t.Fatalf("%v (%v)", harness.ErrExtenderNotBuilt, err)
	}
}

// Power curves (watts at 0,10,...,100 % load). Each is linear, so marginal watts are slope x delta-utilisation and
// easy to check by hand; every node ends up with a distinct marginal cost for a 1-CPU pod.
var (
	curveA       = linearCurve(100, 10) // annotation: 1 CPU on 4 CPUs = 25 % -> 25 W
	curveB       = linearCurve(80, 24)  // annotation: 1 CPU on 8 CPUs = 12.5 % -> 30 W
	curveM5      = linearCurve(100, 20) // by instance-type m5.large: 25 % -> 50 W
	curveC5      = linearCurve(90, 24)  // by instance-type c5.xlarge: 25 % -> 60 W
	curveR5      = linearCurve(100, 30) // by instance-type r5.large: 25 % -> 75 W
	curveDefault = linearCurve(100, 40) // default curve: 25 % -> 100 W
)

func linearCurve(idle, step float64) []float64 {
	c := make([]float64, 11)
	for i := range c {
		c[i] = idle + step*float64(i)
	}
	return c
}

func curveAnnotation(c []float64) string {
	parts := make([]string, len(c))
	for i, w := range c {
		parts[i] = fmt.Sprintf("%g", w)
	}
	return strings.Join(parts, ",")
}

const gib = int64(1) << 30

// powerCurves is the extender config's powerCurves block used by every test.
func powerCurves() harness.ExtenderPowerCurves {
	return harness.ExtenderPowerCurves{
		ByLabelValue: map[string][]float64{"m5.large": curveM5, "c5.xlarge": curveC5, "r5.large": curveR5},
		Default:      curveDefault,
	}
}

// curveOf is the test's own statement of the curve-selection rule: annotation, else instance-type label, else
// the default curve.
func curveOf(n harness.NodeSpec) []float64 {
	if a, ok := n.Annotations[harness.AnnotationPowerCurve]; ok {
		var c []float64
		for _, f := range strings.Split(a, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				panic(fmt.Sprintf("test fixture: node %s has a bad %s: %v", n.Name, harness.AnnotationPowerCurve, err))
			}
			c = append(c, w)
		}
		return c
	}
	if c, ok := powerCurves().ByLabelValue[n.Labels[harness.LabelInstanceType]]; ok {
		return c
	}
	return curveDefault
}

// marginalWatts with the extender's static inventory (nothing requested yet).
func marginalWatts(n harness.NodeSpec, podMilli int64) float64 {
	c := curveOf(n)
	return harness.PowerAt(c, float64(podMilli)/float64(n.MilliCPU)) - harness.PowerAt(c, 0)
}

// stack is one scheduler + extender pair for a test.
type stack struct {
	ext     *harness.Extender
	cluster *harness.Cluster
	logs    *harness.LogRecorder
}

type stackOptions struct {
	nodes            []harness.NodeSpec
	nodeCacheCapable bool
	ignorable        bool
	tls              bool
	httpTimeout      time.Duration
	// schedulerURL, when set, is where kube-scheduler sends extender calls instead of the extender itself (a
	// fault proxy, or a port nothing listens on).
	schedulerURL func(ext *harness.Extender) string
	// noExtender starts no extender process (for "extender down").
	noExtender bool
}

func startStack(t *testing.T, ctx context.Context, o stackOptions) *stack {
	t.Helper()
	requireCLI(t)
	s := &stack{logs: harness.NewLogRecorder(2)}
	var caFile string
	if !o.noExtender {
		// Without a watch nothing settles an assumed pod, so its assumption must outlive any test.
		cfg := harness.ExtenderFileConfig{PowerCurves: powerCurves(), Nodes: harness.InventoryFor(o.nodes), PowerCaps: &harness.ExtenderPowerCaps{AssumedPodTTLSeconds: 600}}
		eo := harness.ExtenderOptions{RepoRoot: repoRoot, Dir: t.TempDir(), Config: cfg}
		if o.tls {
			pki, err := harness.WriteTestPKI(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			eo.Config.TLS = &harness.ExtenderTLS{CertFile: pki.CertFile, KeyFile: pki.KeyFile}
			eo.CAPEM = pki.CAPEM
			caFile = pki.CAFile
		}
		ext, err := harness.StartExtender(ctx, eo)
		if err != nil {
			t.Fatal(err)
		}
		s.ext = ext
		t.Cleanup(func() {
			if !ext.Alive() {
				t.Errorf("extender process died during the test:\n%s", ext.Output())
			}
			ext.Stop()
		})
	}
	url := ""
	if s.ext != nil {
		url = s.ext.URL
	}
	if o.schedulerURL != nil {
		url = o.schedulerURL(s.ext)
	}
	pct := int32(100)
	cfg, err := harness.LoadConfig(repoRoot, harness.ConfigOptions{
		Extender: &harness.ExtenderOverrides{
			URL: url, NodeCacheCapable: o.nodeCacheCapable, Ignorable: o.ignorable, HTTPTimeout: o.httpTimeout, CAFile: caFile,
		},
		PercentageOfNodesToScore: &pct,
	})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := harness.Start(ctx, harness.StartOptions{Config: cfg, Nodes: o.nodes, Logger: s.logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	s.cluster = cluster
	t.Cleanup(cluster.Stop)
	return s
}

func (s *stack) dumpLogs(t *testing.T) {
	t.Helper()
	for _, e := range s.logs.Entries() {
		if e.Error || e.Level == 0 {
			t.Log(e.String())
		}
	}
	if s.ext != nil {
		t.Logf("extender output:\n%s", s.ext.Output())
	}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
