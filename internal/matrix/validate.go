package matrix

import (
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/repro-matrix/repro-matrix/internal/cell"
	"github.com/repro-matrix/repro-matrix/internal/epoch"
)

var (
	// nameRE is what names may look like: they appear in cell names
	// (separated by "/" and "="), in Ginkgo labels (which forbid &|!,()/)
	// and in field paths.
	nameRE          = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	engineVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)
	buildArgRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	debianSuites    = []string{"bookworm", "trixie", "forky", "sid"}
	compressions    = []string{"gzip", "zstd", "estargz", "uncompressed"}
)

// Validate checks a matrix that is already loaded, for example after a
// caller changed it, and returns every problem as a ValidationErrors (nil
// when there is none). Unlike Load it does not read golden.yaml again, and
// its problems carry no line numbers. A matrix whose profiles take more
// cell checks than its limits allow (Limits.Cells, as Load had them) is a
// problem at "profiles", and its profiles are not expanded.
func (m *Matrix) Validate() error {
	p := &problems{lines: map[string]int{}}
	m.validate(p, false)
	if len(p.errs) > 0 {
		return p.sorted()
	}
	return nil
}

// validate checks everything, reading the goldens files first when
// readGoldens is set.
//
// Profiles and known divergences name entries of the other lists. When an
// entry's name is unknown because of a problem already reported (a list
// that is empty or of the wrong shape, an empty entry, a name that is
// missing, or a value its default name is made of that was dropped while
// decoding), a reference that finds no entry is not reported: the first
// problem may have made it up.
func (m *Matrix) validate(p *problems, readGoldens bool) {
	m.incomplete = nil
	m.validateEngines(p)
	m.validateBuildKits(p)
	m.validateFixtures(p, readGoldens)
	m.validateExporters(p)
	m.incomplete = map[cell.Axis]bool{
		cell.Engine:   p.dropped("engines", "name", "kind", "version", "rootless", "store", "buildx") || unnamed(m.Engines, func(e *Engine) string { return e.Name }),
		cell.BuildKit: p.dropped("buildkits", "name", "version") || unnamed(m.BuildKits, func(b *BuildKit) string { return b.Name }),
		cell.Fixture:  p.dropped("fixtures", "name") || unnamed(m.Fixtures, func(f *Fixture) string { return f.Name }),
		cell.Platform: p.dropped("fixtures", "platforms") || len(m.Fixtures) == 0 || slices.Contains(m.Fixtures, nil),
		cell.Exporter: p.dropped("exporters", "name") || unnamed(m.Exporters, func(e *Exporter) string { return e.Name }),
	}
	m.validateProfiles(p)
	m.validateKnownDivergences(p)
	m.incomplete = nil
}

// unnamed reports whether list is empty or holds an entry without a name
// (an empty entry, or one whose name is missing or could not be made).
func unnamed[T any](list []*T, name func(*T) string) bool {
	return len(list) == 0 || slices.ContainsFunc(list, func(x *T) bool { return x == nil || name(x) == "" })
}

// anyIncomplete reports whether some list's names may be incomplete (see
// validate).
func (m *Matrix) anyIncomplete() bool {
	for _, v := range m.incomplete {
		if v {
			return true
		}
	}
	return false
}

// unique reports a problem at field when name was already used at another
// index of the same list.
func unique(p *problems, seen map[string]string, list, field, noun, name string) {
	if first, dup := seen[name]; dup {
		hint := ""
		if noun == "engine" {
			hint = "; names default to <kind>-<version>: set name to tell the engines apart"
		}
		p.add(field, "duplicate %s name %q (also %s)%s", noun, name, first, hint)
		return
	}
	seen[name] = list
}

func checkName(p *problems, field, name, what string) bool {
	switch {
	case name == "":
		p.add(field, "required")
	case !nameRE.MatchString(name):
		p.add(field, "%s %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", what, name)
	default:
		return true
	}
	return false
}

