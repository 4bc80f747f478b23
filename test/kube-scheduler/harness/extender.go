package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExtenderNode is one entry of the extender config's static inventory (names mode without an API server).
type ExtenderNode struct {
	Name                string            `json:"name"`
	Labels              map[string]string `json:"labels,omitempty"`
	Annotations         map[string]string `json:"annotations,omitempty"`
	AllocatableMilliCPU int64             `json:"allocatableMilliCPU"`
	RequestedMilliCPU   int64             `json:"requestedMilliCPU"`
}

// ExtenderPowerCurves mirrors the powerCurves block of src/shared/config/extender.ts.
type ExtenderPowerCurves struct {
	NodeLabel    string               `json:"nodeLabel,omitempty"`
	ByLabelValue map[string][]float64 `json:"byLabelValue,omitempty"`
	Default      []float64            `json:"default,omitempty"`
}

// ExtenderFileConfig is the `wattsched extender --config` file the harness writes (JSON is valid YAML).
type ExtenderFileConfig struct {
	LogLevel    string              `json:"logLevel,omitempty"`
	PowerCurves ExtenderPowerCurves `json:"powerCurves"`
	Nodes       []ExtenderNode      `json:"nodes,omitempty"`
	TLS         *ExtenderTLS        `json:"tls,omitempty"`
	Kubernetes  map[string]string   `json:"kubernetes"`
	PowerCaps   *ExtenderPowerCaps  `json:"powerCaps,omitempty"`
	// Telemetry and Profiles are the extender's blocks of the same names (agents to poll, profile bounds).
	Telemetry map[string]any `json:"telemetry,omitempty"`
	Profiles  map[string]any `json:"profiles,omitempty"`
}

// ExtenderPowerCaps mirrors the powerCaps block: how long a pod passed onto capped nodes stays assumed there.
type ExtenderPowerCaps struct {
	AssumedPodTTLSeconds int `json:"assumedPodTtlSeconds"`
}

