package progress

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStepHeartbeatAndEnd(t *testing.T) {
	old := Heartbeat
	Heartbeat = 10 * time.Millisecond
	defer func() { Heartbeat = old }()
	var buf syncBuffer
	l := &Log{W: &buf, Prefix: "prepare: "}
	done := l.Step("BuildKit v0.19.0")
	time.Sleep(55 * time.Millisecond)
	if err := done(nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "prepare: BuildKit v0.19.0 ...\n") {
		t.Errorf("no start line: %q", out)
	}
	if n := strings.Count(out, "still going"); n < 2 {
		t.Errorf("want heartbeats while the step goes on, got %d: %q", n, out)
	}
	if !strings.Contains(out, "prepare: BuildKit v0.19.0: done in ") {
		t.Errorf("no end line: %q", out)
	}
	time.Sleep(30 * time.Millisecond)
	if strings.Count(buf.String(), "\n") != strings.Count(out, "\n") {
		t.Errorf("heartbeats after the step ended: %q", buf.String())
	}
}

func TestStepFailureKeepsError(t *testing.T) {
	var buf syncBuffer
	l := &Log{W: &buf}
	want := errors.New("module refused\nsecond line")
	if got := l.Step("pull")(want); got != want {
		t.Fatalf("Step's end returned %v, want the step's error", got)
	}
	if !strings.Contains(buf.String(), "pull: failed after ") || !strings.Contains(buf.String(), "module refused …") {
		t.Errorf("failure line: %q", buf.String())
	}
}

func TestNilLogIsSilent(t *testing.T) {
	var l *Log
	l.Printf("nothing")
	(&Log{}).Step("x")(nil)
}
