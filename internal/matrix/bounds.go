package matrix

import (
	"context"
	"fmt"

	"gopkg.in/yaml.v3"
)

// measure checks the node tree of a parsed file against the limits before
// anything follows its aliases: how many aliases it holds, how deeply it
// nests and how many nodes it has once every alias is replaced by what it
// stands for. Each node is visited once (the size and height of a node
// reached again through an alias are remembered), so a bomb that expands to
// billions of nodes is measured, and refused, in a time proportional to its
// text. An alias that stands for a node containing it is refused too.
type measure struct {
	ctx    context.Context
	file   string
	limits Limits
	done   map[*yaml.Node]extent
	active map[*yaml.Node]bool // the nodes being measured: a cycle's ancestors
	// aliases counts the alias nodes met; visits counts the visits made,
	// which tests bound to show that the work follows the text, not the
	// expansion.
	aliases, visits int
}

// extent is a node's size (nodes, itself included, aliases expanded; capped
// just above the limit) and height (1 for a scalar).
type extent struct {
	size   int64
	height int
}

// checkBounds measures root (nil for an empty file) against limits.
func checkBounds(ctx context.Context, file string, root *yaml.Node, limits Limits) (*measure, error) {
	m := &measure{ctx: ctx, file: file, limits: limits, done: map[*yaml.Node]extent{}, active: map[*yaml.Node]bool{}}
	if root == nil {
		return m, nil
	}
	_, err := m.visit(root, 1)
	return m, err
}

func (m *measure) limitError(n *yaml.Node, key string, limit int, what string) error {
	return &LimitError{File: m.file, Line: n.Line, Key: key, Limit: int64(limit), What: what}
}

// visit measures n, found at depth (the root is at depth 1).
func (m *measure) visit(n *yaml.Node, depth int) (extent, error) {
	m.visits++
	if m.visits%1024 == 0 && m.ctx.Err() != nil {
		return extent{}, fmt.Errorf("%s: %w", m.file, context.Cause(m.ctx))
	}
	if e, ok := m.done[n]; ok {
		if depth+e.height-1 > m.limits.Depth {
			return e, m.limitError(n, "depth", m.limits.Depth, fmt.Sprintf("collections nest more than %d deep here, aliases expanded", m.limits.Depth))
		}
		return e, nil
	}
	if depth > m.limits.Depth {
		return extent{}, m.limitError(n, "depth", m.limits.Depth, fmt.Sprintf("collections nest more than %d deep here, aliases expanded", m.limits.Depth))
	}
	var e extent
	switch {
	case n.Kind == yaml.AliasNode:
		m.aliases++
		if m.aliases > m.limits.Aliases {
			return e, m.limitError(n, "aliases", m.limits.Aliases, fmt.Sprintf("the file holds more than %d aliases (*name)", m.limits.Aliases))
		}
		if n.Alias == nil {
			return extent{1, 1}, nil
		}
		if m.active[n.Alias] {
			return e, &SyntaxError{File: m.file, Line: n.Line, Msg: fmt.Sprintf("the alias *%s stands for a node that contains it (&%[1]s, line %d): YAML that refers to itself has no end", cut(n.Value), n.Alias.Line)}
		}
		var err error
		if e, err = m.visit(n.Alias, depth); err != nil {
			return e, err
		}
	default:
		m.active[n] = true
		e = extent{size: 1, height: 1}
		for _, c := range n.Content {
			ce, err := m.visit(c, depth+1)
			if err != nil {
				return e, err
			}
			e.size = min(e.size+ce.size, int64(m.limits.Nodes)+1)
			e.height = max(e.height, ce.height+1)
		}
		delete(m.active, n)
	}
	if e.size > int64(m.limits.Nodes) {
		return e, m.limitError(n, "nodes", m.limits.Nodes,
			fmt.Sprintf("the %s here holds more than %d YAML nodes once its aliases are expanded", kindName(n), m.limits.Nodes))
	}
	m.done[n] = e
	return e, nil
}

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
