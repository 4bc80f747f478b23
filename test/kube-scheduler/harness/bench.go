package harness

import (
	"os"
	"strconv"
	"strings"
)

// BenchMaxPending is how many pods the benchmarks keep created and not yet bound at once: enough to keep the
// scheduling queue busy, few enough that the fake API server's bookkeeping does not become the measurement.
const BenchMaxPending = 50

// LoadAvg1 is the machine's 1-minute load average (0 where /proc/loadavg is unreadable): the benchmarks record it
// with each case because the machine they run on is shared.
func LoadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
