package imagediff

import (
	"archive/tar"
	"maps"
	"path"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Whiteout names, from the OCI image-spec (layer.md, "Whiteouts"): an entry
// ".wh.NAME" deletes NAME of the lower layers, and ".wh..wh..opq" in a
// folder hides every lower-layer entry of that folder. Other names that
// start with ".wh..wh." are reserved (aufs bookkeeping) and never appear in
// a filesystem.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// isWhiteout tells whether a canonical entry name is a whiteout or another
// reserved .wh. name: an entry that is in no container's filesystem.
func isWhiteout(name string) bool { return strings.HasPrefix(path.Base(name), whiteoutPrefix) }

// fsInode is what a container sees of one file: its metadata and the digest
// of its content, never the content. Hard links share one fsInode.
type fsInode struct {
	typ      byte
	mode     int64 // permission, setuid/setgid and sticky bits
	uid, gid int
	mtime    time.Time
	size     int64
	digest   digest.Digest
	link     string // a symlink's target, or a dangling hard link's
	devmajor int64
	devminor int64
	xattrs   map[string]string
	sparse   bool
	captured []byte // capturedPaths' content, to explain a difference
	implicit bool   // a parent folder no entry listed, made as runtimes make it
	nlink    int    // paths that share it
}

// fsNode is one path of the tree: its inode, the layer that last wrote it,
// and for a folder its children by name.
type fsNode struct {
	ino      *fsInode
	layer    int
	children map[string]*fsNode
}

// fsTree is the filesystem a container gets from an image: its layers'
// tar entries applied in order, by the rules of the OCI image-spec's
// layer.md ("Applying Changesets", "Whiteouts"), which container runtimes
// follow: an entry replaces what was at its path (a folder over a folder
// keeps its children and takes the new metadata), whiteouts and opaque
// markers delete what lower layers wrote and nothing of their own layer, a
// hard link shares its target's inode, a path listed twice in one layer
// keeps its last copy. A parent no entry lists is made as runtimes make it
// (0755, root). Memory is one fsNode per path, bounded by maxFSPaths;
// contents are only ever hashed, never kept (but capturedPaths').
type fsTree struct {
	root  *fsNode
	layer int // the layer being applied
	paths int
	// pending are this layer's hard links whose target was not there yet.
	pending []*fsNode
}

func newFSTree() *fsTree {
	return &fsTree{root: &fsNode{ino: implicitDir(), children: map[string]*fsNode{}}}
}

// apply applies one tar entry of the current layer.
func (t *fsTree) apply(e *entryInfo) {
	if e.name == "." || e.name == "" {
		if e.typ == tar.TypeDir {
			t.root.ino, t.root.layer = inodeOf(e), t.layer
		}
		return
	}
	dir, base := path.Split(e.name)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, whiteoutPrefix) {
		t.whiteout(dir, base)
		return
	}
	parent := t.folder(dir)
	old := parent.children[base]
	if e.typ == tar.TypeDir && old != nil && old.children != nil {
		old.ino.nlink--
		old.ino, old.layer = inodeOf(e), t.layer
		return
	}
	if old != nil {
		t.remove(parent, base)
	}
	n := &fsNode{ino: inodeOf(e), layer: t.layer}
	if e.typ == tar.TypeDir {
		n.children = map[string]*fsNode{}
	}
	parent.children[base] = n
	t.paths++
	if e.typ == tar.TypeLink {
		n.ino = &fsInode{typ: tar.TypeLink, link: e.link, nlink: 1}
		if !t.link(n) {
			t.pending = append(t.pending, n)
		}
	}
}

// link makes hard-link node n share its target's inode, if the target is
// there (a file, not a folder, and not itself a link still unresolved).
func (t *fsTree) link(n *fsNode) bool {
	target := t.lookup(n.ino.link)
	if target == nil || target.children != nil || target == n || target.ino.typ == tar.TypeLink {
		return false
	}
	n.ino.nlink--
	n.ino = target.ino
	n.ino.nlink++
	return true
}

