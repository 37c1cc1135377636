package matrix

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// walker checks a node tree against the schema (the yaml tags of Matrix and
// the types under it) before it is decoded; see decode.
type walker struct{ p *problems }

// walk checks n against type t at path, recording the line of every path.
// It reports what does not fit and returns false when n itself must be
// dropped; entries inside n that do not fit are removed from n.
func (w walker) walk(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := w.p.lines[path]; !ok && path != "" {
		w.p.lines[path] = n.Line
	}
	if isNull(n) {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.p.markBroken(path, n.Line, "want a mapping, got %s", describe(n))
			return false
		}
		fields := yamlFields(t)
		w.mapping(n, path, func(key string) (reflect.Type, bool) {
			ft, ok := fields[key]
			return ft, ok
		}, func(key string) string {
			return fmt.Sprintf("unknown field %q (known: %s)", key, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.p.markBroken(path, n.Line, "want a mapping, got %s", describe(n))
			return false
		}
		w.mapping(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true }, nil)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.p.markBroken(path, n.Line, "want a list, got %s", describe(n))
			return false
		}
		for i, item := range n.Content {
			if !w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)) {
				n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: item.Line}
			}
		}
	default:
		return w.scalar(n, t, path)
	}
	return true
}

// scalar checks a scalar value of type t. Integers are read as the YAML
// 1.2 core schema reads them (see coreInt), never truncated: yaml.v3 alone
// would turn 1.5 into 1 and 012 into 10.
func (w walker) scalar(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind != yaml.ScalarNode {
		w.p.markBroken(path, n.Line, "want %s, got %s", describeType(t), describe(n))
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v, msg := coreInt(n, t)
		if msg != "" {
			w.p.markBroken(path, n.Line, "%s", msg)
			return false
		}
		// What yaml.v3 decodes next is exactly the value read here.
		n.Tag, n.Value, n.Style = "!!int", v, 0
		return true
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		w.p.markBroken(path, n.Line, "want %s, got %s", describeType(t), describe(n))
		return false
	}
	return true
}

// coreIntRE is the YAML 1.2 core schema's integer
// (https://yaml.org/spec/1.2.2/#1032-tag-resolution): decimal with an
// optional sign, 0o octal or 0x hexadecimal.
var coreIntRE = regexp.MustCompile(`^(?:([-+]?)([0-9]+)|0o([0-7]+)|0x([0-9a-fA-F]+))$`)

// coreInt reads scalar n as an integer of type t, as the YAML 1.2 core
// schema resolves it: a plain scalar (or one tagged !!int) written
// 1735689600, -3, +3, 0o17 or 0x1F. It returns the value in decimal, or
// why n is not such an integer:
//   - a number with a fraction or an exponent (1.5, 1e9, .inf) is a float,
//     never truncated: "want an integer, got the number 1.5";
//   - a quoted number ("12") is a string;
//   - YAML 1.1's forms (1_000, 0b101, 012 as octal, 1:30 as sexagesimal),
//     which yaml.v3 partly accepts, are refused, and so is a decimal with a
//     leading zero, which YAML 1.1 readers take as octal and YAML 1.2
//     readers as decimal;
//   - a value out of the range of t is refused, not wrapped.
func coreInt(n *yaml.Node, t reflect.Type) (string, string) {
	tag := n.ShortTag()
	sub := coreIntRE.FindStringSubmatch(n.Value)
	if sub != nil && n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		// A plain integer, whatever yaml.v3 made of it: too large for 64
		// bits, it is a float or a string to yaml.v3.
		tag = "!!int"
	}
	switch {
	case tag == "!!float":
		return "", "want an integer, got " + describe(n) + ": nothing is rounded"
	case tag != "!!int":
		hint := ""
		if tag == "!!str" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && sub != nil {
			hint = " (quoted, so a string: remove the quotes)"
		}
		return "", "want an integer, got " + describe(n) + hint
	case sub == nil:
		return "", fmt.Sprintf("want an integer, got %s: write it in decimal, 0o octal or 0x hex, as YAML 1.2 does (no _, 0b or :)", cut(n.Value))
	case len(sub[2]) > 1 && sub[2][0] == '0':
		return "", leadingZero(n.Value, sub[1], sub[2])
	}
	digits, base := sub[1]+sub[2], 10
	switch {
	case sub[3] != "":
		digits, base = sub[3], 8
	case sub[4] != "":
		digits, base = sub[4], 16
	}
	var lo, hi string
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if u, err := strconv.ParseUint(strings.TrimPrefix(digits, "+"), base, t.Bits()); err == nil {
			return strconv.FormatUint(u, 10), ""
		}
		lo, hi = "0", strconv.FormatUint(1<<t.Bits()-1, 10)
	default:
		if v, err := strconv.ParseInt(digits, base, t.Bits()); err == nil {
			return strconv.FormatInt(v, 10), ""
		}
		lo, hi = strconv.FormatInt(-1<<(t.Bits()-1), 10), strconv.FormatInt(1<<(t.Bits()-1)-1, 10)
	}
	return "", fmt.Sprintf("%s is out of range: want an integer from %s to %s", cut(n.Value), lo, hi)
}