func (m *Matrix) validateEngines(p *problems) {
	if len(m.Engines) == 0 {
		p.add("engines", "at least one engine is required")
	}
	seen := map[string]string{}
	for i, e := range m.Engines {
		f := fmt.Sprintf("engines[%d]", i)
		if e == nil {
			p.add(f, "empty entry")
			continue
		}
		switch e.Kind {
		case "":
			p.add(f+".kind", "required (docker or podman)")
		case Docker, Podman:
		default:
			p.add(f+".kind", "%q: want docker or podman", e.Kind)
		}
		versionOK := checkEngineVersion(p, f+".version", e)
		if e.Name != "" || (e.Kind != "" && (e.Version != "" || e.AsFound)) {
			if checkName(p, f+".name", e.Name, "engine name") {
				unique(p, seen, f, f+".name", "engine", e.Name)
			}
		}
		switch e.Where {
		case Host:
			if e.Image != "" {
				p.add(f+".image", "only container engines have an image (where: host)")
			}
			if e.Offline != nil {
				p.add(f+".offline", "only container engines are provisioned offline (where: host)")
			}
		case Container:
			switch {
			case e.Offline == nil:
				p.add(f+".offline", "required for a container engine: {suite: trixie}, the Debian suite to install %s from", e.Kind)
			case e.Offline.Suite == "":
				p.add(f+".offline.suite", "required (one of %s)", strings.Join(debianSuites, ", "))
			case !slices.Contains(debianSuites, e.Offline.Suite):
				p.add(f+".offline.suite", "%q: want one of %s", e.Offline.Suite, strings.Join(debianSuites, ", "))
			}
		default:
			p.add(f+".where", "%q: want host or container", e.Where)
		}
		if e.Image != "" && e.Where == Container {
			checkEngineImage(p, f+".image", e, versionOK)
		}
		checkEngineParts(p, f, e)
	}
}

// checkEngineParts checks what only some engines have: an image store,
// a client of their own, a daemon built from a Go module.
func checkEngineParts(p *problems, f string, e *Engine) {
	switch e.Store {
	case "":
	case StoreContainerd, StoreClassic:
		if e.Kind != Docker || e.Where != Container {
			p.add(f+".store", "only Docker in a container (where: container) runs with a declared image store")
		}
	default:
		p.add(f+".store", "%q: want %s or %s", e.Store, StoreContainerd, StoreClassic)
	}
	for _, c := range []struct{ field, v, example string }{{"buildx", e.Buildx, "v0.38.2"}, {"cli", e.CLI, "v29.8.1"}} {
		switch {
		case c.v == "":
		case e.Kind != Docker:
			p.add(f+"."+c.field, "only Docker engines take a %s of their own", c.field)
		case !semver.IsValid(c.v) || semver.Prerelease(c.v) != "" || semver.Canonical(c.v) != c.v:
			p.add(f+"."+c.field, "%q: want a release such as %s", c.v, c.example)
		}
	}
	if e.Offline == nil || e.Offline.Module == "" {
		return
	}
	mod, version, ok := strings.Cut(e.Offline.Module, "@")
	switch {
	case e.Kind != Docker:
		p.add(f+".offline.module", "only Docker's daemon is built from a Go module")
	case !ok || mod == "" || !semver.IsValid(version):
		p.add(f+".offline.module", "%q: want module@version, e.g. github.com/moby/moby/v2@v2.0.0-beta.24", e.Offline.Module)
	case e.Offline.Package != "":
		p.add(f+".offline.package", "a daemon built from a Go module installs no %s package: set module or package", e.Offline.Package)
	}
}

// checkEngineVersion checks a declared version, or that only host engines
// are taken as found; it reports whether a declared version is sound.
func checkEngineVersion(p *problems, field string, e *Engine) bool {
	switch {
	case e.AsFound && e.Version != "":
		p.add(field, "%q is taken as found and declared %s: set one", e.Name, e.Version)
	case e.AsFound && e.Where == Container:
		p.add(field, "%q is for host engines only (where: host): an engine in a container runs the version its image or Debian suite carries; declare it, e.g. 28.5.2", VersionFound)
	case e.AsFound:
	case e.Version == "":
		p.add(field, "required: a plain version such as 20.10.24, or %q for a host engine taken as the host runs it", VersionFound)
	case !engineVersionRE.MatchString(e.Version):
		p.add(field, "%q: want a plain version such as 20.10.24, or %q for a host engine", e.Version, VersionFound)
	default:
		return true
	}
	return false
}

func checkEngineImage(p *problems, field string, e *Engine, versionOK bool) {
	ref, err := ParseImageRef(e.Image)
	if err != nil {
		p.add(field, "%v", err)
		return
	}
	if !ref.Pinned() {
		p.add(field, "%q is not pinned: append @sha256:<64 hex> (the digest of the image)", e.Image)
	}
	if ref.Tag == "" {
		p.add(field, "%q has no tag: name the version in it, e.g. %s:%s", e.Image, ref.Repository, e.Version)
		return
	}
	if !versionOK {
		return
	}
	t := strings.TrimPrefix(ref.Tag, "v")
	if t != e.Version && !strings.HasPrefix(t, e.Version+"-") {
		p.add(field, "tag %q disagrees with version %s (want %s, v%s or either with a -suffix)", ref.Tag, e.Version, e.Version, e.Version)
	}
}

