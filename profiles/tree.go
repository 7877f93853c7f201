package profiles

import (
	"sort"
	"unicode/utf8"
)

// The TOML and JSON front ends both produce this positioned tree; the schema
// decoder (decode.go) reads only the tree, so both formats are equally
// strict and report positions the same way.

// Limits on input size and shape; they keep a hostile profile from making
// the launcher slow or from exhausting memory before anything is checked.
const (
	// MaxFileSize is the largest profile file accepted (1 MiB).
	MaxFileSize = 1 << 20
	// MaxLineLength is the longest line accepted, in bytes.
	MaxLineLength = 64 << 10
	// MaxListLen is the most entries a single list may hold.
	MaxListLen = 4096
	// MaxDepth is the deepest nesting of tables and lists accepted.
	MaxDepth = 32
)

type kind int

const (
	kString kind = iota
	kInt
	kFloat
	kBool
	kArray
	kTable
)

func (k kind) String() string {
	switch k {
	case kString:
		return "a string"
	case kInt:
		return "an integer"
	case kFloat:
		return "a float"
	case kBool:
		return "a boolean"
	case kArray:
		return "a list"
	default:
		return "a table"
	}
}

// value is one positioned value of the tree.
type value struct {
	kind      kind
	line, col int
	s         string
	i         int64
	f         float64
	b         bool
	arr       []*value
	tbl       *table
	// aot marks an array built by [[header]] tables (appendable).
	aot bool
}

// tableKind records how a table came to exist, for TOML's rules on
// defining a table only once.
type tableKind int

const (
	tImplicit tableKind = iota // created as a parent of a [header]
	tHeader                    // defined by its own [header]
	tDotted                    // created by a dotted key (a.b = 1)
	tInline                    // an inline table {…}; closed
	tRoot
)

// field is one key of a table with the position of the key.
type field struct {
	key       string
	line, col int
	val       *value
}

// table keeps its keys in file order.
type table struct {
	kind   tableKind
	fields []*field
	index  map[string]*field
}

func newTable(k tableKind) *table {
	return &table{kind: k, index: map[string]*field{}}
}

func (t *table) get(k string) *field { return t.index[k] }

func (t *table) add(f *field) {
	t.fields = append(t.fields, f)
	t.index[f.key] = f
}

// lineIndex maps byte offsets to 1-based line and column (in runes).
type lineIndex struct {
	src    []byte
	starts []int
}

func newLineIndex(src []byte) *lineIndex {
	li := &lineIndex{src: src, starts: []int{0}}
	for i, c := range src {
		if c == '\n' {
			li.starts = append(li.starts, i+1)
		}
	}
	return li
}

func (li *lineIndex) pos(off int) (line, col int) {
	if off > len(li.src) {
		off = len(li.src)
	}
	n := sort.Search(len(li.starts), func(i int) bool { return li.starts[i] > off }) - 1
	return n + 1, utf8.RuneCount(li.src[li.starts[n]:off]) + 1
}
