package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"

	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// The "null" mode's extender: the cheapest extender that still speaks the protocol, in its own process as
// `wattsched extender` is. It decodes ExtenderArgs, passes every node and scores each 0, with Go's encoding/json
// and net/http keep-alive. What throughput kube-scheduler keeps against it is the ceiling for any extender on
// this machine: the rest is kube-scheduler's own plumbing (encoding the args, HTTP, decoding the replies) and
// the two serial round trips in each scheduling cycle.
func serveNullExtender() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /filter", func(w http.ResponseWriter, r *http.Request) {
		var args extenderv1.ExtenderArgs
		if err := json.NewDecoder(r.Body).Decode(&args); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(extenderv1.ExtenderFilterResult{NodeNames: args.NodeNames})
	})
	mux.HandleFunc("POST /prioritize", func(w http.ResponseWriter, r *http.Request) {
		var args extenderv1.ExtenderArgs
		if err := json.NewDecoder(r.Body).Decode(&args); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var list extenderv1.HostPriorityList
		if args.NodeNames != nil {
			list = make(extenderv1.HostPriorityList, len(*args.NodeNames))
			for i, n := range *args.NodeNames {
				list[i] = extenderv1.HostPriority{Host: n}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	})
	return http.Serve(ln, mux)
}

// startNullExtender runs serveNullExtender in a child process (this binary with -null-extender) and returns its
// URL and the process, which the caller kills.
func startNullExtender() (string, *exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-null-extender")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return "", nil, fmt.Errorf("null extender printed no URL: %w", err)
	}
	return strings.TrimSpace(line), cmd, nil
}