func validBuildKitVersion(v string) bool {
	return v == Latest || (semver.IsValid(v) && semver.Canonical(v) == v)
}

func (m *Matrix) validateBuildKits(p *problems) {
	if len(m.BuildKits) == 0 {
		p.add("buildkits", "at least one BuildKit is required")
	}
	seen := map[string]string{}
	var pinned, candidates []string
	for i, b := range m.BuildKits {
		f := fmt.Sprintf("buildkits[%d]", i)
		if b == nil {
			p.add(f, "empty entry")
			continue
		}
		if b.IsLadder() {
			checkLadder(p, f, b)
			continue
		}
		versionOK := false
		switch {
		case b.Version == "":
			p.add(f+".version", "required (vX.Y.Z or latest)")
		case !validBuildKitVersion(b.Version):
			p.add(f+".version", "%q: want vX.Y.Z (e.g. v0.19.0) or latest", b.Version)
		default:
			versionOK = true
		}
		if b.Name != "" {
			if checkName(p, f+".name", b.Name, "BuildKit name") {
				unique(p, seen, f, f+".name", "BuildKit", b.Name)
			}
		}
		if b.Pinned {
			pinned = append(pinned, f)
			if len(pinned) > 1 {
				p.add(f+".pinned", "%s is pinned already; exactly one BuildKit is pinned", pinned[0])
			}
			if b.IsLatest() {
				p.add(f+".pinned", "latest cannot be pinned: pin a release")
			}
			if b.Image == "" {
				p.add(f+".image", "required for the pinned BuildKit: moby/buildkit:%s@sha256:<64 hex>", b.Version)
			}
		}
		if b.Candidate {
			candidates = append(candidates, f)
			switch {
			case len(candidates) > 1:
				p.add(f+".candidate", "%s is the candidate already; at most one BuildKit is", candidates[0])
			case b.Pinned:
				p.add(f+".candidate", "the pinned BuildKit cannot be its own candidate")
			case b.IsLatest():
				p.add(f+".candidate", "latest cannot be the candidate: name a release")
			}
		}
		if b.Image != "" {
			checkBuildKitImage(p, f+".image", b.Image, b, versionOK, false)
		}
		if b.RootlessImage != "" {
			checkBuildKitImage(p, f+".rootlessImage", b.RootlessImage, b, versionOK, true)
		}
		if b.Offline != nil {
			if err := module.CheckPath(b.Offline.Module); err != nil {
				p.add(f+".offline.module", "%v", err)
			}
			if versionOK && b.Offline.Version != b.Version {
				p.add(f+".offline.version", "%q disagrees with version %s: build the version the entry declares", b.Offline.Version, b.Version)
			}
		}
	}
	if len(m.BuildKits) > 0 && len(pinned) == 0 {
		p.add("buildkits", "no BuildKit is pinned: mark exactly one with pinned: true")
	}
}

// checkBuildKitImage checks the image of BuildKit b, or of its rootless
// variant: a well-formed reference, pinned by digest for the pinned
// BuildKit, its tag naming b's version ("-rootless" after it for the
// variant, as moby/buildkit tags them).
func checkBuildKitImage(p *problems, field, image string, b *BuildKit, versionOK, rootless bool) {
	ref, err := ParseImageRef(image)
	if err != nil {
		p.add(field, "%v", err)
		return
	}
	if b.Pinned && !ref.Pinned() {
		p.add(field, "%q is not pinned: the pinned BuildKit needs @sha256:<64 hex>", image)
	}
	if !versionOK {
		return
	}
	want := b.Version
	if rootless {
		want = rootlessTag(b.Version)
	}
	switch {
	case ref.Tag == "" && b.Pinned:
		p.add(field, "%q has no tag: the pinned BuildKit's tag must name its version (%s:%s@%s)", image, ref.Repository, want, ref.Digest)
	case ref.Tag != "" && ref.Tag != want && !rootless && strings.HasSuffix(ref.Tag, "-rootless"):
		p.add(field, "tag %q is a rootless variant: it goes in rootlessImage, which rootless engines run", ref.Tag)
	case ref.Tag != "" && ref.Tag != want:
		p.add(field, "tag %q disagrees with version %s (want tag %s)", ref.Tag, b.Version, want)
	}
}

