// Package progress prints what a long run is doing while it does it: each
// step when it starts and ends, with its duration, and a line every
// Heartbeat while a step goes on, so that no step is silent for long
// (a newcomer must be able to tell work from a hang).
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Heartbeat is how often a step that goes on says so.
var Heartbeat = 20 * time.Second

// Log writes progress lines to W (nil discards them). It is safe for
// concurrent use; lines are written whole.
type Log struct {
	W      io.Writer
	Prefix string // e.g. "prepare: "
	mu     sync.Mutex
}

// Printf writes one line.
func (l *Log) Printf(format string, args ...any) {
	if l == nil || l.W == nil {
		return
	}
	line := l.Prefix + fmt.Sprintf(format, args...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.W, line)
}

// Step prints "<what> ..." now, "<what>: still going (40s)" every Heartbeat
// until the returned function is called, and then "<what>: done in 1m3s" or
// "<what>: failed after 3s: <err>". The returned function takes the step's
// error and returns it unchanged, so it can end a step in a return.
func (l *Log) Step(what string) func(error) error {
	start := time.Now()
	l.Printf("%s ...", what)
	stop := l.Beat(what)
	return func(err error) error {
		stop()
		if err != nil {
			l.Printf("%s: failed after %s: %v", what, Round(time.Since(start)), firstLine(err.Error()))
		} else {
			l.Printf("%s: done in %s", what, Round(time.Since(start)))
		}
		return err
	}
}

// Beat prints only "<what>: still going (40s)" every Heartbeat until the
// returned function is called: for work whose start and end are reported
// otherwise, or not at all.
func (l *Log) Beat(what string) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				l.Printf("%s: still going (%s)", what, Round(time.Since(start)))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// Round rounds a duration for people: tenths of a second below a minute,
// whole seconds above.
func Round(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func firstLine(s string) string {
	if line, _, more := strings.Cut(s, "\n"); more {
		return line + " …"
	}
	return s
}
