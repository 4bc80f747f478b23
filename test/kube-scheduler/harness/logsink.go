package harness

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"
)

// LogEntry is one structured log call made by scheduler code.
type LogEntry struct {
	Error   bool
	Level   int
	Message string
	Err     string
	// KV is the key/value pairs rendered as "k=v" (WithValues pairs first).
	KV string
}

func (e LogEntry) String() string {
	kind := "I"
	if e.Error {
		kind = "E"
	}
	return fmt.Sprintf("%s %q err=%q %s", kind, e.Message, e.Err, e.KV)
}

// LogRecorder keeps what the scheduler logs, so tests can assert that an extender failure was logged as an
// error (and how often a pod was retried) instead of scraping stderr.
type LogRecorder struct {
	mu      sync.Mutex
	entries []LogEntry
	// maxLevel is the highest V level recorded; the scheduler's V(4+) chatter is not needed and costs time.
	maxLevel int
}

// NewLogRecorder records Info calls up to V(maxLevel) and every Error call.
func NewLogRecorder(maxLevel int) *LogRecorder {
	return &LogRecorder{maxLevel: maxLevel}
}

// Logger returns a logr.Logger writing into the recorder.
func (r *LogRecorder) Logger() logr.Logger { return logr.New(&recordingSink{rec: r}) }

// Entries returns a copy of everything recorded so far.
func (r *LogRecorder) Entries() []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]LogEntry(nil), r.entries...)
}

// Count returns how many recorded entries satisfy match.
func (r *LogRecorder) Count(match func(LogEntry) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.entries {
		if match(e) {
			n++
		}
	}
	return n
}

func (r *LogRecorder) add(e LogEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
}

type recordingSink struct {
	rec    *LogRecorder
	name   string
	values []any
}

func (s *recordingSink) Init(logr.RuntimeInfo)  {}
func (s *recordingSink) Enabled(level int) bool { return level <= s.rec.maxLevel }

func (s *recordingSink) Info(level int, msg string, kv ...any) {
	s.rec.add(LogEntry{Level: level, Message: msg, KV: s.render(kv)})
}

func (s *recordingSink) Error(err error, msg string, kv ...any) {
	e := LogEntry{Error: true, Message: msg, KV: s.render(kv)}
	if err != nil {
		e.Err = err.Error()
	}
	s.rec.add(e)
}

func (s *recordingSink) WithValues(kv ...any) logr.LogSink {
	return &recordingSink{rec: s.rec, name: s.name, values: append(append([]any(nil), s.values...), kv...)}
}

func (s *recordingSink) WithName(name string) logr.LogSink {
	if s.name != "" {
		name = s.name + "/" + name
	}
	return &recordingSink{rec: s.rec, name: name, values: s.values}
}

func (s *recordingSink) render(kv []any) string {
	all := append(append([]any(nil), s.values...), kv...)
	var b strings.Builder
	if s.name != "" {
		b.WriteString("logger=" + s.name)
	}
	for i := 0; i+1 < len(all); i += 2 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%v=%v", all[i], all[i+1])
	}
	return b.String()
}