// ExtenderTLS are the server certificate files the extender serves HTTPS with.
type ExtenderTLS struct {
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// InventoryFor lists every harness node in the extender's static inventory with the same labels, annotations and
// allocatable CPU as the Node objects, since in names mode without an API server that is all the extender knows.
func InventoryFor(nodes []NodeSpec) []ExtenderNode {
	out := make([]ExtenderNode, 0, len(nodes))
	for _, n := range nodes {
		obj := n.Object()
		out = append(out, ExtenderNode{Name: n.Name, Labels: obj.Labels, Annotations: obj.Annotations, AllocatableMilliCPU: n.MilliCPU})
	}
	return out
}

// Extender is a running `wattsched extender` process on loopback.
type Extender struct {
	// URL is the base URL kube-scheduler's urlPrefix should point at.
	URL  string
	Port int

	cmd    *exec.Cmd
	client *http.Client
	output *lockedBuffer
	exited chan struct{}
	err    error
}

// ExtenderOptions say how to start the process.
type ExtenderOptions struct {
	RepoRoot string
	// Dir receives the config file (a test's t.TempDir()).
	Dir    string
	Config ExtenderFileConfig
	// Port 0 picks a free loopback port.
	Port int
	// CAPEM, with Config.TLS set, is the CA that signed the server certificate (for the readiness probe).
	CAPEM []byte
}

// CLIPath is the compiled `wattsched` entry point inside the repository.
func CLIPath(repoRoot string) string { return filepath.Join(repoRoot, "dist", "src", "cli", "main.js") }

// ErrExtenderNotBuilt means dist/ has no compiled CLI; callers skip with a clear message instead of failing.
var ErrExtenderNotBuilt = errors.New("dist/src/cli/main.js is missing: run `npx tsc -p tsconfig.build.json` first")

// StartExtender writes the config, starts `node dist/src/cli/main.js extender` and waits for GET /readyz to be 200.
func StartExtender(ctx context.Context, opts ExtenderOptions) (*Extender, error) {
	cli := CLIPath(opts.RepoRoot)
	if !isFile(cli) {
		return nil, ErrExtenderNotBuilt
	}
	cfg := opts.Config
	if cfg.Kubernetes == nil {
		// No API server here: the extender must use the config inventory and never look for a kubeconfig.
		cfg.Kubernetes = map[string]string{"mode": "off"}
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(opts.Dir, fmt.Sprintf("extender-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	scheme := "http"
	transport := &http.Transport{}
	if cfg.TLS != nil {
		scheme = "https"
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(opts.CAPEM) {
			return nil, errors.New("harness: TLS extender needs the CA PEM to probe /readyz")
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	e := &Extender{
		URL:    fmt.Sprintf("%s://127.0.0.1:%d", scheme, port),
		Port:   port,
		client: &http.Client{Transport: transport, Timeout: 5 * time.Second},
		output: &lockedBuffer{},
		exited: make(chan struct{}),
	}
	e.cmd = exec.Command("node", cli, "extender", "--config", cfgPath, "--port", strconv.Itoa(port), "--host", "127.0.0.1", "--log-level", cfg.LogLevel)
	e.cmd.Dir = opts.RepoRoot
	e.cmd.Stdout = e.output
	e.cmd.Stderr = e.output
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive a killed test binary
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting extender: %w", err)
	}
	go func() {
		e.err = e.cmd.Wait()
		close(e.exited)
	}()
	if err := e.waitReady(ctx, 30*time.Second); err != nil {
		e.Stop()
		return nil, fmt.Errorf("%w\nextender output:\n%s", err, e.Output())
	}
	return e, nil
}

func (e *Extender) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-e.exited:
			return fmt.Errorf("extender exited before becoming ready: %v", e.err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := e.client.Get(e.URL + "/readyz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("extender at %s not ready within %s", e.URL, timeout)
}

// Alive reports whether the process is still running.
func (e *Extender) Alive() bool {
	select {
	case <-e.exited:
		return false
	default:
		return true
	}
}

// Get fetches a path (e.g. /explain/default/p1) from the extender; it returns the status and body.
func (e *Extender) Get(path string) (int, []byte, error) {
	resp, err := e.client.Get(e.URL + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Post sends a raw body to a path, for feeding the extender input kube-scheduler never would.
func (e *Extender) Post(path, contentType string, body []byte) (int, []byte, error) {
	resp, err := e.client.Post(e.URL+path, contentType, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// ExplainedNode is one node row of GET /explain/{namespace}/{pod}.
type ExplainedNode struct {
	Name              string   `json:"name"`
	MarginalWatts     *float64 `json:"marginalWatts"`
	PowerWithPodWatts *float64 `json:"powerWithPodWatts"`
	Score             *int     `json:"score"`
	PassedFilter      *bool    `json:"passedFilter"`
	Basis             string   `json:"basis"`
	Reason            string   `json:"reason"`
}

// Explanation is the extender's last decision for a pod.
type Explanation struct {
	FailOpen *string         `json:"failOpen"`
	Demand   *ExplainDemand  `json:"demand"`
	Nodes    []ExplainedNode `json:"nodes"`
}

// ExplainDemand is the pod's predicted CPU demand and where it came from (history, annotation, requests, ...).
type ExplainDemand struct {
	Cores  float64 `json:"cores"`
	Source string  `json:"source"`
	Policy string  `json:"policy"`
}

// Explain fetches and decodes /explain/{namespace}/{name}.
func (e *Extender) Explain(namespace, name string) (*Explanation, error) {
	code, body, err := e.Get("/explain/" + namespace + "/" + name)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /explain/%s/%s: %d %s", namespace, name, code, body)
	}
	var ex Explanation
	if err := json.Unmarshal(body, &ex); err != nil {
		return nil, fmt.Errorf("decoding /explain/%s/%s: %w (%s)", namespace, name, err, body)
	}
	return &ex, nil
}

// Pid is the extender's process id.
func (e *Extender) Pid() int { return e.cmd.Process.Pid }

// ProcessCPUTime is the user+system CPU process pid has used so far, from /proc/PID/stat (Linux; its utime and
// stime fields count USER_HZ ticks, 100 per second on every Linux ABI).
func ProcessCPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is parenthesised and may contain spaces: fields are counted after its ')'.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line for pid %d", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * (time.Second / 100), nil
}

// Output is what the process printed so far.
func (e *Extender) Output() string { return e.output.String() }

// Stop sends SIGTERM, then SIGKILL after 5 s, and waits for the exit.
func (e *Extender) Stop() {
	if !e.Alive() {
		return
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
}

// FreePort asks the kernel for an unused loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
