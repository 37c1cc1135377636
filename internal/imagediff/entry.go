package imagediff

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// capturedPaths are small files whose content is kept (up to captureLimit)
// so that a content difference can be explained field by field.
var capturedPaths = map[string]bool{"etc/shadow": true, "etc/shadow-": true}

// entryInfo is what is kept of one tar entry: its metadata and the digest
// of its content, never the content (but for capturedPaths).
type entryInfo struct {
	idx      int    // position in the stream
	name     string // canonical: no leading "./" or "/", no trailing "/"
	raw      string // as written
	typ      byte
	mode     int64
	uid, gid int
	uname    string
	gname    string
	mtime    time.Time
	atime    time.Time
	ctime    time.Time
	size     int64
	link     string // canonical for hard links, as written for symlinks
	rawLink  string
	devmajor int64
	devminor int64
	xattrs   map[string]string
	pax      map[string]string // PAX records not reflected in the fields above
	format   tar.Format
	digest   digest.Digest // of the content; "" for entries without data
	sparse   bool          // digest is of the data map and stored bytes
	captured []byte
}

// paxParsed are PAX keys that archive/tar folds into Header fields, which
// are compared as such.
var paxParsed = map[string]bool{
	"path": true, "linkpath": true, "size": true, "uid": true, "gid": true,
	"uname": true, "gname": true, "mtime": true, "atime": true, "ctime": true,
}

func canonName(n string) string {
	for {
		switch {
		case strings.HasPrefix(n, "./"):
			n = n[2:]
		case strings.HasPrefix(n, "/"):
			n = n[1:]
		default:
			return path.Clean(n)
		}
	}
}

// displayPath renders a canonical entry name as an absolute path.
func displayPath(name string) string {
	if name == "." || name == "" {
		return "/"
	}
	return "/" + name
}

func newEntryInfo(idx int, h *tar.Header) *entryInfo {
	e := &entryInfo{
		idx: idx, name: canonName(h.Name), raw: h.Name, typ: h.Typeflag,
		mode: h.Mode, uid: h.Uid, gid: h.Gid, uname: h.Uname, gname: h.Gname,
		mtime: h.ModTime, atime: h.AccessTime, ctime: h.ChangeTime,
		size: h.Size, rawLink: h.Linkname, link: h.Linkname,
		devmajor: h.Devmajor, devminor: h.Devminor, format: h.Format,
	}
	if e.typ == tar.TypeRegA || e.typ == tar.TypeGNUSparse { //nolint:staticcheck // old writers still emit TypeRegA
		e.typ = tar.TypeReg
	}
	if e.typ == tar.TypeLink {
		e.link = canonName(h.Linkname)
	}
	for k, v := range h.PAXRecords {
		switch {
		case strings.HasPrefix(k, "SCHILY.xattr."):
			if e.xattrs == nil {
				e.xattrs = map[string]string{}
			}
			e.xattrs[strings.TrimPrefix(k, "SCHILY.xattr.")] = v
		case paxParsed[k]:
		default:
			if e.pax == nil {
				e.pax = map[string]string{}
			}
			e.pax[k] = v
		}
	}
	return e
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar:
		return "char-device"
	case tar.TypeBlock:
		return "block-device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type %q", t)
}

func fmtMode(m int64) string { return fmt.Sprintf("%04o", m) }

// EntrySummary describes an entry present on one side only.
type EntrySummary struct {
	Type     string        `json:"type"`
	Mode     string        `json:"mode"`
	Size     int64         `json:"size,omitempty"`
	Digest   digest.Digest `json:"digest,omitempty"`
	Linkname string        `json:"linkname,omitempty"`
}

func (s EntrySummary) String() string {
	out := s.Type + " " + s.Mode
	if s.Type == "file" {
		out += " " + fmtSize(s.Size)
	}
	if s.Linkname != "" {
		out += " -> " + s.Linkname
	}
	return out
}

func summarize(e *entryInfo) EntrySummary {
	s := EntrySummary{Type: typeName(e.typ), Mode: fmtMode(e.mode & 07777), Digest: e.digest}
	if e.typ == tar.TypeReg {
		s.Size = e.size
	}
	if e.typ == tar.TypeLink || e.typ == tar.TypeSymlink {
		s.Linkname = e.rawLink
	}
	return s
}
