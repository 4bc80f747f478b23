// Command promql parses PromQL expressions with Prometheus's own parser, one JSON string per input line, and
// prints one JSON result per line: {"ok":true,"metrics":[...]} with the metric names the expression selects, or
// {"ok":false,"error":"..."}. The chart tests feed it every alert and dashboard expression.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error,omitempty"`
	Metrics []string `json:"metrics,omitempty"`
}

func check(expr string) result {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return result{Error: err.Error()}
	}
	seen := map[string]bool{}
	for _, sel := range parser.ExtractSelectors(e) {
		for _, m := range sel {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				seen[m.Value] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return result{OK: true, Metrics: names}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var expr string
		if err := json.Unmarshal(in.Bytes(), &expr); err != nil {
			fmt.Fprintln(os.Stderr, "input line is not a JSON string:", err)
			os.Exit(2)
		}
		if err := out.Encode(check(expr)); err != nil {
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
