package imagediff_test

import (
	"archive/tar"
	"fmt"
	"math/rand"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	it "github.com/repro-matrix/repro-matrix/internal/oci/ocitest"
)

// genLayers makes random layers over a small tree: files, folders, symlinks,
// whiteouts, opaque markers, paths listed twice in a layer, and hard links
// (chains and stars, in the last layer, to files of that layer).
func genLayers(r *rand.Rand) [][]it.Entry {
	dirs := []string{"a", "a/b", "c"}
	files := []string{"a/f", "a/g", "a/b/h", "c/i", "j"}
	stamp := func() time.Time { return it.Epoch.Add(time.Duration(r.Intn(3)) * time.Hour) }
	file := func(p string) it.Entry {
		return it.File(p, fmt.Sprintf("%s-%d", p, r.Intn(3))).With(func(h *tar.Header) {
			h.ModTime, h.Mode, h.Uid = stamp(), []int64{0o644, 0o600, 0o755}[r.Intn(3)], r.Intn(2)
		})
	}
	// withParents lists a path's folders first, as layer writers do.
	withParents := func(e it.Entry) []it.Entry {
		var out []it.Entry
		for d := path.Dir(e.Header.Name); d != "."; d = path.Dir(d) {
			out = append([]it.Entry{it.Dir(d + "/")}, out...)
		}
		return append(out, e)
	}
	var layers [][]it.Entry
	base := []it.Entry{}
	for _, d := range dirs {
		base = append(base, it.Dir(d+"/"))
	}
	for _, f := range files {
		base = append(base, file(f))
	}
	layers = append(layers, base)
	for n := 1 + r.Intn(3); n > 0; n-- {
		var es []it.Entry
		for k := 1 + r.Intn(6); k > 0; k-- {
			switch r.Intn(6) {
			case 0:
				p := slices.Concat(dirs, files)[r.Intn(len(dirs)+len(files))]
				es = append(es, it.File(path.Join(path.Dir(p), ".wh."+path.Base(p)), "").With(func(h *tar.Header) { h.ModTime = stamp() }))
			case 1:
				es = append(es, it.File(dirs[r.Intn(len(dirs))]+"/.wh..wh..opq", ""))
			case 2:
				es = append(es, it.Dir(dirs[r.Intn(len(dirs))]+"/").With(func(h *tar.Header) { h.ModTime = stamp() }))
			case 3:
				p := files[r.Intn(len(files))]
				es = append(append(es, withParents(file(p))...), file(p)) // twice: the last copy wins
			case 4:
				es = append(es, withParents(it.Symlink(files[r.Intn(len(files))], "../x"))...)
			default:
				es = append(es, withParents(file(files[r.Intn(len(files))]))...)
			}
		}
		layers = append(layers, es)
	}
	last := &layers[len(layers)-1]
	if r.Intn(2) == 0 {
		*last = append(*last, it.Dir("k/"), it.File("k/t", "target"), it.Hardlink("k/l1", "k/t"))
		if r.Intn(2) == 0 {
			*last = append(*last, it.Hardlink("k/l2", "k/l1")) // a chain
		} else {
			*last = append(*last, it.Hardlink("k/l2", "k/t")) // a star
		}
	}
	return layers
}

// squash applies layers into one, as `FROM scratch` + `COPY --from=0 / /`
// would: a model of the OCI image-spec's whiteout rules written apart from
// the package's (an entry replaces its path and what lies under it unless
// folder over folder; .wh.NAME and .wh..wh..opq hide lower layers only).
func squash(layers [][]it.Entry) []it.Entry {
	type rec struct {
		e     it.Entry
		layer int
	}
	fs := map[string]rec{}
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	for l, es := range layers {
		for _, e := range es {
			name := strings.TrimSuffix(e.Header.Name, "/")
			base, dir := path.Base(name), path.Dir(name)
			switch {
			case base == ".wh..wh..opq":
				for p, x := range fs {
					if x.layer < l && under(p, dir) && p != dir {
						delete(fs, p)
					}
				}
			case strings.HasPrefix(base, ".wh."):
				victim := path.Join(dir, strings.TrimPrefix(base, ".wh."))
				for p, x := range fs {
					if x.layer < l && under(p, victim) {
						delete(fs, p)
					}
				}
			default:
				old, ok := fs[name]
				if !(ok && old.e.Header.Typeflag == tar.TypeDir && e.Header.Typeflag == tar.TypeDir) {
					for p := range fs {
						if under(p, name) {
							delete(fs, p)
						}
					}
				}
				fs[name] = rec{e, l}
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for p := range fs {
			if !yield(p) {
				return
			}
		}
	})
	var out, links []it.Entry
	for _, p := range names {
		if e := fs[p].e; e.Header.Typeflag == tar.TypeLink {
			links = append(links, e)
		} else {
			out = append(out, e)
		}
	}
	return append(out, links...)
}

// TestSquashKeepsSemantic is the property of issue 10: for generated
// images, squashing all layers into one keeps --semantic equal and makes
// strict differ.
func TestSquashKeepsSemantic(t *testing.T) {
	for seed := range int64(60) {
		r := rand.New(rand.NewSource(seed))
		layers := genLayers(r)
		var a it.Image
		for _, es := range layers {
			a.Layers = append(a.Layers, it.Layer{Entries: es})
		}
		b := it.Image{Layers: []it.Layer{{Entries: squash(layers)}}}
		res := diff(t, single(a), single(b))
		if res.Equal || !res.SemanticEqual {
			t.Fatalf("seed %d: equal=%v semanticEqual=%v, want false true\n%s", seed, res.Equal, res.SemanticEqual, dump(res))
		}
	}
}