func (m *Matrix) validateFixtures(p *problems, readGoldens bool) {
	if len(m.Fixtures) == 0 {
		p.add("fixtures", "at least one fixture is required")
	}
	seen := map[string]string{}
	exporters := m.exporterNames()
	for i, fx := range m.Fixtures {
		if m.ctx != nil && m.ctx.Err() != nil {
			return // LoadContext has returned already
		}
		f := fmt.Sprintf("fixtures[%d]", i)
		if fx == nil {
			p.add(f, "empty entry")
			continue
		}
		if checkName(p, f+".name", fx.Name, "fixture name") {
			unique(p, seen, f, f+".name", "fixture", fx.Name)
		}
		dirOK := fx.Dir != "" && checkFixtureDir(p, f, fx)
		checkFixtureBase(p, f, fx)
		platformsOK := checkFixturePlatforms(p, f, fx)
		checkBuildArgs(p, f, fx)
		checkFixtureEpoch(p, f, fx)
		checkVary(p, f+".vary", fx.Vary)
		if fx.Git {
			if len(fx.Vary) > 0 {
				p.add(f+".vary", "a git context ignores the checkout that variations change")
			}
			if filepath.Base(fx.Dockerfile) != "Dockerfile" || filepath.Dir(fx.Dockerfile) != fx.Dir {
				p.add(f+".dockerfile", "a git context brings its Dockerfile: dir/Dockerfile")
			}
		}
		if readGoldens && dirOK { // else the folder's problem says enough
			m.loadGoldens(p, i, fx)
		}
		checkGoldenKeys(p, f, fx, platformsOK, exporters)
	}
}

// exporterNames is the set of the exporters' names, or nil when an entry
// is broken: a golden key's exporter may then be that entry's.
func (m *Matrix) exporterNames() map[string]bool {
	names := map[string]bool{}
	for _, e := range m.Exporters {
		if e == nil || e.Name == "" {
			return nil
		}
		names[e.Name] = true
	}
	return names
}

// checkFixturePlatforms checks each platform and that none is listed twice;
// it reports whether every platform parses.
func checkFixturePlatforms(p *problems, f string, fx *Fixture) bool {
	ok, seen := true, map[string]bool{}
	for j, pl := range fx.Platforms {
		pf := fmt.Sprintf("%s.platforms[%d]", f, j)
		if _, err := cell.ParsePlatforms(pl); err != nil {
			p.add(pf, "%v", err)
			ok = false
			continue
		}
		if cell.IsSet(pl) && fx.Base != nil {
			p.add(pf, "platform set %s: a set builds FROM scratch here (a base would have to be an index of every platform); drop base or the set", pl)
		}
		if seen[pl] {
			p.add(pf, "duplicate platform %s", pl)
		}
		seen[pl] = true
	}
	return ok
}

func checkBuildArgs(p *problems, f string, fx *Fixture) {
	for _, k := range slices.Sorted(maps.Keys(fx.BuildArgs)) {
		switch {
		case k == "SOURCE_DATE_EPOCH":
			p.add(f+".buildArgs."+k, "set sourceDateEpoch or datetime instead")
		case k == BaseImageArg:
			p.add(f+".buildArgs."+k, "set base instead")
		case !buildArgRE.MatchString(k):
			p.add(f+".buildArgs."+k, "%q is not a build argument name", k)
		}
	}
}

// checkFixtureEpoch checks that exactly one of sourceDateEpoch and datetime
// is set, and that it is not before 1970.
func checkFixtureEpoch(p *problems, f string, fx *Fixture) {
	switch {
	case fx.SourceDateEpoch != nil && fx.Datetime != "":
		p.add(f+".datetime", "sourceDateEpoch is set too: set exactly one")
	case fx.SourceDateEpoch == nil && fx.Datetime == "":
		p.add(f+".sourceDateEpoch", "required: set sourceDateEpoch (seconds) or datetime (ISO 8601)")
	case fx.SourceDateEpoch != nil && *fx.SourceDateEpoch < 0:
		p.add(f+".sourceDateEpoch", "%d: must be 0 or more", *fx.SourceDateEpoch)
	case fx.Datetime != "":
		t, err := epoch.ParseDatetime(fx.Datetime)
		switch {
		case err != nil:
			p.add(f+".datetime", "%v", err)
		case t.Unix() < 0:
			p.add(f+".datetime", "%q is before 1970", fx.Datetime)
		case t.Nanosecond() != 0:
			// SOURCE_DATE_EPOCH is whole seconds: nothing is truncated.
			p.add(f+".datetime", "%q has a fraction of a second: SOURCE_DATE_EPOCH counts whole seconds", fx.Datetime)
		}
	}
}

