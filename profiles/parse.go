package profiles

import (
	"bytes"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse parses one profile file without resolving `extends`. file names the
// source in errors and selects the format: a name ending in ".json" is
// JSON, anything else TOML. Parse is strict: unknown keys, wrong types,
// duplicate keys or tables, a missing or unsupported version, an empty or
// comment-only file, invalid UTF-8, a byte-order mark, NUL or other control
// bytes outside strings, a file over MaxFileSize, a line over
// MaxLineLength, a list over MaxListLen entries and nesting over MaxDepth
// are all refused with an *Error carrying file, line, column and key path.
// It does not run Validate. On success Profile.Pos holds the position of
// every key and list element; Name is the file's base name without its
// extension and Source is file.
func Parse(file string, data []byte) (*Profile, error) {
	if err := checkEncoding(file, data); err != nil {
		return nil, err
	}
	var (
		root *table
		err  error
	)
	if strings.HasSuffix(file, ".json") {
		root, err = parseJSON(file, data)
	} else {
		root, err = parseTOML(file, data)
	}
	if err != nil {
		return nil, err
	}
	if len(root.fields) == 0 {
		return nil, &Error{File: file, Msg: "empty profile (no keys)", Hint: "a profile starts with: version = " + strconv.Itoa(Version)}
	}
	d := &decoder{file: file, pos: map[string]Pos{}}
	p := &Profile{Source: file, Chain: []string{file}, Pos: d.pos}
	p.Name = strings.TrimSuffix(strings.TrimSuffix(path.Base(file), ".toml"), ".json")
	if err := d.decodeProfile(root, p); err != nil {
		return nil, err
	}
	if _, ok := p.Pos["version"]; !ok {
		return nil, &Error{File: file, Line: 1, Col: 1, Key: "version", Msg: "missing version (this nixbox supports version " + strconv.Itoa(Version) + ")", Hint: "add as the first line: version = " + strconv.Itoa(Version)}
	}
	return p, nil
}

// checkEncoding refuses input that could be shown differently from how it
// is parsed (CVE-2021-43860): invalid UTF-8, a BOM, NUL. It also caps the
// file size and line length so a hostile file cannot stall the launcher.
func checkEncoding(file string, data []byte) error {
	if len(data) > MaxFileSize {
		return &Error{File: file, Msg: "file too large (" + strconv.Itoa(len(data)) + " bytes; the limit is " + strconv.Itoa(MaxFileSize) + ")"}
	}
	li := newLineIndex(data)
	at := func(off int, msg string) error {
		line, col := li.pos(off)
		return &Error{File: file, Line: line, Col: col, Msg: msg}
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return at(0, "byte-order mark at start of file (save the file as UTF-8 without BOM)")
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return at(i, "NUL byte in file")
	}
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				return at(i, "invalid UTF-8")
			}
			i += n
		}
	}
	for n, start := range li.starts {
		end := len(data)
		if n+1 < len(li.starts) {
			end = li.starts[n+1]
		}
		if end-start > MaxLineLength {
			return &Error{File: file, Line: n + 1, Msg: "line too long (the limit is " + strconv.Itoa(MaxLineLength) + " bytes)"}
		}
	}
	return nil
}
