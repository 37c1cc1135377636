package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// GitPrefix is where a registry started with a git root serves its
// repositories: http://ADDR/git/NAME.git.
const GitPrefix = "/git/"

// gitHandler serves the bare repositories under root over git's smart
// HTTP protocol, through git-http-backend as a CGI program (git-http-backend(1)):
// BuildKit fetches with --depth=1, which the dumb protocol cannot serve.
func gitHandler(ctx context.Context, root string) (http.Handler, error) {
	out, err := exec.CommandContext(ctx, "git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w (git serves the fixtures' git contexts)", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("git-http-backend: %w", err)
	}
	return &cgi.Handler{Path: backend, Root: strings.TrimSuffix(GitPrefix, "/"),
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}, nil
}

// withGit routes GitPrefix to the git handler and the rest to h.
func withGit(h, git http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(GitPrefix, git)
	mux.Handle("/", h)
	return mux
}

// CommitRepo makes root/NAME.git, a bare repository holding one commit of
// every file of dir on branch main, authored and committed by repro-matrix
// at epoch (seconds since the Unix epoch): the same files give the same
// commit. It returns the commit's id.
func CommitRepo(ctx context.Context, root, name, dir string, epoch int64) (string, error) {
	bare := filepath.Join(root, name+".git")
	date := strconv.FormatInt(epoch, 10) + " +0000"
	env := append(os.Environ(), "GIT_AUTHOR_NAME=repro-matrix", "GIT_AUTHOR_EMAIL=repro-matrix@localhost",
		"GIT_COMMITTER_NAME=repro-matrix", "GIT_COMMITTER_EMAIL=repro-matrix@localhost",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return strings.TrimSpace(string(out)), nil
	}
	tree := []string{"--git-dir=" + bare, "--work-tree=" + dir}
	for _, args := range [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=main", bare},
		append(tree, "add", "--all"),
		append(tree, "commit", "--quiet", "--no-gpg-sign", "-m", name),
	} {
		if _, err := run(args...); err != nil {
			return "", err
		}
	}
	return run("--git-dir="+bare, "rev-parse", "HEAD")
}

// serveTimeout bounds one git request.
const serveTimeout = 2 * time.Minute