// endLayer resolves the hard links of the layer whose target came later in
// its stream (tar order is no part of the filesystem), chains included,
// skipping those a later entry of the layer replaced. A link whose target
// never comes stays a dangling link.
func (t *fsTree) endLayer() {
	for progress := true; progress && len(t.pending) > 0; {
		progress = false
		left := t.pending[:0]
		for _, n := range t.pending {
			switch {
			case n.ino.typ != tar.TypeLink || n.ino.nlink == 0:
				// Replaced or removed since.
			case t.link(n):
				progress = true
			default:
				left = append(left, n)
			}
		}
		t.pending = left
	}
	t.pending = t.pending[:0]
}

// whiteout applies a whiteout entry base of folder dir: it never makes a
// folder, and touches only what lower layers wrote.
func (t *fsTree) whiteout(dir, base string) {
	parent := t.lookup(dir)
	if parent == nil || parent.children == nil {
		return
	}
	switch {
	case base == whiteoutOpaque:
		t.hideLower(parent)
		return
	case strings.HasPrefix(base, whiteoutMeta):
		return
	}
	// A folder this layer wrote again keeps that, and loses what lower
	// layers put inside it (the spec's whiteout-then-recreate).
	t.hide(parent, strings.TrimPrefix(base, whiteoutPrefix))
}

// inodeOf is the inode a tar entry makes.
func inodeOf(e *entryInfo) *fsInode {
	ino := &fsInode{typ: e.typ, mode: e.mode & 07777, uid: e.uid, gid: e.gid, mtime: e.mtime,
		digest: e.digest, devmajor: e.devmajor, devminor: e.devminor, sparse: e.sparse, captured: e.captured, nlink: 1}
	if len(e.xattrs) > 0 {
		ino.xattrs = maps.Clone(e.xattrs)
	}
	switch e.typ {
	case tar.TypeReg:
		ino.size = e.size
	case tar.TypeSymlink:
		ino.link = e.rawLink
	}
	return ino
}

// folder returns the folder at name, making the missing ones (and replacing
// a non-folder in the way) as a runtime does when it unpacks a layer that
// does not list a parent: mode 0755, owned by root.
func (t *fsTree) folder(name string) *fsNode {
	n := t.root
	if name == "" || name == "." {
		return n
	}
	for _, part := range strings.Split(name, "/") {
		c := n.children[part]
		if c == nil || c.children == nil {
			if c != nil {
				t.remove(n, part)
			}
			c = &fsNode{ino: implicitDir(), layer: t.layer, children: map[string]*fsNode{}}
			n.children[part] = c
			t.paths++
		}
		n = c
	}
	return n
}

// lookup returns the node at a canonical name, or nil.
func (t *fsTree) lookup(name string) *fsNode {
	n := t.root
	if name == "" || name == "." {
		return n
	}
	for _, part := range strings.Split(name, "/") {
		if n = n.children[part]; n == nil {
			return nil
		}
	}
	return n
}

// hideLower hides from folder dir everything lower layers wrote, keeping
// what the current layer wrote (whiteouts and opaque markers hide lower
// layers only, layer.md).
func (t *fsTree) hideLower(dir *fsNode) {
	for name := range dir.children {
		t.hide(dir, name)
	}
}

// hide hides child name of dir as a whiteout does: all of it that lower
// layers wrote. A lower folder that still holds entries of the current layer
// stays as a bare folder, made as for a missing parent.
func (t *fsTree) hide(dir *fsNode, name string) {
	c := dir.children[name]
	if c == nil {
		return
	}
	if c.children != nil {
		t.hideLower(c)
	}
	switch {
	case c.layer == t.layer:
	case len(c.children) == 0:
		t.remove(dir, name)
	default:
		c.ino.nlink--
		c.ino, c.layer = implicitDir(), t.layer
	}
}

func implicitDir() *fsInode {
	return &fsInode{typ: tar.TypeDir, mode: 0o755, implicit: true, nlink: 1}
}

// remove deletes a child and everything under it.
func (t *fsTree) remove(dir *fsNode, name string) {
	var drop func(n *fsNode)
	drop = func(n *fsNode) {
		n.ino.nlink--
		t.paths--
		for _, c := range n.children {
			drop(c)
		}
	}
	if c := dir.children[name]; c != nil {
		drop(c)
		delete(dir.children, name)
	}
}
