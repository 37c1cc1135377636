package matrix

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Probe answers the version that the host's engine of a kind runs, e.g.
// "28.0.4" for docker. The suite asks the host's engine
// (engine.Host(ctx, kind).Version()); tests supply a fake.
type Probe func(ctx context.Context, kind EngineKind) (version string, err error)

// FoundError is an engine taken as found whose version could not be read:
// it keeps its name "<kind>-found".
type FoundError struct {
	Engine string // the name it keeps, e.g. "docker-found"
	Kind   EngineKind
	Err    error
}

func (e *FoundError) Error() string {
	return fmt.Sprintf("engine %s: read the version of the host's %s: %v", e.Engine, e.Kind, e.Err)
}

func (e *FoundError) Unwrap() error { return e.Err }

// FoundErrors is every FoundError of one ResolveFound, one a line.
type FoundErrors []*FoundError

func (f FoundErrors) Error() string { return oneALine(f) }

// ResolveFound asks probe, once per kind, for the version of each host
// engine taken as found (see Engine) and records it in Engine.Found. An
// engine with the default name "<kind>-found" is renamed
// "<kind>-<version>" ("-rootless" last, as for declared versions). When a
// declared host engine of the same kind has that name and version, the two
// are one engine: the found one takes the same name, and profiles that
// select both build its cells once (so a profile for runners names this
// machine's Docker as the local profile does). When another engine has the
// name, it becomes "<kind>-<version>-found". Engine.Version stays empty, so
// that starting the engine checks nothing.
//
// An engine whose probe fails, or answers a version that cannot be part of
// a name, keeps its name and stays unresolved; the error returned is then a
// FoundErrors naming each. The matrix is usable either way: expand it, and
// the unresolved engines' cells fail when their engine is started. Engines
// already resolved are left as they are.
func (m *Matrix) ResolveFound(ctx context.Context, probe Probe) error {
	answers := map[EngineKind]string{}
	failures := map[EngineKind]error{}
	var errs FoundErrors
	for _, e := range m.Engines {
		if e == nil || !e.Unresolved() {
			continue
		}
		if _, asked := answers[e.Kind]; !asked {
			answers[e.Kind], failures[e.Kind] = askVersion(ctx, probe, e.Kind)
		}
		err := failures[e.Kind]
		if err == nil {
			err = m.resolveEngine(e, answers[e.Kind])
		}
		if err != nil {
			errs = append(errs, &FoundError{Engine: e.Name, Kind: e.Kind, Err: err})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// askVersion runs probe and checks that its answer can be part of a name.
func askVersion(ctx context.Context, probe Probe, kind EngineKind) (string, error) {
	v, err := probe(ctx, kind)
	switch {
	case err != nil:
		return "", err
	case v == "" || v == VersionFound || !nameRE.MatchString(v):
		return "", fmt.Errorf("the engine reports version %q: want one such as 28.0.4", v)
	}
	return v, nil
}

// resolveEngine records version v as found for e, renaming e unless its
// name was set in the file.
func (m *Matrix) resolveEngine(e *Engine, v string) error {
	unresolved := e.defaultName(VersionFound)
	if e.Name != "" && e.Name != unresolved {
		e.Found = v
		return nil
	}
	if d := m.Engine(e.defaultName(v)); d != nil && sameHostEngine(d, e, v) {
		e.Name, e.unresolved, e.Found = d.Name, unresolved, v
		return nil
	}
	for _, name := range []string{e.defaultName(v), e.defaultName(v + "-found")} {
		if m.Engine(name) == nil {
			e.Name, e.unresolved, e.Found = name, unresolved, v
			return nil
		}
	}
	return errors.New("found " + v + ", but other engines have the names it would take")
}

// mayNameFound reports whether the engine glob g could match the name of
// some version of an engine taken as found under its default name:
// "docker-28.*" or "docker-2[89].*" for a found docker.
func (m *Matrix) mayNameFound(g string) bool {
	literal, isGlob := g, false
	if i := strings.IndexAny(g, `*?[\`); i >= 0 {
		literal, isGlob = g[:i], true
	}
	for _, e := range m.Engines {
		if e == nil || !e.AsFound || (e.Name != e.defaultName(VersionFound) && e.unresolved == "") {
			continue
		}
		prefix := string(e.Kind) + "-"
		if strings.HasPrefix(literal, prefix) || isGlob && strings.HasPrefix(prefix, literal) {
			return true
		}
	}
	return false
}

// sameHostEngine reports whether declared is the host engine that found,
// found at version v, also is: same kind and mode, declared at v.
func sameHostEngine(declared, found *Engine, v string) bool {
	return declared != found && declared.Where == Host && found.Where == Host && !declared.AsFound &&
		declared.Kind == found.Kind && declared.Rootless == found.Rootless && declared.Buildx == found.Buildx &&
		declared.CLI == found.CLI && declared.Version == v
}