// leadingZero explains why a decimal with a leading zero is refused, and
// what to write instead.
func leadingZero(value, sign, digits string) string {
	decimal := strings.TrimLeft(digits, "0")
	if decimal == "" {
		decimal = "0"
	}
	hint := "write " + sign + decimal
	if sign == "" && decimal != "0" && strings.Trim(digits, "01234567") == "" {
		hint += ", or 0o" + digits[1:] + " if octal is meant"
	}
	return fmt.Sprintf("want an integer, got %s: a leading zero is octal to YAML 1.1 readers and decimal to YAML 1.2 ones; %s", cut(value), hint)
}

// mapping walks the entries of the mapping n at path. field gives the type
// of a key's value, or false for an unknown key (unknown then says why).
// Duplicate keys, unknown keys and values that do not fit are removed, and
// so are merge keys (<<) whose value cannot be merged.
func (w walker) mapping(n *yaml.Node, path string, field func(string) (reflect.Type, bool), unknown func(string) string) {
	seen := map[string]int{}
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			// "<<: *anchor": the merged mappings' keys belong to this mapping.
			sources, ok := mergeSources(v)
			if !ok {
				w.p.addLine(joinPath(path, "<<"), k.Line, "a merge key (<<) takes a mapping, an alias of one (*name) or a list of them (https://yaml.org/type/merge.html), got %s", describeAlias(v))
				// What it was meant to merge is unknown: a field that looks
				// missing may be in it.
				w.p.broken = append(w.p.broken, path)
				continue
			}
			for _, src := range sources {
				w.mapping(src, path, field, unknown)
			}
			kept = append(kept, k, v)
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			w.p.addLine(path, k.Line, "a key must be a plain value, got %s", describe(k))
			continue
		}
		fp := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.p.addLine(fp, k.Line, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := field(k.Value)
		if !ok {
			w.p.addLine(fp, k.Line, "%s", unknown(k.Value))
			continue
		}
		w.p.lines[fp] = k.Line
		if !w.walk(v, ft, fp) {
			continue
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

// isMerge reports whether k is a merge key, as yaml.v3 decides it: a plain
// << (or one tagged !!merge).
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

// mergeSources lists the mappings a merge key's value v merges, or false
// when v is not what yaml.v3 can merge: a mapping, an alias of one, or a
// list (not an alias of a list) of mappings and aliases of mappings.
func mergeSources(v *yaml.Node) ([]*yaml.Node, bool) {
	mapping := func(n *yaml.Node) (*yaml.Node, bool) {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		return n, n.Kind == yaml.MappingNode
	}
	if v.Kind != yaml.SequenceNode {
		m, ok := mapping(v)
		return []*yaml.Node{m}, ok
	}
	out := make([]*yaml.Node, 0, len(v.Content))
	for _, c := range v.Content {
		if c.Kind == yaml.SequenceNode {
			return nil, false
		}
		m, ok := mapping(c)
		if !ok {
			return nil, false
		}
		out = append(out, m)
	}
	return out, true
}

// yamlFields maps the yaml keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node holds, for messages: "a list", "the string "x"".
func describe(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "the number " + cut(n.Value)
		case "!!bool":
			return "the boolean " + n.Value
		}
		return fmt.Sprintf("the string %q", n.Value)
	}
	return "a YAML " + n.Tag
}

// describeAlias is describe, naming the alias when n is one.
func describeAlias(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode {
		return fmt.Sprintf("*%s, which stands for %s", n.Value, describe(n))
	}
	return describe(n)
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
