package imagediff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// configDoc is what the comparison needs from an image config besides the
// generic field-by-field walk.
type configDoc struct {
	raw     map[string]any
	created *time.Time
	diffIDs []digest.Digest
}

func (d *differ) readConfig(ctx context.Context, side int, desc ocispec.Descriptor) (*configDoc, error) {
	b, err := d.readDoc(ctx, side, desc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: image %s: config %s: not a JSON object: %w", ErrInput, sideName(side), desc.Digest, err)
	}
	c := &configDoc{raw: raw}
	if s, ok := raw["created"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			c.created = &t
		}
	}
	if rootfs, ok := raw["rootfs"].(map[string]any); ok {
		if ids, ok := rootfs["diff_ids"].([]any); ok {
			for _, id := range ids {
				s, _ := id.(string)
				c.diffIDs = append(c.diffIDs, digest.Digest(s))
			}
		}
	}
	return c, nil
}

// compareConfigs compares two image configs field by field and returns
// them parsed.
func (d *differ) compareConfigs(ctx context.Context, mb *nodeB, da, db ocispec.Descriptor) ([2]*configDoc, error) {
	var cfgs [2]*configDoc
	for side, desc := range []ocispec.Descriptor{da, db} {
		c, err := d.readConfig(ctx, side, desc)
		if err != nil {
			return cfgs, err
		}
		cfgs[side] = c
	}
	if da.Digest == db.Digest {
		return cfgs, nil
	}
	cb := d.child(mb, LevelConfig, "config", da.Digest, db.Digest)
	before := d.res.Strict.Total()
	samePlatform := platformKey(rawPlatform(cfgs[0].raw)) == platformKey(rawPlatform(cfgs[1].raw))
	walkJSON("", cfgs[0].raw, cfgs[1].raw, func(field string, a, b any) {
		kind, semantic := classifyConfigField(field)
		diff := Difference{Kind: kind, Field: field, A: a, B: b, Semantic: semantic}
		if samePlatform && platformFields[field] {
			diff.Semantic, diff.Note = false, "one platform once normalized as containerd does: "+platformKey(rawPlatform(cfgs[0].raw))
		}
		if kind == KindCreated {
			diff.Note = createdNote(a, b)
		}
		d.add(cb, diff)
	})
	if d.res.Strict.Total() == before {
		d.add(cb, Difference{Kind: KindEncoding, Field: "config", A: da.Digest, B: db.Digest,
			Note: "the configs differ only in encoding (key order, whitespace)"})
	}
	keep(mb, cb)
	return cfgs, nil
}

func createdNote(a, b any) string {
	sa, _ := a.(string)
	sb, _ := b.(string)
	ta, ea := time.Parse(time.RFC3339Nano, sa)
	tb, eb := time.Parse(time.RFC3339Nano, sb)
	if ea != nil || eb != nil {
		return ""
	}
	if tb.Before(ta) {
		return fmt.Sprintf("B is %s earlier", roundDur(ta.Sub(tb)))
	}
	return fmt.Sprintf("B is %s later", roundDur(tb.Sub(ta)))
}

func roundDur(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= time.Second:
		return d.Round(time.Second).String()
	}
	return d.String()
}

