package matrix

import (
	"context"
	"fmt"
)

// Engine returns the engine with the given name, or nil.
func (m *Matrix) Engine(name string) *Engine {
	return find(m.Engines, func(e *Engine) bool { return e.Name == name })
}

// BuildKit returns the BuildKit with the given name, or nil.
func (m *Matrix) BuildKit(name string) *BuildKit {
	return find(m.BuildKits, func(b *BuildKit) bool { return b.Name == name })
}

// Fixture returns the fixture with the given name, or nil.
func (m *Matrix) Fixture(name string) *Fixture {
	return find(m.Fixtures, func(f *Fixture) bool { return f.Name == name })
}

// Exporter returns the exporter with the given name, or nil.
func (m *Matrix) Exporter(name string) *Exporter {
	return find(m.Exporters, func(e *Exporter) bool { return e.Name == name })
}

// Pinned returns the pinned BuildKit (a loaded matrix has exactly one).
func (m *Matrix) Pinned() *BuildKit {
	return find(m.BuildKits, func(b *BuildKit) bool { return b.Pinned })
}

// Candidate returns the candidate BuildKit, or nil when there is none.
func (m *Matrix) Candidate() *BuildKit {
	return find(m.BuildKits, func(b *BuildKit) bool { return b.Candidate })
}

func find[T comparable](list []T, ok func(T) bool) T {
	var zero T
	for _, x := range list {
		if x != zero && ok(x) {
			return x
		}
	}
	return zero
}

// Resolver answers the newest version of a Go module, as the Go module
// proxy's "<module>/@latest" endpoint does. The provisioner
// supplies one; tests supply a fake.
type Resolver func(ctx context.Context, module string) (version string, err error)

// ResolveLatest asks resolve for the newest version of each "latest"
// BuildKit's offline module and records it in BuildKit.Resolved. The answer
// must be a release, vX.Y.Z. Cell names do not change (see BuildKit).
func (m *Matrix) ResolveLatest(ctx context.Context, resolve Resolver) error {
	for _, b := range m.BuildKits {
		if b == nil || !b.IsLatest() {
			continue
		}
		mod := DefaultBuildKitModule
		if b.Offline != nil && b.Offline.Module != "" {
			mod = b.Offline.Module
		}
		v, err := resolve(ctx, mod)
		if err != nil {
			return fmt.Errorf("resolve buildkit %s (%s@latest): %w", b.Name, mod, err)
		}
		if v == Latest || !validBuildKitVersion(v) {
			return fmt.Errorf("resolve buildkit %s (%s@latest): %q is not a version vX.Y.Z", b.Name, mod, v)
		}
		b.Resolved = v
	}
	return nil
}
