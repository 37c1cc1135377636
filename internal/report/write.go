package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StepSummaryEnv names the file GitHub Actions shows as the job summary.
const StepSummaryEnv = "GITHUB_STEP_SUMMARY"

// stepSummaryLimit is GitHub's limit for the summary of one step (1 MiB).
const stepSummaryLimit = 1 << 20

// WriteJSON writes run, evaluated and with its results sorted, to path
// atomically: a temporary file in the same folder renamed over path, so a
// reader never sees half a file. The parent folder is created if needed.
func WriteJSON(path string, run Run) error {
	run = prepared(run)
	data, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	return atomicWrite(path, append(data, '\n'))
}

// ReadJSON reads a run written by WriteJSON (a shard, for Merge), with the
// known divergences it was judged with; set Known from the matrix file
// again to judge it by today's.
func ReadJSON(path string) (Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Run{}, fmt.Errorf("read results: %w", err)
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return Run{}, fmt.Errorf("decode results %s: %w", path, err)
	}
	return run, nil
}

// WriteMarkdownFile writes the Markdown summary to path atomically.
func WriteMarkdownFile(path string, run Run) error {
	return atomicWrite(path, renderMarkdown(run, false))
}

// AppendStepSummary appends the Markdown summary to the file named by
// $GITHUB_STEP_SUMMARY; it does nothing when the variable is unset. GitHub
// refuses a step summary above 1 MiB, so a summary that would not fit is
// written without its collapsed details, then cut at a section boundary
// with a note.
func AppendStepSummary(run Run) error {
	path := os.Getenv(StepSummaryEnv)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	var existing int64
	if st, err := f.Stat(); err == nil {
		existing = st.Size()
	}
	var out []byte
	if existing > 0 {
		out = append(out, '\n')
	}
	out = append(out, fitSummary(run, int(stepSummaryLimit-existing)-len(out))...)
	_, werr := f.Write(out)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	return nil
}

const cutNote = "\n> [!NOTE]\n> This summary was cut to fit GitHub's 1 MiB step-summary limit; the JSON results hold everything.\n"

// fitSummary renders the Markdown within limit bytes.
func fitSummary(run Run, limit int) []byte {
	full := renderMarkdown(run, false)
	if len(full) <= limit {
		return full
	}
	md := renderMarkdown(run, true)
	if len(md) <= limit {
		return md
	}
	room := limit - len(cutNote)
	if room <= 0 {
		return nil
	}
	cut := md[:room]
	if i := bytes.LastIndex(cut, []byte("\n## ")); i > 0 {
		cut = cut[:i+1]
	} else if i := bytes.LastIndex(cut, []byte("\n\n")); i > 0 {
		cut = cut[:i+1]
	} else {
		return nil
	}
	return append(cut, cutNote...)
}

// prepared returns run with sorted results and verdicts computed.
func prepared(run Run) Run {
	run.Verdicts = run.verdicts()
	run.Results = append([]CellResult(nil), run.Results...)
	sortResults(run.Results)
	if run.Wall == 0 {
		run.Wall = run.wallTime()
	}
	return run
}

// atomicWrite writes data to a temporary file next to path and renames it
// over path; on any error the temporary file is removed.
func atomicWrite(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
