package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// FaultMode is how the FaultProxy answers extender calls.
type FaultMode int

const (
	// PassThrough forwards to the real extender unchanged.
	PassThrough FaultMode = iota
	// Delay waits FaultProxy.Delay, then forwards (an extender slower than httpTimeout).
	Delay
	// Garbage answers 200 with a body that is not JSON.
	Garbage
	// WrongShape answers 200 with JSON of the wrong types (a decoder error, not a syntax error).
	WrongShape
)

// FaultProxy sits between kube-scheduler and the extender on loopback and injects failures a real extender can
// show (slowness, garbage replies) per verb, counting the calls it sees per pod so tests can prove retries.
type FaultProxy struct {
	URL   string
	Delay time.Duration

	srv     *http.Server
	forward *httputil.ReverseProxy

	mu    sync.Mutex
	modes map[string]FaultMode // by verb ("filter", "prioritize", ...); missing = PassThrough
	calls map[string]int       // "verb namespace/name" -> count
}

// NewFaultProxy listens on a free loopback port and forwards to target.
func NewFaultProxy(target string) (*FaultProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{
		URL:     "http://" + l.Addr().String(),
		forward: httputil.NewSingleHostReverseProxy(u),
		modes:   map[string]FaultMode{},
		calls:   map[string]int{},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// SetMode changes how one verb is answered from now on.
func (p *FaultProxy) SetMode(verb string, m FaultMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.modes[verb] = m
}

// Calls is how many times verb was called for the pod namespace/name.
func (p *FaultProxy) Calls(verb, podKey string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[verb+" "+podKey]
}

// Close stops the listener.
func (p *FaultProxy) Close() { _ = p.srv.Close() }

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	verb := strings.TrimPrefix(r.URL.Path[strings.LastIndex(r.URL.Path, "/"):], "/")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var args struct {
		Pod struct {
			Metadata struct{ Namespace, Name string } `json:"metadata"`
		}
	}
	_ = json.Unmarshal(body, &args)
	p.mu.Lock()
	p.calls[verb+" "+args.Pod.Metadata.Namespace+"/"+args.Pod.Metadata.Name]++
	mode := p.modes[verb]
	delay := p.Delay
	p.mu.Unlock()

	switch mode {
	case Delay:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		p.forward.ServeHTTP(w, r)
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html>502 upstream confused</html>{{{"))
	case WrongShape:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"NodeNames": "everything", "FailedNodes": [1, 2, 3]}`))
	default:
		p.forward.ServeHTTP(w, r)
	}
}