// checkGoldenKeys checks that every golden key names one of the fixture's
// platforms (when they all parse) and an exporter (exporters nil: cannot
// tell).
func checkGoldenKeys(p *problems, f string, fx *Fixture, platformsOK bool, exporters map[string]bool) {
	for _, key := range slices.Sorted(maps.Keys(fx.Goldens)) {
		platform, exporter := cell.SplitGoldenKey(key)
		gf := fmt.Sprintf("%s.goldens[%s]", f, key)
		switch {
		case platformsOK && !slices.Contains(fx.Platforms, platform):
			p.addLine(gf, -1, "%s: platform %q is not one of the fixture's platforms (%s)", fx.GoldensFile, platform, strings.Join(fx.Platforms, ", "))
		case exporters != nil && !exporters[exporter]:
			p.addLine(gf, -1, "%s: no exporter is named %q", fx.GoldensFile, exporter)
		}
	}
}

// checkFixtureDir checks the fixture's folder and Dockerfile; it reports
// whether the folder is one.
func checkFixtureDir(p *problems, f string, fx *Fixture) bool {
	st, err := os.Stat(fx.Dir)
	switch {
	case os.IsNotExist(err):
		p.add(f+".dir", "folder %s does not exist", fx.Dir)
		return false
	case err != nil:
		p.add(f+".dir", "%v", err)
		return false
	case !st.IsDir():
		p.add(f+".dir", "%s is not a folder", fx.Dir)
		return false
	}
	field := f + ".dockerfile"
	if fx.Dockerfile == filepath.Join(fx.Dir, "Dockerfile") {
		field = f + ".dir" // the default: the folder lacks its Dockerfile
	}
	st, err = os.Stat(fx.Dockerfile)
	switch {
	case os.IsNotExist(err):
		p.add(field, "%s has no Dockerfile (%s)", fx.Dir, fx.Dockerfile)
	case err != nil:
		p.add(field, "%v", err)
	case st.IsDir():
		p.add(field, "%s is a folder, not a Dockerfile", fx.Dockerfile)
	case !st.Mode().IsRegular():
		p.add(field, "%s is not a regular file (%s)", fx.Dockerfile, st.Mode().Type())
	}
	return true
}

var baseImageArgRE = regexp.MustCompile(`(?m)^\s*ARG\s+` + BaseImageArg + `\b`)

// dockerfileHead is how much of a Dockerfile is read to find ARG
// BASE_IMAGE, which comes before the FROM that uses it.
const dockerfileHead = 1 << 20

// readDockerfileHead reads the first dockerfileHead bytes of a Dockerfile
// that is a regular file (nil otherwise: checkFixtureDir reports it).
func readDockerfileHead(file string) []byte {
	if st, err := os.Stat(file); err != nil || !st.Mode().IsRegular() {
		return nil // opening a FIFO would block
	}
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, dockerfileHead))
	return data
}

// debianPackageRE is a Debian package name: lower case letters, digits,
// "+", "-" and ".", at least two characters, starting with a letter or
// digit (Debian Policy 5.6.1).
var debianPackageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

func checkFixtureBase(p *problems, f string, fx *Fixture) {
	if fx.Base == nil {
		if data := readDockerfileHead(fx.Dockerfile); baseImageArgRE.Match(data) {
			p.add(f+".base", "required: the Dockerfile declares ARG %s; set {suite: bookworm} (and an upstream image if wanted)", BaseImageArg)
		}
		return
	}
	switch {
	case fx.Base.Suite == "":
		p.add(f+".base.suite", "required (one of %s)", strings.Join(debianSuites, ", "))
	case !slices.Contains(debianSuites, fx.Base.Suite):
		p.add(f+".base.suite", "%q: want one of %s", fx.Base.Suite, strings.Join(debianSuites, ", "))
	}
	for i, pkg := range fx.Base.Packages {
		switch {
		case !debianPackageRE.MatchString(pkg):
			p.add(fmt.Sprintf("%s.base.packages[%d]", f, i), "%q: not a Debian package name (Debian Policy 5.6.1)", pkg)
		case slices.Contains(fx.Base.Packages[:i], pkg):
			p.add(fmt.Sprintf("%s.base.packages[%d]", f, i), "%s is listed twice", pkg)
		}
	}
	if len(fx.Base.Packages) > 0 && fx.Base.Image != "" {
		p.add(f+".base.image", "an upstream image lacks the packages: set image or packages")
	}
	if fx.Base.Image != "" {
		ref, err := ParseImageRef(fx.Base.Image)
		switch {
		case err != nil:
			p.add(f+".base.image", "%v", err)
		case !ref.Pinned():
			p.add(f+".base.image", "%q is not pinned: append @sha256:<64 hex>", fx.Base.Image)
		}
	}
}