// metadataFields are top-level config fields that describe how the image
// was built, not what a container gets.
var metadataFields = map[string]bool{
	"container":                  true,
	"container_config":           true,
	"docker_version":             true,
	"moby.buildkit.buildinfo.v1": true,
	"comment":                    true,
	"parent":                     true,
	"id":                         true,
	"config.Image":               true, // the classic builder's parent image ID
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// classifyConfigField tells what kind a config field is and whether a
// difference in it is semantic.
func classifyConfigField(field string) (Kind, bool) {
	top := field
	if i := strings.IndexAny(top, ".["); i >= 0 {
		top = top[:i]
	}
	switch {
	case field == "created":
		return KindCreated, false
	case top == "history":
		return KindHistory, false
	case strings.HasPrefix(field, "rootfs.diff_ids"):
		// Diff-ids follow from the layers, which are compared entry by entry.
		return KindDiffID, false
	case metadataFields[top], metadataFields[indexRE.ReplaceAllString(field, "")]:
		return KindMetadata, false
	case strings.HasPrefix(field, "moby.buildkit.buildinfo.v1"):
		return KindMetadata, false
	}
	return KindField, true
}

// bracketKeys are the config maps whose keys are data, rendered as
// field[key] rather than field.key.
var bracketKeys = map[string]bool{
	"config.Labels": true, "config.ExposedPorts": true, "config.Volumes": true,
	"container_config.Labels": true, "container_config.ExposedPorts": true, "container_config.Volumes": true,
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func childField(parent, key string) string {
	if parent == "" {
		return key
	}
	if bracketKeys[parent] || !identRE.MatchString(key) {
		return parent + "[" + key + "]"
	}
	return parent + "." + key
}

// walkJSON compares two decoded JSON values and calls emit for each leaf
// that differs. Objects are walked key by key; Env lists as maps of
// variables; arrays of objects (history) element by element; other arrays
// (Cmd, Entrypoint) as whole values; rootfs.diff_ids element by element.
func walkJSON(field string, a, b any, emit func(field string, a, b any)) {
	if jsonEqual(a, b) {
		return
	}
	// A field absent on one side is walked as an empty object or list, so
	// that e.g. a label added where there were none names the label.
	empty := func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if len(x) > 0 {
				return map[string]any{}
			}
		case []any:
			if len(x) > 0 && strings.HasSuffix(field, ".Env") {
				return []any{}
			}
		}
		return nil
	}
	switch {
	case a == nil:
		if e := empty(b); e != nil {
			a = e
		}
	case b == nil:
		if e := empty(a); e != nil {
			b = e
		}
	}
	switch va := a.(type) {
	case map[string]any:
		vb, ok := b.(map[string]any)
		if !ok {
			break
		}
		for _, k := range unionKeys(va, vb) {
			walkJSON(childField(field, k), va[k], vb[k], emit)
		}
		return
	case []any:
		vb, ok := b.([]any)
		if !ok {
			break
		}
		if strings.HasSuffix(field, ".Env") {
			if walkEnv(field, va, vb, emit) {
				return
			}
			break
		}
		if !elementwise(field, va, vb) {
			break
		}
		if len(va) != len(vb) {
			emit(field+".length", len(va), len(vb))
		}
		for i := 0; i < len(va) && i < len(vb); i++ {
			walkJSON(fmt.Sprintf("%s[%d]", field, i), va[i], vb[i], emit)
		}
		for i := len(vb); i < len(va); i++ {
			emit(fmt.Sprintf("%s[%d]", field, i), va[i], nil)
		}
		for i := len(va); i < len(vb); i++ {
			emit(fmt.Sprintf("%s[%d]", field, i), nil, vb[i])
		}
		return
	}
	emit(field, a, b)
}

// elementwise tells whether two arrays are compared element by element.
func elementwise(field string, a, b []any) bool {
	if field == "rootfs.diff_ids" {
		return true
	}
	for _, l := range [][]any{a, b} {
		for _, x := range l {
			if _, ok := x.(map[string]any); !ok {
				return false
			}
		}
	}
	return len(a) > 0 || len(b) > 0
}

// walkEnv compares two Env lists variable by variable. It returns false
// when the variables are equal and only their order or repetition differ,
// leaving the caller to report the lists whole.
func walkEnv(field string, a, b []any, emit func(string, any, any)) bool {
	ma, mb := envMap(a), envMap(b)
	if maps.Equal(ma, mb) {
		return false
	}
	diffStrings(ma, mb, func(k string, va, vb any) { emit(field+"["+k+"]", va, vb) })
	return true
}

func envMap(l []any) map[string]string {
	m := make(map[string]string, len(l))
	for _, x := range l {
		s, _ := x.(string)
		k, v, _ := strings.Cut(s, "=")
		m[k] = v // the last one wins, as in a container
	}
	return m
}

func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(a, b)
}