func (m *Matrix) validateExporters(p *problems) {
	if len(m.Exporters) == 0 {
		p.add("exporters", "at least one exporter is required")
	}
	seen := map[string]string{}
	for i, e := range m.Exporters {
		f := fmt.Sprintf("exporters[%d]", i)
		if e == nil {
			p.add(f, "empty entry")
			continue
		}
		if checkName(p, f+".name", e.Name, "exporter name") {
			unique(p, seen, f, f+".name", "exporter", e.Name)
		}
		switch e.Type {
		case "":
			p.add(f+".type", "required (docker or oci)")
		case DockerExporter, OCIExporter:
		default:
			p.add(f+".type", "%q: want docker or oci", e.Type)
		}
		if e.Compression != "" && !slices.Contains(compressions, e.Compression) {
			p.add(f+".compression", "%q: want one of %s", e.Compression, strings.Join(compressions, ", "))
		}
	}
}

func (m *Matrix) validateProfiles(p *problems) {
	if len(m.Profiles) == 0 {
		p.add("profiles", "at least one profile is required")
	}
	if limit := m.limits.orDefault().Cells; m.cellChecks() > int64(limit) {
		p.add("profiles", "expanding every profile takes %d cell checks, more than the limit of %d (cells; %s)", m.cellChecks(), limit, LimitsEnv)
		return
	}
	for _, name := range m.ProfileNames() {
		f := "profiles." + name
		pr := m.Profiles[name]
		checkName(p, f, name, "profile name")
		if pr == nil {
			continue
		}
		if pr.Procs < 0 {
			p.add(f+".procs", "%d: must be 0 or more", pr.Procs)
		}
		checkVary(p, f+".vary", pr.Vary)
		cells, errs := m.expand(pr)
		ladder := false // a name may be a rung of a ladder not resolved yet
		for _, e := range errs {
			if e.ladder {
				ladder = true
				continue
			}
			p.add(fmt.Sprintf("%s.%s[%d]", f, e.list, e.index), "%s", e.msg)
		}
		if len(errs) == 0 && len(cells) == 0 && !m.anyIncomplete() && !ladder {
			p.add(f, "%v", ErrEmptyExpansion)
		}
	}
}

func (m *Matrix) validateKnownDivergences(p *problems) {
	now := time.Now
	if m.now != nil {
		now = m.now
	}
	today := now().UTC().Format(DateLayout)
	for i, k := range m.KnownDivergences {
		f := fmt.Sprintf("knownDivergences[%d]", i)
		if k == nil {
			p.add(f, "empty entry")
			continue
		}
		if k.Cells == "" {
			p.add(f+".cells", "required: a cell pattern such as engine=podman-*/exporter=oci")
		} else if pat, err := m.parseKnownPattern(k.Cells); err != nil {
			p.add(f+".cells", "%v", err)
		} else {
			k.pattern = &pat
		}
		if k.Variations != nil && len(k.Variations) == 0 {
			p.add(f+".variations", "empty: name the variations it acknowledges (%s), or leave the field out", strings.Join(Variations, ", "))
		}
		checkVary(p, f+".variations", k.Variations)
		if strings.TrimSpace(k.Reason) == "" {
			p.add(f+".reason", "required: why the cells differ")
		}
		if k.Link == "" {
			p.add(f+".link", "required: the upstream issue or pull request")
		} else if u, err := url.Parse(k.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.add(f+".link", "%q: want an http(s) URL", k.Link)
		}
		switch d, err := time.Parse(DateLayout, k.Expires); {
		case k.Expires == "":
			p.add(f+".expires", "required: YYYY-MM-DD, when to look at the divergence again")
		case err != nil:
			p.add(f+".expires", "%q: want YYYY-MM-DD", k.Expires)
		case d.Format(DateLayout) < today:
			p.add(f+".expires", "expired on %s (today is %s): look at the divergence again, then extend or remove it", k.Expires, today)
		}
	}
}
